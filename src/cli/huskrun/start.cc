// huskrun start: let a created container's user process run.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

Result<int> RunStart(const Invocation& inv) {
  TRY(runtime::Start(inv.global, inv.flags.args[0]));
  return 0;
}

}  // namespace

const Command& StartCommand() {
  static constexpr Command kCommand{
      .name = "start",
      .summary = "executes the user defined process in a created container",
      .args_usage = R"(<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.)",
      .description = "The start command executes the user defined process in a created container.",
      .min_args = 1,
      .max_args = 1,
      .run = RunStart,
  };
  return kCommand;
}

}  // namespace husk::cli
