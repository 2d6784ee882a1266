// The container's root file system, built by the child in its mount namespace.
#pragma once

#include "runtime/plan.h"
#include "runtime/protocol.h"

namespace husk::runtime {

// Before pivot_root: propagation, the rootfs bind, spec mounts. Returns an
// O_PATH fd of the (bound) rootfs for SetupDevicesNoAlloc, which the caller
// closes, or -1 after filling err.
int SetupRootfsNoAlloc(const InitPlan& p, Message* err) noexcept;
// Then (once in the cgroup, see kLimitsSet): device nodes and links, and the
// late read-only remounts.
int SetupDevicesNoAlloc(const InitPlan& p, int rootfd, Message* err) noexcept;
// pivot_root into the rootfs (MS_MOVE + chroot with --no-pivot).
int EnterRootfsNoAlloc(const InitPlan& p, Message* err) noexcept;
// After pivot_root: sysctls, readonly and masked paths, readonly root, propagation.
int FinishRootfsNoAlloc(const InitPlan& p, Message* err) noexcept;

}  // namespace husk::runtime
