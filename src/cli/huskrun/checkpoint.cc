// huskrun checkpoint: not supported (no CRIU integration). runc's flags are accepted so that
// callers get this message rather than a flag error.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"image-path", "", FlagType::kString, "path for saving criu image files"},
    {"work-path", "", FlagType::kString, "path for saving work files and logs"},
    {"parent-path", "", FlagType::kString, "path for previous criu image files in pre-dump"},
    {"leave-running", "", FlagType::kBool, "leave the process running after checkpointing"},
    {"tcp-established", "", FlagType::kBool, "allow open tcp connections"},
    {"ext-unix-sk", "", FlagType::kBool, "allow external unix sockets"},
    {"shell-job", "", FlagType::kBool, "allow shell jobs"},
    {"lazy-pages", "", FlagType::kBool, "use userfaultfd to lazily restore memory pages"},
    {"status-fd", "", FlagType::kInt, "criu writes \\0 to this FD once lazy-pages is ready"},
    {"page-server", "", FlagType::kString, "ADDRESS:PORT of the page server"},
    {"file-locks", "", FlagType::kBool, "handle file locks, for safety"},
    {"pre-dump", "", FlagType::kBool, "dump container's memory information only"},
    {"manage-cgroups-mode", "", FlagType::kString, "cgroups mode: 'soft', 'full' and 'strict'"},
    {"empty-ns", "", FlagType::kList, "create a namespace, but don't restore its properties"},
    {"auto-dedup", "", FlagType::kBool, "enable auto deduplication of memory images"},
};

Result<int> RunCheckpoint(const Invocation&) {
  return Err("checkpoint is not supported by huskrun (no CRIU support)");
}

}  // namespace

const Command& CheckpointCommand() {
  static constexpr Command kCommand{
      .name = "checkpoint",
      .summary = "checkpoint a running container (not supported)",
      .args_usage = "<container-id>",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunCheckpoint,
  };
  return kCommand;
}

}  // namespace husk::cli
