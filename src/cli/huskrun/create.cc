// huskrun create: set up a container and stop before its user process (runc create).
#include <climits>
#include <cstdlib>

#include "base/fs.h"
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"bundle", "b", FlagType::kString,
     "path to the root of the bundle directory, defaults to the current directory"},
    {"console-socket", "", FlagType::kString,
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master "
     "end of the console's pseudoterminal"},
    {"pid-file", "", FlagType::kString, "specify the file to write the process id to"},
    {"no-pivot", "", FlagType::kBool,
     "do not use pivot root to jail process inside rootfs.  This should be used whenever the "
     "rootfs is on top of a ramdisk"},
    {"no-new-keyring", "", FlagType::kBool,
     "do not create a new session keyring for the container.  This will cause the container to "
     "inherit the calling processes session key"},
    {"preserve-fds", "", FlagType::kInt,
     "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "0"},
};

Result<int> RunCreate(const Invocation& inv) {
  runtime::CreateOptions o = TRY(CreateOptionsFromFlags(inv.flags));
  TRY(runtime::Create(inv.global, o));
  return 0;
}

}  // namespace

Result<runtime::CreateOptions> CreateOptionsFromFlags(const ParsedFlags& f) {
  runtime::CreateOptions o;
  if (!f.args.empty()) o.id = f.args[0];
  if (std::string b = f.Get("bundle"); !b.empty()) {
    // runc chdirs into the bundle and records getcwd(), i.e. the path with symlinks
    // resolved; a missing bundle is left for create to report.
    char* real = ::realpath(b.c_str(), nullptr);
    o.bundle = real ? std::string(real) : fs::Absolute(b);
    std::free(real);
  }
  // Relative to where huskrun was started, as runc's revisePidFile makes them.
  if (std::string p = f.Get("pid-file"); !p.empty()) o.pid_file = fs::Absolute(p);
  if (std::string s = f.Get("console-socket"); !s.empty()) o.console_socket = fs::Absolute(s);
  o.no_pivot = f.Bool("no-pivot");
  o.no_new_keyring = f.Bool("no-new-keyring");
  int64_t n = f.Int("preserve-fds");
  if (n < 0 || n > INT_MAX - 3)
    return Err("--preserve-fds {}: must be between 0 and {}", n, INT_MAX - 3);
  o.preserve_fds = static_cast<int>(n);
  o.detach = f.Bool("detach");
  o.keep = f.Bool("keep");
  return o;
}

const Command& CreateCommand() {
  static constexpr Command kCommand{
      .name = "create",
      .summary = "create a container",
      .args_usage = R"(<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.)",
      .description =
          R"(The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem.)",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunCreate,
  };
  return kCommand;
}

}  // namespace husk::cli
