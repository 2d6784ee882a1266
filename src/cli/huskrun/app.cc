// The application around the verbs: global flags, dispatch, help, version and the single
// error line. Behaviour follows runc 1.1 (urfave/cli v1) where callers can observe it.
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"
#include "cli/huskrun/cli.h"
#include "runtime/rootless.h"

#ifndef HUSK_VERSION
#define HUSK_VERSION "0.0.0"
#endif
#ifndef HUSK_GIT_COMMIT
#define HUSK_GIT_COMMIT "unknown"
#endif

namespace husk::cli {

namespace {

constexpr Flag kGlobalFlags[] = {
    {"debug", "", FlagType::kBool, "enable debug logging"},
    {"log", "", FlagType::kString,
     "set the log file to write huskrun logs to (default is '/dev/stderr')"},
    {"log-format", "", FlagType::kString, "set the log format ('text' (default), or 'json')",
     "\"text\""},
    {"root", "", FlagType::kString,
     "root directory for storage of container state (this should be located in tmpfs)",
     "\"/run/huskrun\""},
    {"criu", "", FlagType::kString,
     "path to the criu binary (accepted for runc compatibility; checkpoint is not supported)",
     "\"criu\""},
    {"systemd-cgroup", "", FlagType::kBool,
     "enable systemd cgroup support (not supported: create refuses it)"},
    {"rootless", "", FlagType::kString,
     "ignore cgroup permission errors ('true', 'false', or 'auto')", "\"auto\""},
    {"help", "h", FlagType::kBool, "show help"},
    {"version", "v", FlagType::kBool, "print the version"},
};

constexpr std::string_view kAppUsage = R"(Open Container Initiative runtime

huskrun is a command line client for running applications packaged according to
the Open Container Initiative (OCI) format and is a compliant implementation of the
Open Container Initiative specification; its commands and flags are those of runc 1.1.

Containers are configured using bundles. A bundle for a container is a directory
that includes a specification file named "config.json" and a root filesystem.
The root filesystem contains the contents of the container.

To start a new instance of a container:

    # huskrun run [ -b bundle ] <container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host. Providing the bundle directory using "-b" is optional. The default
value for "bundle" is the current directory.)";

// Two aligned columns, as urfave/cli prints them through tabwriter (padding 2).
void AppendColumns(std::string& out, const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [l, r] : rows) width = std::max(width, l.size());
  for (const auto& [l, r] : rows) {
    out += "   ";
    out += l;
    if (!r.empty()) {
      out.append(width + 2 - l.size(), ' ');
      out += r;
    }
    out += '\n';
  }
}

void AppendFlags(std::string& out, std::span<const Flag> flags) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Flag& f : flags) {
    if (f.hidden) continue;
    bool takes_value = f.type != FlagType::kBool;
    std::string left = fmt::format("--{}{}", f.name, takes_value ? " value" : "");
    if (!f.short_name.empty())
      left += fmt::format(", -{}{}", f.short_name, takes_value ? " value" : "");
    std::string right(f.usage);
    if (!f.default_text.empty()) right += fmt::format(" (default: {})", f.default_text);
    rows.emplace_back(std::move(left), std::move(right));
  }
  AppendColumns(out, rows);
}

std::string NotFound(std::string_view name) {
  // runc's wording ("No help topic for 'x'") is what its bats tests match on.
  return fmt::format("unknown command \"{}\" (No help topic for '{}')", name, name);
}

}  // namespace

std::span<const Command* const> Commands() {
  static const Command* const kAll[] = {
      &CheckpointCommand(), &CreateCommand(),  &DeleteCommand(), &EventsCommand(),
      &ExecCommand(),       &KillCommand(),    &ListCommand(),   &PauseCommand(),
      &PsCommand(),         &RestoreCommand(), &ResumeCommand(), &RunCommand(),
      &SpecCommand(),       &StartCommand(),   &StateCommand(),  &UpdateCommand(),
      &FeaturesCommand(),
  };
  return kAll;
}

