// huskrun's command line: runc 1.1 compatible flags (urfave/cli v1 on Go's flag package),
// one Command per verb, each defined in its own <verb>.cc. Parsing is separate from running
// so that tests can check what a command line turns into without touching containers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/result.h"
#include "oci/spec.h"
#include "runtime/runtime.h"

namespace husk::cli {

enum class FlagType {
  kBool,      // -d, --detach, --detach=false
  kString,    // --bundle DIR, --bundle=DIR, -bundle DIR, -b DIR
  kInt,       // like kString, validated as a Go int (base prefixes allowed)
  kDuration,  // like kString, validated as a Go duration (5s, 500ms)
  kList,      // repeatable string: -e A=1 -e B=2
  kIntList,   // repeatable int: -g 10 -g 20
};

struct Flag {
  std::string_view name;        // long name, without dashes
  std::string_view short_name;  // one letter or empty
  FlagType type;
  std::string_view usage;
  std::string_view default_text = {};  // shown in help as (default: ...)
  bool hidden = false;
};

// The outcome of parsing one flag set. Values keep command-line order; for single-valued
// flags the last occurrence wins, as with Go's flag package.
struct ParsedFlags {
  std::vector<std::pair<std::string, std::string>> values;  // (long name, value)
  std::vector<std::string> args;                            // positional arguments

  bool Has(std::string_view name) const;
  std::string Get(std::string_view name, std::string_view fallback = {}) const;
  // A boolean flag: true when given without a value or with a true value.
  bool Bool(std::string_view name) const;
  std::vector<std::string> All(std::string_view name) const;
  // A kInt flag (already validated by ParseFlags), or fallback when absent.
  int64_t Int(std::string_view name, int64_t fallback = 0) const;
};

// Parses argv with Go flag syntax: -name, --name, -name=value, --name=value, -name value.
// "--" ends the flags. With interspersed, flags may follow positional arguments (urfave
// reorders them; runc's exec and ps opt out so that the container command keeps its flags).
// -h/--help is reported as the "help" flag when flags does not define it.
Result<ParsedFlags> ParseFlags(std::span<const Flag> flags, std::span<const std::string> argv,
                               bool interspersed);

// strconv.ParseBool.
Result<bool> ParseGoBool(std::string_view s);
// strconv.ParseInt(s, 0, 64): decimal, 0x.., 0o.., 0b.., leading 0 for octal, '_' separators
// are not accepted.
Result<int64_t> ParseGoInt(std::string_view s);
// time.ParseDuration, in nanoseconds: "5s", "1m30s", "500ms", "-1.5h", "0".
Result<int64_t> ParseGoDuration(std::string_view s);
// docker/go-units RAMInBytes: "1024", "10M", "1g", "1.5 GiB", "512kb" (binary multiples).
Result<int64_t> RamInBytes(std::string_view s);

struct Invocation;

struct Command {
  std::string_view name;
  std::string_view alias;  // "" when none
  std::string_view summary;
  std::string_view args_usage;   // after "[command options] " in USAGE
  std::string_view description;  // may be empty
  std::span<const Flag> flags;
  bool interspersed = true;
  int min_args = 0;
  int max_args = 0;  // -1: no limit
  Result<int> (*run)(const Invocation&) = nullptr;
  int failure_status = 1;  // exit status when run fails (runc's exec uses 255)
};

struct Invocation {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  runtime::GlobalOptions global;
  bool root_from_xdg = false;  // --root defaulted to $XDG_RUNTIME_DIR/huskrun
  std::string log_path;
  log::Format log_format = log::Format::kText;
  const Command* command = nullptr;  // null for top-level help and version
  ParsedFlags flags;                 // the command's flags and arguments
};

// Turns argv (without argv[0]) into what to do. Validates global flags, the command name,
// the command's flags and its argument count; does not touch the system except for
// geteuid(), /proc/self/uid_map, $XDG_RUNTIME_DIR and $USER (default root) and getcwd()
// (making --root absolute).
// On error, inv keeps what was parsed before it (the log settings, for reporting).
Status ParseCommandLine(std::span<const std::string> argv, Invocation& inv);
// The whole program: parse, run, report errors. Returns the exit status.
int Main(int argc, char** argv);

// Help text in urfave/cli's layout. prog is the name huskrun was invoked as: installed as
// "runc", the help reads "runc create - ...", which runc's bats help tests look for.
std::string AppHelp(std::string_view prog = "huskrun");
std::string CommandHelp(const Command& c, std::string_view prog = "huskrun");
std::string VersionText(std::string_view prog = "huskrun");

// Every verb, in runc's help order.
std::span<const Command* const> Commands();
const Command* FindCommand(std::string_view name);

const Command& CheckpointCommand();
const Command& CreateCommand();
const Command& DeleteCommand();
const Command& EventsCommand();
const Command& ExecCommand();
const Command& KillCommand();
const Command& ListCommand();
const Command& PauseCommand();
const Command& PsCommand();
const Command& RestoreCommand();
const Command& ResumeCommand();
const Command& RunCommand();
const Command& SpecCommand();
const Command& StartCommand();
const Command& StateCommand();
const Command& UpdateCommand();
const Command& FeaturesCommand();

// Option builders, shared by verbs and exposed for tests.
// create and run: flags -> CreateOptions (pid-file and console-socket made absolute).
Result<runtime::CreateOptions> CreateOptionsFromFlags(const ParsedFlags& f);
// exec: flags -> ExecOptions; reads and parses --process FILE.
Result<runtime::ExecOptions> ExecOptionsFromFlags(const ParsedFlags& f);
// update without --resources: only the given fields are set.
Result<oci::Resources> ResourcesFromFlags(const ParsedFlags& f);

// Output helpers (util.cc).
// Writes all of data to fd, retrying short writes; errors name what.
Status WriteAll(int fd, std::string_view data, std::string_view what = "stdout");
inline Status Print(std::string_view data) {
  return WriteAll(1, data);
}
// Re-indents JSON text the way Go's json.MarshalIndent(v, "", indent) lays it out; empty
// objects and arrays stay "{}" and "[]". Input whitespace outside strings is dropped.
std::string IndentJson(std::string_view json, std::string_view indent);
// A JSON string literal as Go's encoding/json writes it (escapes <, >, &, U+2028, U+2029).
std::string GoJsonQuote(std::string_view s);
// Reads a whole file, or standard input for "-".
Result<std::string> ReadFileOrStdin(const std::string& path);
// Checks the positional count without going through ParseCommandLine (used by it).
Status CheckArgCount(const Command& c, size_t n);

}  // namespace husk::cli
