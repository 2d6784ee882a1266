// `huskrun spec`: the starter config.json, the same document `runc spec` writes
// (hostname aside), optionally made rootless like `runc spec --rootless`.
#pragma once

#include <cstdint>
#include <string>

namespace husk::oci {

struct DefaultSpecOptions {
  bool rootless = false;
  // Add a cgroup namespace (runc does when the host is cgroup v2 unified).
  bool cgroup_ns = false;
  // Rootless only: the host ids mapped to container root.
  uint32_t host_uid = 0, host_gid = 0;
};

// Compact JSON with keys in runc's order; the CLI indents it. Detects cgroup v2
// from /sys/fs/cgroup and takes the effective uid/gid of this process.
std::string DefaultSpecJson(bool rootless);
std::string DefaultSpecJson(const DefaultSpecOptions& o);

}  // namespace husk::oci