const Command* FindCommand(std::string_view name) {
  for (const Command* c : Commands())
    if (c->name == name || (!c->alias.empty() && c->alias == name)) return c;
  return nullptr;
}

std::string VersionText(std::string_view prog) {
  return fmt::format("{} version {}\ncommit: {}\nspec: {}\n", prog, HUSK_VERSION, HUSK_GIT_COMMIT,
                     oci::kVersion);
}

std::string AppHelp(std::string_view prog) {
  std::string out = fmt::format("NAME:\n   {} - {}\n\n", prog, kAppUsage);
  out += fmt::format("USAGE:\n   {} [global options] command [command options] [arguments...]\n\n",
                     prog);
  out += fmt::format("VERSION:\n   {}\ncommit: {}\nspec: {}\n\n", HUSK_VERSION, HUSK_GIT_COMMIT,
                     oci::kVersion);
  out += "COMMANDS:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Command* c : Commands()) {
    std::string name(c->name);
    if (!c->alias.empty()) name += fmt::format(", {}", c->alias);
    rows.emplace_back(std::move(name), std::string(c->summary));
  }
  rows.emplace_back("help, h", "Shows a list of commands or help for one command");
  AppendColumns(out, rows);
  out += "\nGLOBAL OPTIONS:\n";
  AppendFlags(out, kGlobalFlags);
  return out;
}

std::string CommandHelp(const Command& c, std::string_view prog) {
  std::string out = fmt::format("NAME:\n   {} {} - {}\n\nUSAGE:\n   {} {}", prog, c.name, c.summary,
                                prog, c.name);
  if (!c.flags.empty()) out += " [command options]";
  out += fmt::format(" {}\n", c.args_usage.empty() ? "[arguments...]" : c.args_usage);
  if (!c.description.empty()) out += fmt::format("\nDESCRIPTION:\n   {}\n", c.description);
  if (!c.flags.empty()) {
    out += "\nOPTIONS:\n";
    AppendFlags(out, c.flags);
  }
  return out;
}

Status CheckArgCount(const Command& c, size_t n) {
  // Same wording as runc's checkArgs.
  if (c.min_args == c.max_args && n != static_cast<size_t>(c.min_args))
    return Err("\"{}\" requires exactly {} argument(s)", c.name, c.min_args);
  if (n < static_cast<size_t>(c.min_args))
    return Err("\"{}\" requires a minimum of {} argument(s)", c.name, c.min_args);
  if (c.max_args >= 0 && n > static_cast<size_t>(c.max_args))
    return Err("\"{}\" requires a maximum of {} argument(s)", c.name, c.max_args);
  return Ok();
}

