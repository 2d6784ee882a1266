// huskrun exec: run another process in a running container. Everything after the container ID
// is the command, dashes included (runc exec c1 ls -la).
#include <climits>

#include "base/fs.h"
#include "base/strings.h"
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"console-socket", "", FlagType::kString,
     "path to an AF_UNIX socket which will receive a file descriptor referencing the master "
     "end of the console's pseudoterminal"},
    {"cwd", "", FlagType::kString, "current working directory in the container"},
    {"env", "e", FlagType::kList, "set environment variables"},
    {"tty", "t", FlagType::kBool, "allocate a pseudo-TTY"},
    {"user", "u", FlagType::kString, "UID (format: <uid>[:<gid>])"},
    {"additional-gids", "g", FlagType::kIntList, "additional gids"},
    {"process", "p", FlagType::kString, "path to the process.json"},
    {"detach", "d", FlagType::kBool, "detach from the container's process"},
    {"pid-file", "", FlagType::kString, "specify the file to write the process id to"},
    {"process-label", "", FlagType::kString,
     "set the asm process label for the process commonly used with selinux (not supported yet; "
     "ignored with a warning)"},
    {"apparmor", "", FlagType::kString,
     "set the apparmor profile for the process (not supported yet; ignored with a warning)"},
    {"no-new-privs", "", FlagType::kBool, "set the no new privileges value for the process"},
    {"cap", "c", FlagType::kList, "add a capability to the bounding set for the process"},
    {"preserve-fds", "", FlagType::kInt,
     "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)", "0"},
    {"cgroup", "", FlagType::kList,
     "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
    {"ignore-paused", "", FlagType::kBool, "allow exec in a paused container"},
};

Result<uint32_t> ParseId(std::string_view s, std::string_view what) {
  auto v = strings::ParseUint(s);
  if (!v || *v > UINT32_MAX) return Err("--user: {} \"{}\" is not a number", what, s);
  return static_cast<uint32_t>(*v);
}

Result<int> RunExec(const Invocation& inv) {
  // runc prefixes every exec failure with "exec failed"; podman matches on it.
  runtime::ExecOptions o = TRY_CTX(ExecOptionsFromFlags(inv.flags), "exec failed");
  return TRY_CTX(runtime::Exec(inv.global, o), "exec failed");
}

}  // namespace

Result<runtime::ExecOptions> ExecOptionsFromFlags(const ParsedFlags& f) {
  runtime::ExecOptions o;
  if (!f.args.empty()) o.id = f.args[0];
  // These apply whether the process comes from a file or from flags (as in runc).
  if (std::string s = f.Get("console-socket"); !s.empty()) o.console_socket = fs::Absolute(s);
  if (std::string p = f.Get("pid-file"); !p.empty()) o.pid_file = fs::Absolute(p);
  o.detach = f.Bool("detach");
  o.ignore_paused = f.Bool("ignore-paused");
  int64_t n = f.Int("preserve-fds");
  if (n < 0 || n > INT_MAX - 3)
    return Err("--preserve-fds {}: must be between 0 and {}", n, INT_MAX - 3);
  o.preserve_fds = static_cast<int>(n);
  o.cgroups = f.All("cgroup");

  if (std::string path = f.Get("process"); !path.empty()) {
    std::string json = TRY(fs::ReadFile(path));
    o.process = TRY_CTX(oci::ParseProcess(json), "{}", path);
    return o;
  }

  auto first = f.args.begin() + (f.args.empty() ? 0 : 1);
  // "exec c1 -- cmd": runc would try to run "--"; nobody means that.
  if (first != f.args.end() && *first == "--") ++first;
  o.args.assign(first, f.args.end());
  if (o.args.empty()) return Err("process args cannot be empty");
  o.tty = f.Bool("tty");
  o.cwd = f.Get("cwd");
  o.env = f.All("env");
  if (std::string u = f.Get("user"); !u.empty()) {
    size_t colon = u.find(':');
    o.uid = TRY(ParseId(std::string_view(u).substr(0, colon), "uid"));
    if (colon != std::string::npos)
      o.gid = TRY(ParseId(std::string_view(u).substr(colon + 1), "gid"));
  }
  for (const std::string& g : f.All("additional-gids")) {
    int64_t v = strings::ParseInt(g).value_or(-1);
    if (v < 0 || v > UINT32_MAX) return Err("additional-gids must be a positive number {}", g);
    o.additional_gids.push_back(static_cast<uint32_t>(v));
  }
  o.caps = f.All("cap");
  o.no_new_privs = f.Bool("no-new-privs");
  // TODO(runtime.h): ExecOptions has no apparmor/selinux label yet; the spec's values apply.
  for (std::string_view flag : {"apparmor", "process-label"})
    if (!f.Get(flag).empty())
      log::Warnf("exec: --{} is not supported yet and was ignored; the container's value applies",
                 flag);
  return o;
}

const Command& ExecCommand() {
  static constexpr Command kCommand{
      .name = "exec",
      .summary = "execute new process inside the container",
      .args_usage = R"(<container-id> <command> [command options]  || -p process.json <container-id>

Where "<container-id>" is the name for the instance of the container and
"<command>" is the command to be executed in the container.
"<command>" can't be empty unless a "-p" flag provided.

EXAMPLE:
For example, if the container is configured to run the linux ps command the
following will output a list of processes running in the container:

       # huskrun exec <container-id> ps)",
      .flags = kFlags,
      .interspersed = false,
      .min_args = 1,
      .max_args = -1,
      .run = RunExec,
      // runc exits 255 when exec itself fails, so callers can tell it from the command's status.
      .failure_status = 255,
  };
  return kCommand;
}

}  // namespace husk::cli
