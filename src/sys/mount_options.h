// mounts[].options as runc 1.1/1.2 read them: mount(2) flags, propagation,
// recursive mount_setattr(2) attributes, runc extensions, and filesystem data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::sys {

struct MountOptions {
  // MS_* flags to set. Holds MS_BIND (and MS_REC for rbind) too, as runc's
  // Mount.Flags does, so flags can go to mount(2) unchanged.
  unsigned long flags = 0;
  // MS_* flags an option explicitly cleared ("rw", "suid", "dev", "exec", ...).
  // A bind mount's remount needs them: it must not inherit those from the source.
  unsigned long clear_flags = 0;
  // One of MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE, with MS_REC for the
  // r-forms; 0 when no propagation option was given. The last one wins.
  unsigned long propagation = 0;
  bool bind = false;
  bool recursive_bind = false;
  // Options no table knows, in order, joined with ',': the filesystem's own
  // (size=65536k,mode=755). The kernel, not huskrun, rejects bad ones.
  std::string data;
  // MOUNT_ATTR_* for mount_setattr(2) with AT_RECURSIVE ("rro", "rnosuid", ...).
  // An atime option also sets MOUNT_ATTR__ATIME in rec_attr_clr: the kernel
  // treats the atime bits as one field that must be cleared to be changed.
  uint64_t rec_attr_set = 0, rec_attr_clr = 0;
  // "tmpcopyup": copy the directory's old contents into a new tmpfs.
  bool tmpcopyup = false;
  // "idmap"/"ridmap": an idmapped mount (recursive for ridmap).
  bool idmap = false;
  bool idmap_recursive = false;
};

// Never fails on an unknown option (it becomes data), so a Result only to let
// future checks (e.g. conflicting options) report errors.
Result<MountOptions> ParseMountOptions(const std::vector<std::string>& options);
// Every option name the parser recognises (not data), sorted; for `features`.
const std::vector<std::string>& KnownMountOptions();

// --no-pivot: the mount points, in /proc/self/mountinfo order, of every full mount
// (root "/") of proc or sysfs that is not under `rootfs`. chroot leaves them
// reachable, and the kernel lets a container mount a fresh, unmasked procfs when
// one exists, so they must be unmounted (or covered) before the chroot, as runc does.
std::vector<std::string> RevealingMounts(std::string_view mountinfo, std::string_view rootfs);

// Mount points of /proc/self/mountinfo text strictly under dir, in mount order
// (a mount before those stacked on or under it).
std::vector<std::string> MountsUnder(std::string_view mountinfo, std::string_view dir);

}  // namespace husk::sys
