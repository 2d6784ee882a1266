#include "sys/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"

namespace husk::caps {
namespace {

// Indexed by capability number. Entries past the headers' CAP_LAST_CAP are cut
// off below, so an older kernel-headers package yields a shorter list.
constexpr const char* kNames[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kTableLast = static_cast<int>(sizeof(kNames) / sizeof(kNames[0])) - 1;
// The headers may know more than the table (a newer kernel package); the table
// bounds what we can name.
constexpr int kHeaderLast = CAP_LAST_CAP < kTableLast ? CAP_LAST_CAP : kTableLast;
static_assert(CAP_SYS_ADMIN == 21 && CAP_SETFCAP == 31);

}  // namespace

Result<int> FromName(std::string_view name) {
  for (int i = 0; i <= kHeaderLast; ++i) {
    if (name == kNames[i]) return i;
  }
  return Err("unknown capability \"{}\"", name);
}

std::string Name(int cap) {
  if (cap < 0 || cap > kHeaderLast) return {};
  return kNames[cap];
}

const std::vector<std::string>& KnownNames() {
  static const auto* names = new std::vector<std::string>(kNames, kNames + kHeaderLast + 1);
  return *names;
}

int LastCap() {
  static const int last = [] {
    auto text = fs::ReadFile("/proc/sys/kernel/cap_last_cap");
    if (text.ok()) {
      auto n = strings::ParseInt(strings::Trim(*text));
      if (n && *n >= 0 && *n < 64) return static_cast<int>(*n);
    }
    return static_cast<int>(CAP_LAST_CAP);
  }();
  return last;
}

Result<CapSets> Resolve(const oci::Capabilities& c, std::vector<std::string>* unknown_out) {
  return Resolve(c, LastCap(), unknown_out);
}

Result<CapSets> Resolve(const oci::Capabilities& c, int last_cap,
                        std::vector<std::string>* unknown_out) {
  CapSets s;
  s.last_cap = last_cap;
  struct Set {
    const char* field;
    const std::vector<std::string>* names;
    uint64_t* mask;
  };
  const Set sets[] = {
      {"bounding", &c.bounding, &s.bounding},
      {"effective", &c.effective, &s.effective},
      {"inheritable", &c.inheritable, &s.inheritable},
      {"permitted", &c.permitted, &s.permitted},
      {"ambient", &c.ambient, &s.ambient},
  };
  for (const Set& set : sets) {
    for (const std::string& name : *set.names) {
      int cap = TRY_CTX(FromName(name), "capabilities.{}", set.field);
      if (cap > last_cap) {
        // Reported once per name even when several sets list it.
        if (unknown_out) {
          bool seen = false;
          for (const auto& u : *unknown_out) seen = seen || u == name;
          if (!seen) unknown_out->push_back(name);
        }
        continue;
      }
      *set.mask |= uint64_t{1} << cap;
    }
  }
  return s;
}

uint64_t UnraisableAmbient(const CapSets& s) {
  return s.ambient & ~(s.permitted & s.inheritable);
}

int DropBoundingNoAlloc(const CapSets& s) noexcept {
  for (int cap = 0; cap <= s.last_cap && cap < 64; ++cap) {
    if (s.bounding & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      // EINVAL: the kernel does not know this number; nothing to drop.
      if (errno == EINVAL) continue;
      return -errno;
    }
  }
  return 0;
}

int ApplyNoAlloc(const CapSets& s) noexcept {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(s.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(s.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(s.inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) != 0) return -errno;

  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    // EINVAL: a kernel before 4.3 has no ambient set; only fail if one is asked for.
    if (errno != EINVAL || s.ambient != 0) return -errno;
    return 0;
  }
  for (int cap = 0; cap <= s.last_cap && cap < 64; ++cap) {
    if (!(s.ambient & (uint64_t{1} << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM) {
      return -errno;
    }
  }
  return 0;
}

}  // namespace husk::caps
