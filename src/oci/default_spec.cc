#include "oci/default_spec.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "oci/spec.h"

namespace husk::oci {
namespace {

using Json = nlohmann::ordered_json;

Json MountJson(const char* dest, const char* type, const char* source,
               std::vector<std::string> options) {
  Json m = {{"destination", dest}, {"type", type}, {"source", source}};
  if (!options.empty()) m["options"] = std::move(options);
  return m;
}

bool HostIsCgroup2() {
  struct statfs st {};
  return statfs("/sys/fs/cgroup", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

std::string DefaultSpecJson(bool rootless) {
  DefaultSpecOptions o;
  o.rootless = rootless;
  o.cgroup_ns = HostIsCgroup2();
  o.host_uid = geteuid();
  o.host_gid = getegid();
  return DefaultSpecJson(o);
}

std::string DefaultSpecJson(const DefaultSpecOptions& o) {
  // Only what an unprivileged process needs; no inheritable set, so exec'd
  // file capabilities cannot pick anything up (runc dropped it for CVE-2022-29162).
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  Json process = {
      {"terminal", true},
      {"user", {{"uid", 0}, {"gid", 0}}},
      {"args", {"sh"}},
      {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
      {"cwd", "/"},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", Json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true},
  };

  Json mounts = Json::array();
  mounts.push_back(MountJson("/proc", "proc", "proc", {}));
  mounts.push_back(
      MountJson("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}));
  // A rootless container cannot choose the group of its ptys: the tty group is
  // not mapped, so gid=5 would make the devpts mount fail.
  std::vector<std::string> pts = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
  if (!o.rootless) pts.push_back("gid=5");
  mounts.push_back(MountJson("/dev/pts", "devpts", "devpts", pts));
  mounts.push_back(MountJson("/dev/shm", "tmpfs", "shm",
                             {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}));
  mounts.push_back(MountJson("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}));
  if (o.rootless) {
    // sysfs belongs to the host's network namespace, which a rootless container
    // keeps; only a bind of the host's /sys is allowed.
    mounts.push_back(
        MountJson("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
  } else {
    mounts.push_back(MountJson("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}));
  }
  // Without a cgroup namespace a rootless container cannot mount cgroupfs at
  // all; runc keeps the entry and fails at start, we leave it out.
  if (!o.rootless || o.cgroup_ns) {
    mounts.push_back(MountJson("/sys/fs/cgroup", "cgroup", "cgroup",
                               {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  }

  Json namespaces = Json::array();
  namespaces.push_back({{"type", "pid"}});
  if (!o.rootless) namespaces.push_back({{"type", "network"}});
  namespaces.push_back({{"type", "ipc"}});
  namespaces.push_back({{"type", "uts"}});
  namespaces.push_back({{"type", "mount"}});
  if (o.cgroup_ns) namespaces.push_back({{"type", "cgroup"}});
  if (o.rootless) namespaces.push_back({{"type", "user"}});

  Json linux_ = Json::object();
  if (o.rootless) {
    linux_["uidMappings"] =
        Json::array({{{"containerID", 0}, {"hostID", o.host_uid}, {"size", 1}}});
    linux_["gidMappings"] =
        Json::array({{{"containerID", 0}, {"hostID", o.host_gid}, {"size", 1}}});
  } else {
    // A rootless container cannot set up a device cgroup; the root one denies
    // every device except those the runtime adds itself.
    linux_["resources"] = {{"devices", Json::array({{{"allow", false}, {"access", "rwm"}}})}};
  }
  linux_["namespaces"] = std::move(namespaces);
  linux_["maskedPaths"] = {
      "/proc/acpi",
      "/proc/asound",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/sys/firmware",
      "/proc/scsi",
      "/sys/devices/virtual/tpm",
  };
  linux_["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                             "/proc/sysrq-trigger"};

  Json doc = {
      {"ociVersion", oci::kVersion},
      {"process", std::move(process)},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "huskrun"},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux_)},
  };
  return doc.dump();
}

}  // namespace husk::oci
