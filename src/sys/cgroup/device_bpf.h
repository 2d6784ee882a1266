// cgroup v2 device control: linux.resources.devices compiled into a
// BPF_PROG_TYPE_CGROUP_DEVICE program and attached to the container's cgroup.
//
// v2 has no devices.allow/deny files; the kernel asks every BPF_CGROUP_DEVICE program
// attached to the cgroup (and its ancestors) on each mknod and device open, and refuses
// with EPERM when one returns 0. The instructions are written here by hand; no libbpf.
//
// Semantics, as huskrun's v1 path writes them (devices.deny "a", then each rule in order;
// stricter than the v1 kernel in one way: a later deny narrows an earlier wildcard allow):
//   - the last rule of type "a" (or no type) sets the default for every device and access,
//     whatever its major, minor and access say (the v1 kernel reads "a" that way); the
//     rules before it no longer matter. Without one, everything is denied.
//   - after it, the last rule matching the device (type c/b, major and minor, -1 or unset
//     meaning any) and naming an access bit (r, w, m; empty meaning rwm) decides that bit;
//     an access is allowed when every bit it asks for is (O_RDWR asks for r and w).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace husk::cgroup {

// The name (BPF_OBJ_NAME_LEN, NUL included) of every program huskrun loads: on update,
// huskrun detaches its own earlier programs and leaves other programs alone.
inline constexpr char kDeviceProgramName[] = "huskrun_devices";

// The program for rules. Errors name the rule: linux.resources.devices[2]: type "p" ...
Result<std::vector<bpf_insn>> CompileDeviceFilter(const std::vector<oci::DeviceCgroupRule>& rules);

// BPF_PROG_LOAD of a cgroup device program named name. A failure retries with a verifier
// log and reads: BPF_PROG_LOAD: Invalid argument (verifier: R0 !read_ok)
Result<UniqueFd> LoadDeviceProgram(const std::vector<bpf_insn>& insns,
                                   const char* name = kDeviceProgramName);

// Attaches prog (BPF_F_ALLOW_MULTI) to the cgroup directory dir, then detaches the
// programs named kDeviceProgramName that were attached before: at every moment at least
// one filter holds (while both are attached, an access needs both to allow it).
Status ReplaceDeviceFilter(const std::string& dir, int prog_fd);

// Compile, load and replace, for the v2 manager's Apply. Errors read:
//   cgroup v2 device filter for /sys/fs/cgroup/huskrun/c1: BPF_PROG_LOAD: ...
Status SetDeviceFilter(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules);

// The ids of the BPF_CGROUP_DEVICE programs attached to dir itself (not its ancestors).
Result<std::vector<uint32_t>> AttachedDevicePrograms(const std::string& dir);

}  // namespace husk::cgroup
