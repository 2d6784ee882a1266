// huskrun restore: not supported (no CRIU integration). runc's flags are accepted so that
// callers get this message rather than a flag error.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"console-socket", "", FlagType::kString, "path to an AF_UNIX socket for the console"},
    {"image-path", "", FlagType::kString, "path to criu image files for restoring"},
    {"work-path", "", FlagType::kString, "path for saving work files and logs"},
    {"tcp-established", "", FlagType::kBool, "allow open tcp connections"},
    {"ext-unix-sk", "", FlagType::kBool, "allow external unix sockets"},
    {"shell-job", "", FlagType::kBool, "allow shell jobs"},
    {"file-locks", "", FlagType::kBool, "handle file locks, for safety"},
    {"manage-cgroups-mode", "", FlagType::kString, "cgroups mode: 'soft', 'full' and 'strict'"},
    {"bundle", "b", FlagType::kString, "path to the root of the bundle directory"},
    {"detach", "d", FlagType::kBool, "detach from the container's process"},
    {"pid-file", "", FlagType::kString, "specify the file to write the process id to"},
    {"no-subreaper", "", FlagType::kBool, "disable the use of the subreaper"},
    {"no-pivot", "", FlagType::kBool, "do not use pivot root to jail process inside rootfs"},
    {"empty-ns", "", FlagType::kList, "create a namespace, but don't restore its properties"},
    {"auto-dedup", "", FlagType::kBool, "enable auto deduplication of memory images"},
    {"lazy-pages", "", FlagType::kBool, "use userfaultfd to lazily restore memory pages"},
    {"lsm-profile", "", FlagType::kString, "LSM profile to be used during restore"},
    {"lsm-mount-context", "", FlagType::kString, "LSM mount context to be used during restore"},
};

Result<int> RunRestore(const Invocation&) {
  return Err("restore is not supported by huskrun (no CRIU support)");
}

}  // namespace

const Command& RestoreCommand() {
  static constexpr Command kCommand{
      .name = "restore",
      .summary = "restore a container from a previous checkpoint (not supported)",
      .args_usage = "<container-id>",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunRestore,
  };
  return kCommand;
}

}  // namespace husk::cli
