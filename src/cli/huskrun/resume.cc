// huskrun resume: thaw a paused container.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

Result<int> RunResume(const Invocation& inv) {
  TRY(runtime::Resume(inv.global, inv.flags.args[0]));
  return 0;
}

}  // namespace

const Command& ResumeCommand() {
  static constexpr Command kCommand{
      .name = "resume",
      .summary = "resumes all processes that have been previously paused",
      .args_usage = R"(<container-id>

Where "<container-id>" is the name for the instance of the container to be
resumed.)",
      .description = R"(The resume command resumes all processes in the instance of the container.

Use huskrun list to identify instances of containers and their current status.)",
      .min_args = 1,
      .max_args = 1,
      .run = RunResume,
  };
  return kCommand;
}

}  // namespace husk::cli
