// Layout detection from /proc/self/mountinfo, and Open/Load, which pick the manager.
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/cgroup/cgroup.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {

namespace internal {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto oct = [&](size_t j) { return s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && oct(i + 1) && oct(i + 2) && oct(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

// Super options of a v1 mount that are not controllers.
bool IsControllerOption(const std::string& opt) {
  static const std::set<std::string> kNotControllers = {"rw",           "ro",
                                                        "noprefix",     "clone_children",
                                                        "xattr",        "cpuset_v2_mode",
                                                        "favordynmods", "nofavordynmods",
                                                        "none"};
  if (kNotControllers.count(opt)) return false;
  if (strings::StartsWith(opt, "release_agent=")) return false;
  return true;  // includes name=systemd: runc joins named hierarchies too
}

bool UnderSysFsCgroup(const std::string& mp) {
  return mp == "/sys/fs/cgroup" || strings::StartsWith(mp, "/sys/fs/cgroup/");
}

}  // namespace

Mounts ParseMountinfo(std::string_view text) {
  Mounts m;
  // The same hierarchy may be mounted more than once (bind mounts, a container's view);
  // the superblock's dev id tells them apart.
  std::map<std::string, size_t> v1_by_dev;
  for (const auto& line : strings::Split(text, '\n')) {
    auto f = strings::Split(line, ' ');
    // ID parent maj:min root mountpoint opts [optional...] - fstype source superopts
    size_t sep = 0;
    for (size_t i = 6; i < f.size(); ++i) {
      if (f[i] == "-") {
        sep = i;
        break;
      }
    }
    if (sep == 0 || f.size() < sep + 4) continue;
    const std::string& fstype = f[sep + 1];
    const std::string& dev = f[2];
    std::string mp = Unescape(f[4]);
    if (fstype == "cgroup2") {
      // Prefer /sys/fs/cgroup itself, then anything under it, then the first seen.
      bool better = !m.v2 || (mp == "/sys/fs/cgroup" && m.v2->mountpoint != mp) ||
                    (UnderSysFsCgroup(mp) && !UnderSysFsCgroup(m.v2->mountpoint));
      if (better) m.v2 = Hierarchy{mp, {}};
    } else if (fstype == "cgroup") {
      Hierarchy h{mp, {}};
      for (auto& opt : strings::Split(f[sep + 3], ','))
        if (IsControllerOption(opt)) h.controllers.push_back(opt);
      if (h.controllers.empty()) continue;
      auto it = v1_by_dev.find(dev);
      if (it == v1_by_dev.end()) {
        v1_by_dev[dev] = m.v1.size();
        m.v1.push_back(std::move(h));
      } else if (UnderSysFsCgroup(mp) && !UnderSysFsCgroup(m.v1[it->second].mountpoint)) {
        m.v1[it->second] = std::move(h);
      }
    }
  }
  return m;
}

Result<Mounts> ReadMounts() {
  auto text = TRY(fs::ReadFile("/proc/self/mountinfo"));
  return ParseMountinfo(text);
}

Result<Layout> LayoutOf(const Mounts& m) {
  bool v1_controllers = false;
  for (const auto& h : m.v1)
    for (const auto& c : h.controllers)
      if (!strings::StartsWith(c, "name=")) v1_controllers = true;
  if (v1_controllers) return m.v2 ? Layout::kHybrid : Layout::kLegacy;
  if (m.v2) return Layout::kUnified;
  return Err("no cgroup filesystem is mounted (looked in /proc/self/mountinfo)");
}

}  // namespace internal

const char* LayoutName(Layout l) {
  switch (l) {
    case Layout::kLegacy:
      return "legacy";
    case Layout::kHybrid:
      return "hybrid";
    case Layout::kUnified:
      return "unified";
  }
  return "unknown";
}

Result<Layout> DetectLayout() {
  auto m = TRY(internal::ReadMounts());
  return internal::LayoutOf(m);
}

namespace {

Result<std::unique_ptr<Manager>> ForPath(std::string path) {
  auto mounts = TRY(internal::ReadMounts());
  auto layout = TRY(internal::LayoutOf(mounts));
  if (layout == Layout::kUnified) return internal::NewV2(*mounts.v2, std::move(path));
  return internal::NewV1(std::move(mounts), layout, std::move(path));
}

Status CheckPath(const std::string& path) {
  if (path.empty() || path[0] != '/' || path == "/")
    return Err("cgroup path \"{}\": must name a cgroup below the root", path);
  if (path.find('\n') != std::string::npos) return Err("cgroup path \"{}\": has a newline", path);
  return Ok();
}

}  // namespace

Result<std::unique_ptr<Manager>> Open(const std::string& cgroups_path, const std::string& id,
                                      bool systemd) {
  if (systemd)
    return Err(
        "systemd cgroup driver is not supported: no systemd running (drop --systemd-cgroup)");
  std::string path;
  if (cgroups_path.empty()) {
    if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..")
      return Err("cgroup path for container \"{}\": not a valid container id", id);
    path = "/huskrun/" + id;
  } else if (cgroups_path[0] == '/') {
    path = fs::Clean(cgroups_path);
  } else {
    // Clean after joining so that "../x" can't climb out of /huskrun.
    path = fs::Clean("/huskrun/" + cgroups_path);
    if (!strings::StartsWith(path, "/huskrun/"))
      return Err("linux.cgroupsPath \"{}\": leaves /huskrun", cgroups_path);
  }
  TRY(CheckPath(path));
  return ForPath(std::move(path));
}

Result<std::unique_ptr<Manager>> Load(const std::string& path) {
  std::string p = fs::Clean(path);
  TRY(CheckPath(p));
  return ForPath(std::move(p));
}

}  // namespace husk::cgroup
