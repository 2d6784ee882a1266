// exec --cgroup: the sub-cgroups an exec'd process may be put in, and the join with the
// error text runc gives (its integration tests and callers match on it).
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "sys/cgroup/cgroup.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {

namespace {

// The clean relative path below the container's cgroup that path names: a leading slash
// is the container's cgroup, not the hierarchy's root; nothing may climb out of it.
Result<std::string> SubPath(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  std::string rel = fs::Clean(start == std::string::npos ? "" : path.substr(start));
  if (rel == "..") return Err("{} is not a sub cgroup path", path);
  if (strings::StartsWith(rel, "../")) return Err("{} is not a sub cgroup path", path);
  return rel == "." ? "" : rel;
}

}  // namespace

Result<SubCgroups> ParseSubCgroups(const std::vector<std::string>& args) {
  SubCgroups out;
  for (const auto& arg : args) {
    size_t colon = arg.find(':');
    if (colon == std::string::npos) {
      if (args.size() != 1)
        return Err("invalid --cgroup argument: {} (missing <controller>: prefix)", arg);
      out[""] = TRY(SubPath(arg));
      continue;
    }
    if (arg.find(':', colon + 1) != std::string::npos)
      return Err("invalid --cgroup argument: {}", arg);
    std::string path = TRY(SubPath(arg.substr(colon + 1)));
    for (const auto& c : strings::Split(std::string_view(arg).substr(0, colon), ',')) {
      // runc would read an empty name as "every controller"; that is a typo more likely.
      if (c.empty()) return Err("invalid --cgroup argument: {} (empty controller name)", arg);
      out[c] = path;
    }
  }
  return out;
}

namespace internal {

Status EnterCgroup(const std::string& dir, pid_t pid) {
  std::string path = fs::Join(dir, "cgroup.procs");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  std::string v = std::to_string(pid);
  while (::write(fd.get(), v.data(), v.size()) < 0) {
    if (errno != EINTR) return ErrnoErr("write {}", path);
  }
  return Ok();
}

Error JoinError(pid_t pid, const Error& e) {
  if (e.code == 0) return e.wrap(fmt::format("adding pid {} to cgroups", pid));
  // Go's errno strings are glibc's with a lower-case first letter.
  std::string text = std::strerror(e.code);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return Err("adding pid {} to cgroups: {}: {}", pid, e.msg, text);
}

std::string SubDir(const std::string& dir, const std::string& sub) {
  return sub.empty() ? dir : dir + "/" + sub;
}

Result<std::string> UnifiedDirOf(const std::string& root, pid_t pid) {
  std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
  auto text = TRY(fs::ReadFile(file));
  for (const auto& line : strings::Split(text, '\n'))
    if (strings::StartsWith(line, "0::/")) return root + fs::Clean(line.substr(3));
  return Err("{}: no cgroup2 entry", file);
}

}  // namespace internal

}  // namespace husk::cgroup