Status ParseCommandLine(std::span<const std::string> argv, Invocation& inv) {
  ParsedFlags g = TRY(ParseFlags(kGlobalFlags, argv, /*interspersed=*/false));

  // Logging settings first, so that later usage errors can reach the --log file.
  inv.log_path = g.Get("log");
  std::string format = g.Get("log-format", "text");
  if (format == "json") {
    inv.log_format = log::Format::kJson;
  } else if (format == "text" || format.empty()) {
    inv.log_format = log::Format::kText;
  } else {
    return Err("invalid log-format: {}", format);
  }
  inv.global.debug = g.Bool("debug");
  inv.global.systemd_cgroup = g.Bool("systemd-cgroup");
  std::string root = g.Get("root");
  if (root.empty()) {
    // runc honours $XDG_RUNTIME_DIR only for unprivileged users, so that root's
    // containers are always found under the system-wide directory.
    auto def = runtime::DefaultRootFor(::geteuid(), runtime::InUserNamespace(),
                                       std::getenv("XDG_RUNTIME_DIR"), std::getenv("USER"));
    root = def.path;
    inv.root_from_xdg = def.from_xdg;
  }
  inv.global.root = fs::Absolute(root);
  std::string rootless = g.Get("rootless", "auto");
  if (rootless.empty() || rootless == "auto" || rootless == "AUTO" || rootless == "Auto") {
    inv.global.rootless.reset();
  } else if (auto b = ParseGoBool(rootless); b) {
    inv.global.rootless = *b;
  } else {
    return Err("invalid --rootless value \"{}\": want true, false or auto", rootless);
  }

  // urfave/cli's order: -h wins over -v, and both over the command.
  if (g.Bool("help")) {
    inv.action = Invocation::Action::kHelp;
    return Ok();
  }
  if (g.Bool("version")) {
    inv.action = Invocation::Action::kVersion;
    return Ok();
  }
  if (g.args.empty()) {
    inv.action = Invocation::Action::kHelp;
    return Ok();
  }

  const std::string& name = g.args[0];
  if (name == "help" || name == "h") {
    inv.action = Invocation::Action::kHelp;
    if (g.args.size() > 1) {
      inv.command = FindCommand(g.args[1]);
      if (!inv.command) return Err("No help topic for '{}'", g.args[1]);
    }
    return Ok();
  }
  inv.command = FindCommand(name);
  if (!inv.command) return Err("{}", NotFound(name));
  const Command& c = *inv.command;
  auto rest = std::span<const std::string>(argv).subspan(argv.size() - (g.args.size() - 1));
  inv.flags = TRY_CTX(ParseFlags(c.flags, rest, c.interspersed), "{}", c.name);
  if (inv.flags.Bool("help")) {
    inv.action = Invocation::Action::kHelp;
    return Ok();
  }
  TRY(CheckArgCount(c, inv.flags.args.size()));
  return Ok();
}

namespace {

int Report(const Error& e, int status) {
  std::string msg = e.message();
  // containerd takes the last "msg" of the --log file as the reason for a failure.
  if (log::ToFile()) log::Errorf("{}", msg);
  (void)WriteAll(2, "huskrun: " + msg + "\n", "stderr");
  return status;
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  Invocation inv;
  Status parsed = ParseCommandLine(args, inv);
  if (!log::Init(inv.log_path, inv.log_format, inv.global.debug)) {
    Error e = ErrnoErr("open log file {}", inv.log_path);
    // A usage error is the more useful of the two.
    return Report(parsed ? e : parsed.error(), 1);
  }
  if (!parsed) return Report(parsed.error(), 1);

  // Help and version name the program as it was called, as urfave/cli does:
  // installed as "runc", huskrun says "runc version ..." to tools that parse it.
  std::string_view prog = argc > 0 ? argv[0] : "huskrun";
  if (size_t slash = prog.rfind('/'); slash != std::string_view::npos)
    prog.remove_prefix(slash + 1);
  switch (inv.action) {
    case Invocation::Action::kHelp: {
      std::string text = inv.command ? CommandHelp(*inv.command, prog) : AppHelp(prog);
      if (auto st = Print(text); !st) return Report(st.error(), 1);
      return 0;
    }
    case Invocation::Action::kVersion:
      if (auto st = Print(VersionText(prog)); !st) return Report(st.error(), 1);
      return 0;
    case Invocation::Action::kRun:
      break;
  }
  const Command& c = *inv.command;
  // As runc, before any command: a state root of its own choosing in
  // $XDG_RUNTIME_DIR is made private and kept from being pruned.
  if (inv.root_from_xdg) {
    if (auto st = runtime::PrepareXdgRoot(inv.global.root); !st) return Report(st.error(), 1);
  }
  // With --debug, the log shows what each call asked for: several callers interleave in
  // one --log file (containerd's shim, conmon).
  log::Debugf("{} {}", c.name, strings::Join(inv.flags.args, " "));
  Result<int> status = c.run(inv);
  if (!status) return Report(status.error(), c.failure_status);
  return *status;
}

}  // namespace husk::cli
