// huskrun run: create and start a container; in the foreground, exit with its status.
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"bundle", "b", FlagType::kString,
     "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", "", FlagType::kString,
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master "
     "end of the console's pseudoterminal"},
    {"detach", "d", FlagType::kBool, "detach from the container's process"},
    {"keep", "", FlagType::kBool, "do not delete the container after it exits"},
    {"pid-file", "", FlagType::kString, "specify the file to write the process id to"},
    // huskrun always reaps through its own child handling; accepted for runc scripts.
    {"no-subreaper", "", FlagType::kBool,
     "disable the use of the subreaper used to reap reparented processes"},
    {"no-pivot", "", FlagType::kBool,
     "do not use pivot root to jail process inside rootfs.  This should be used whenever the "
     "rootfs is on top of a ramdisk"},
    {"no-new-keyring", "", FlagType::kBool,
     "do not create a new session keyring for the container.  This will cause the container to "
     "inherit the calling processes session key"},
    {"preserve-fds", "", FlagType::kInt,
     "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "0"},
};

Result<int> RunRun(const Invocation& inv) {
  runtime::CreateOptions o = TRY(CreateOptionsFromFlags(inv.flags));
  return runtime::Run(inv.global, o);
}

}  // namespace

const Command& RunCommand() {
  static constexpr Command kCommand{
      .name = "run",
      .summary = "create and run a container",
      .args_usage = R"(<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.)",
      .description = R"(The run command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem.)",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunRun,
  };
  return kCommand;
}

}  // namespace husk::cli
