#include "sys/mount_options.h"

#include <sys/mount.h>

#include <algorithm>
#include <string_view>

#include "base/strings.h"

namespace husk::sys {
namespace {

struct FlagOption {
  const char* name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOption kFlagOptions[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"suid", true, MS_NOSUID},
    {"nosuid", false, MS_NOSUID},
    {"dev", true, MS_NODEV},
    {"nodev", false, MS_NODEV},
    {"exec", true, MS_NOEXEC},
    {"noexec", false, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"symfollow", true, MS_NOSYMFOLLOW},
    {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
};

struct PropagationOption {
  const char* name;
  unsigned long flags;
};

constexpr PropagationOption kPropagationOptions[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RecAttrOption {
  const char* name;
  bool clear;
  uint64_t attr;
};

constexpr RecAttrOption kRecAttrOptions[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},
    {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

bool IsAtimeOption(std::string_view name) {
  return name == "rnoatime" || name == "ratime" || name == "rrelatime" || name == "rnorelatime" ||
         name == "rstrictatime" || name == "rnostrictatime";
}

constexpr const char* kExtensionOptions[] = {"tmpcopyup", "idmap", "ridmap"};

}  // namespace

Result<MountOptions> ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions m;
  std::vector<std::string_view> data;
  for (const std::string& o : options) {
    bool known = false;
    for (const auto& f : kFlagOptions) {
      if (o != f.name) continue;
      known = true;
      // Later options override earlier ones ("ro,rw" is rw), as mount(8) reads them.
      if (f.clear) {
        m.flags &= ~f.flag;
        m.clear_flags |= f.flag;
      } else {
        m.flags |= f.flag;
        m.clear_flags &= ~f.flag;
      }
      break;
    }
    if (known) continue;
    for (const auto& p : kPropagationOptions) {
      if (o != p.name) continue;
      known = true;
      m.propagation = p.flags;
      break;
    }
    if (known) continue;
    for (const auto& r : kRecAttrOptions) {
      if (o != r.name) continue;
      known = true;
      if (IsAtimeOption(o)) {
        // The atime values are an enum inside MOUNT_ATTR__ATIME: changing it
        // needs the whole field in attr_clr; the "no..." forms fall back to
        // relatime (0), the kernel's default when no atime flag is given.
        m.rec_attr_clr |= MOUNT_ATTR__ATIME;
        m.rec_attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
        if (!r.clear) m.rec_attr_set |= r.attr;
      } else if (r.clear) {
        m.rec_attr_clr |= r.attr;
        m.rec_attr_set &= ~r.attr;
      } else {
        m.rec_attr_set |= r.attr;
        m.rec_attr_clr &= ~r.attr;
      }
      break;
    }
    if (known) continue;
    if (o == "tmpcopyup") {
      m.tmpcopyup = true;
    } else if (o == "idmap") {
      m.idmap = true;
    } else if (o == "ridmap") {
      m.idmap = true;
      m.idmap_recursive = true;
    } else {
      data.push_back(o);
    }
  }
  m.bind = (m.flags & MS_BIND) != 0;
  m.recursive_bind = m.bind && (m.flags & MS_REC) != 0;
  for (size_t i = 0; i < data.size(); ++i) {
    if (i) m.data += ',';
    m.data += data[i];
  }
  return m;
}

const std::vector<std::string>& KnownMountOptions() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& f : kFlagOptions) v->push_back(f.name);
    for (const auto& p : kPropagationOptions) v->push_back(p.name);
    for (const auto& r : kRecAttrOptions) v->push_back(r.name);
    for (const char* e : kExtensionOptions) v->push_back(e);
    std::sort(v->begin(), v->end());
    return v;
  }();
  return *names;
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> RevealingMounts(std::string_view mountinfo, std::string_view rootfs) {
  std::vector<std::string> out;
  while (!mountinfo.empty()) {
    size_t eol = mountinfo.find('\n');
    std::string_view line = mountinfo.substr(0, eol);
    mountinfo = eol == std::string_view::npos ? std::string_view{} : mountinfo.substr(eol + 1);
    // id parent maj:min root mountpoint options [optional...] - fstype source super
    std::vector<std::string_view> f;
    for (size_t pos = 0; pos <= line.size();) {
      size_t sp = line.find(' ', pos);
      if (sp == std::string_view::npos) sp = line.size();
      f.push_back(line.substr(pos, sp - pos));
      pos = sp + 1;
    }
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 5 || dash + 1 >= f.size()) continue;
    std::string_view fstype = f[dash + 1];
    if (f[3] != "/" || (fstype != "proc" && fstype != "sysfs")) continue;
    std::string point = UnescapeMountinfo(f[4]);
    bool inside = point.size() >= rootfs.size() && point.compare(0, rootfs.size(), rootfs) == 0 &&
                  (point.size() == rootfs.size() || point[rootfs.size()] == '/');
    if (!inside) out.push_back(std::move(point));
  }
  return out;
}

std::vector<std::string> MountsUnder(std::string_view mountinfo, std::string_view dir) {
  std::vector<std::string> out;
  for (const auto& line : strings::Split(mountinfo, '\n')) {
    auto f = strings::Split(line, ' ');
    if (f.size() < 5) continue;
    std::string point = UnescapeMountinfo(f[4]);
    if (point.size() > dir.size() + 1 && point.compare(0, dir.size(), dir) == 0 &&
        point[dir.size()] == '/')
      out.push_back(std::move(point));
  }
  return out;
}

}  // namespace husk::sys
