// huskrun state: print the runtime-spec state of a container.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

Result<int> RunState(const Invocation& inv) {
  std::string json = TRY(runtime::StateJson(inv.global, inv.flags.args[0]));
  // runc writes json.MarshalIndent(state, "", "  ") with no newline after it.
  TRY(Print(IndentJson(json, "  ")));
  return 0;
}

}  // namespace

const Command& StateCommand() {
  static constexpr Command kCommand{
      .name = "state",
      .summary = "output the state of a container",
      .args_usage = R"(<container-id>

Where "<container-id>" is the name for the instance of the container.)",
      .description = R"(The state command outputs current state information for the
instance of a container.)",
      .min_args = 1,
      .max_args = 1,
      .run = RunState,
  };
  return kCommand;
}

}  // namespace husk::cli
