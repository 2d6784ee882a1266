// OCI runtime-spec 1.2 configuration (config.json), the parts huskrun acts on.
// Parsed by ParseSpec (spec_parse.cc); every field defaults to "not set".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace husk::oci {

inline constexpr const char* kVersion = "1.2.0";

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;
};

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  // uidMappings/gidMappings on mounts (idmapped mounts) are not supported yet.
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // join when set
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Device {
  std::string type;  // c b u p
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  // a c b (empty = all)
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access;  // rwm
};

struct MemoryResources {
  std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  std::optional<bool> use_hierarchy;
  std::optional<bool> check_before_update;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> burst;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;
  std::string mems;
  std::optional<int64_t> idle;
};

struct PidsResources {
  int64_t limit = 0;
};

struct HugepageLimit {
  std::string page_size;
  uint64_t limit = 0;
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
  std::optional<uint16_t> leaf_weight;
  // Per-device weights and throttles are kept raw (major, minor, value) pairs.
  struct DeviceValue {
    int64_t major = 0, minor = 0;
    uint64_t rate = 0;
  };
  std::vector<DeviceValue> throttle_read_bps, throttle_write_bps, throttle_read_iops,
      throttle_write_iops;
  struct DeviceWeight {
    int64_t major = 0, minor = 0;
    std::optional<uint16_t> weight, leaf_weight;
  };
  std::vector<DeviceWeight> weight_device;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> block_io;
  std::vector<HugepageLimit> hugepage_limits;
  std::map<std::string, std::string> unified;  // cgroup v2 raw files
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ ...
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_ALLOW ...
  std::optional<unsigned> errno_ret;
  std::vector<SeccompArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<unsigned> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<std::string> flags;
  std::string listener_path;
  std::string listener_metadata;  // passed to the agent as "metadata"
  std::vector<SeccompSyscall> syscalls;
};

struct TimeOffset {
  int64_t secs = 0;
  uint32_t nanosecs = 0;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, TimeOffset> time_offsets;  // "monotonic", "boottime"
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::string rootfs_propagation;
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::optional<std::string> personality_domain;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux_;  // "linux" is a macro under GNU extensions
};

// Parses and validates config.json text. Errors name the offending field, e.g.
// "config.json: process.args: must be a non-empty array".
Result<Spec> ParseSpec(std::string_view json);
// Parses a process.json (exec --process) or the process object of a spec.
Result<Process> ParseProcess(std::string_view json);
// Parses a linux.resources object (update --resources).
Result<Resources> ParseResources(std::string_view json);

}  // namespace husk::oci
