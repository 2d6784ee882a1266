// huskrun pause: freeze every process of the container.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

Result<int> RunPause(const Invocation& inv) {
  TRY(runtime::Pause(inv.global, inv.flags.args[0]));
  return 0;
}

}  // namespace

const Command& PauseCommand() {
  static constexpr Command kCommand{
      .name = "pause",
      .summary = "pause suspends all processes inside the container",
      .args_usage = R"(<container-id>

Where "<container-id>" is the name for the instance of the container to be
paused. )",
      .description = R"(The pause command suspends all processes in the instance of the container.

Use huskrun list to identify instances of containers and their current status.)",
      .min_args = 1,
      .max_args = 1,
      .run = RunPause,
  };
  return kCommand;
}

}  // namespace husk::cli
