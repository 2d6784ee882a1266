// huskrun delete: remove a stopped container (--force: kill it first).
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"force", "f", FlagType::kBool,
     "Forcibly deletes the container if it is still running (uses SIGKILL)"},
};

Result<int> RunDelete(const Invocation& inv) {
  TRY(runtime::Delete(inv.global, inv.flags.args[0], inv.flags.Bool("force")));
  return 0;
}

}  // namespace

const Command& DeleteCommand() {
  static constexpr Command kCommand{
      .name = "delete",
      .summary = "delete any resources held by the container often used with detached container",
      .args_usage = R"(<container-id>

Where "<container-id>" is the name for the instance of the container.

EXAMPLE:
For example, if the container id is "ubuntu01" and huskrun list currently shows the
status of "ubuntu01" as "stopped" the following will delete resources held for
"ubuntu01" removing "ubuntu01" from the huskrun list of containers:

       # huskrun delete ubuntu01)",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunDelete,
  };
  return kCommand;
}

}  // namespace husk::cli
