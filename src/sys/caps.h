// Linux capabilities: names, the sets a process.capabilities object asks for,
// and the child-side calls that install them.
//
// Resolve runs in the parent; DropBoundingNoAlloc and ApplyNoAlloc run in the
// cloned child and only make syscalls. The child's order is:
//   DropBoundingNoAlloc, prctl(PR_SET_KEEPCAPS, 1), setresgid/setresuid,
//   ApplyNoAlloc (capset, then ambient).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/spec.h"

namespace husk::caps {

// "CAP_SYS_ADMIN" -> 21. Only the exact upper-case spelling, as runc.
// Error: unknown capability "CAP_FOO".
Result<int> FromName(std::string_view name);
// "CAP_SYS_ADMIN"; empty for a number this build does not know.
std::string Name(int cap);
// Every capability the build-time headers know, in number order (index == number).
const std::vector<std::string>& KnownNames();
// The highest capability the running kernel knows (/proc/sys/kernel/cap_last_cap),
// read once; falls back to the headers' CAP_LAST_CAP when /proc is unreadable.
int LastCap();

// Bit n set = capability n.
struct CapSets {
  uint64_t bounding = 0, effective = 0, inheritable = 0, permitted = 0, ambient = 0;
  // The kernel's last capability, copied here so the child reads no file.
  int last_cap = 0;
};

// Turns capability names into masks. Names this build knows but the running
// kernel does not (numbers above LastCap()) are skipped and appended to
// *unknown_out (the caller warns, as runc does); names nobody knows are errors
// naming the set, e.g. capabilities.bounding: unknown capability "CAP_FOO".
Result<CapSets> Resolve(const oci::Capabilities& c, std::vector<std::string>* unknown_out);
// As Resolve with an explicit last capability (tests, and callers that cache it).
Result<CapSets> Resolve(const oci::Capabilities& c, int last_cap,
                        std::vector<std::string>* unknown_out);

// Ambient capabilities the kernel will refuse to raise because they are not in
// both permitted and inheritable. ApplyNoAlloc skips these silently (runc warns
// and goes on), so the parent can warn about them before cloning.
uint64_t UnraisableAmbient(const CapSets& s);

// NoAlloc: PR_CAPBSET_DROP every capability <= s.last_cap not in s.bounding.
// Needs CAP_SETPCAP. Returns 0 or -errno.
int DropBoundingNoAlloc(const CapSets& s) noexcept;
// NoAlloc: capset(2) v3 with effective/permitted/inheritable, then
// PR_CAP_AMBIENT_CLEAR_ALL and PR_CAP_AMBIENT_RAISE for each ambient capability
// (EPERM from a raise is ignored; see UnraisableAmbient). Returns 0 or -errno.
int ApplyNoAlloc(const CapSets& s) noexcept;

}  // namespace husk::caps
