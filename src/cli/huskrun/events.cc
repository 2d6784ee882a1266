// huskrun events: stream stats (and OOM) events of a container as JSON lines.
#include <climits>

#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"interval", "", FlagType::kDuration, "set the stats collection interval", "5s"},
    {"stats", "", FlagType::kBool, "display the container's stats then exit"},
};

Result<int> RunEvents(const Invocation& inv) {
  int64_t ns = TRY(ParseGoDuration(inv.flags.Get("interval", "5s")));
  if (ns <= 0) return Err("duration interval must be greater than 0");
  // Round up so that sub-millisecond intervals do not become a busy loop of 0 ms.
  int64_t ms = (ns + 999999) / 1000000;
  int interval_ms = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  TRY(runtime::Events(inv.global, inv.flags.args[0], inv.flags.Bool("stats"), interval_ms));
  return 0;
}

}  // namespace

const Command& EventsCommand() {
  static constexpr Command kCommand{
      .name = "events",
      .summary =
          "display container events such as OOM notifications, cpu, memory, and IO usage "
          "statistics",
      .args_usage = R"(<container-id>

Where "<container-id>" is the name for the instance of the container.)",
      .description = R"(The events command displays information about the container. By default the
information is displayed once every 5 seconds.)",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunEvents,
  };
  return kCommand;
}

}  // namespace husk::cli
