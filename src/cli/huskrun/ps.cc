// huskrun ps: the container's processes, as JSON pids or filtered `ps` output like runc.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "cli/huskrun/cli.h"

extern char** environ;

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"format", "f", FlagType::kString, "select one of: table or json", "\"table\""},
};

// Runs ps with args and returns its stdout and stderr together (runc uses CombinedOutput).
Result<std::string> RunPs(const std::vector<std::string>& args) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoErr("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>("ps"));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, "ps", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return CodeErr(rc, "exec ps");
  wr.reset();
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    // ps explains itself in its first line; the usage text after it would break our one line.
    std::string_view why = strings::Trim(out);
    why = why.substr(0, why.find('\n'));
    return Err("ps: exit status {}: {}", WEXITSTATUS(status), why);
  }
  if (WIFSIGNALED(status)) return Err("ps: killed by signal {}", WTERMSIG(status));
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

Result<int> RunPsCommand(const Invocation& inv) {
  std::string format = inv.flags.Get("format", "table");
  if (format != "table" && format != "json") return Err("invalid format option");
  const auto& args = inv.flags.args;
  std::vector<pid_t> pids = TRY(runtime::Pids(inv.global, args[0]));
  if (format == "json") {
    // json.NewEncoder(os.Stdout).Encode(pids); a nil slice encodes as null.
    std::string out = pids.empty() ? "null" : "[";
    for (size_t i = 0; i < pids.size(); ++i) out += fmt::format("{}{}", i ? "," : "", pids[i]);
    if (!pids.empty()) out += "]";
    TRY(Print(out + "\n"));
    return 0;
  }
  std::vector<std::string> ps_args(args.begin() + 1, args.end());
  if (ps_args.empty()) ps_args = {"-ef"};
  std::string output = TRY(RunPs(ps_args));
  std::vector<std::string> lines = strings::Split(output, '\n');
  std::vector<std::string_view> titles = Fields(lines[0]);
  auto it = std::find(titles.begin(), titles.end(), "PID");
  if (it == titles.end()) return Err("couldn't find PID field in ps output");
  size_t index = static_cast<size_t>(it - titles.begin());
  std::sort(pids.begin(), pids.end());
  std::string out = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string_view> fields = Fields(lines[i]);
    auto pid = index < fields.size() ? strings::ParseInt(fields[index]) : std::nullopt;
    if (!pid) return Err("unable to parse pid from ps line: {}", lines[i]);
    if (std::binary_search(pids.begin(), pids.end(), static_cast<pid_t>(*pid)))
      out += lines[i] + "\n";
  }
  TRY(Print(out));
  return 0;
}

}  // namespace

const Command& PsCommand() {
  static constexpr Command kCommand{
      .name = "ps",
      .summary = "ps displays the processes running inside a container",
      .args_usage = "<container-id> [ps options]",
      .flags = kFlags,
      // Everything after the ID belongs to ps(1), dashes included.
      .interspersed = false,
      .min_args = 1,
      .max_args = -1,
      .run = RunPsCommand,
  };
  return kCommand;
}

}  // namespace husk::cli
