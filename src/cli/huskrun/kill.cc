// huskrun kill: send a signal to the container's init (or, with --all, every process).
#include "cli/huskrun/cli.h"
#include "sys/signals.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"all", "a", FlagType::kBool,
     "send the specified signal to all processes inside the container"},
};

Result<int> RunKill(const Invocation& inv) {
  const auto& args = inv.flags.args;
  std::string_view name = args.size() > 1 ? std::string_view(args[1]) : "SIGTERM";
  int signal = TRY(sys::ParseSignal(name));
  TRY(runtime::Kill(inv.global, args[0], signal, inv.flags.Bool("all")));
  return 0;
}

}  // namespace

const Command& KillCommand() {
  static constexpr Command kCommand{
      .name = "kill",
      .summary =
          "kill sends the specified signal (default: SIGTERM) to the container's init process",
      .args_usage = R"(<container-id> [signal]

Where "<container-id>" is the name for the instance of the container and
"[signal]" is the signal to be sent to the init process.

EXAMPLE:
For example, if the container id is "ubuntu01" the following will send a "KILL"
signal to the init process of the "ubuntu01" container:

       # huskrun kill ubuntu01 KILL)",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 2,
      .run = RunKill,
  };
  return kCommand;
}

}  // namespace husk::cli
