// Resolving paths inside a container rootfs without ever leaving it.
//
// A rootfs is untrusted: any component of a mount destination may be a symlink
// such as `etc -> /etc` or `evil -> ../../..`, and a process in a running
// container may swap directories for symlinks while we work (CVE-2021-30465).
// Joining strings and letting the kernel follow links from the host's root is
// therefore wrong. Everything here resolves relative to a directory fd of the
// rootfs with openat2(RESOLVE_IN_ROOT): absolute links and ".." are clamped to
// that fd, as if the process had chroot()ed into it, and the kernel re-checks
// this on every step, so racing renames cannot escape either.
//
// To mount onto a resolved entry, pass FdPathNoAlloc's "/proc/self/fd/N" as
// the mount(2) target: the kernel mounts onto the inode the fd holds instead
// of walking a path again. The rootfd (and so every fd resolved from it) must
// be opened after entering the container's mount namespace: an fd opened
// before unshare(CLONE_NEWNS) names a mount of the old namespace, and mount(2)
// refuses such a target with EINVAL.
//
// Every function here runs in the cloned container child: no allocation, no
// logging, no exceptions. They return an fd (>= 0) or 0 on success, -errno on
// failure. Each uses at most two PATH_MAX buffers on the stack (~8 KiB in
// MkdirAllInRootNoAlloc, ~12 KiB in CreateFileInRootNoAlloc); the child's
// stack must allow that. openat2 needs Linux 5.6; older kernels get -ENOSYS.
#pragma once

#include <stddef.h>
#include <sys/types.h>

namespace husk::sys {

// How many symlinks a single walk may follow, as the kernel's MAXSYMLINKS.
inline constexpr int kMaxSymlinkHops = 40;

// openat2(rootfd, path, flags | O_CLOEXEC) with RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS. `path` may be absolute or relative; both are taken
// inside the root. `flags` may hold O_PATH, O_DIRECTORY, O_NOFOLLOW, access
// modes... but not O_CREAT (use CreateFileInRootNoAlloc). Retries the EAGAIN
// the kernel returns when a concurrent rename makes ".." resolution unsafe to
// verify. Returns the fd or -errno (-ENOENT when the entry does not exist
// inside the root, even if the same path exists on the host).
int OpenInRootNoAlloc(int rootfd, const char* path, int flags);

// mkdir -p of `path` inside the root. Each prefix is resolved from rootfd with
// RESOLVE_IN_ROOT, so a symlink anywhere along the way resolves inside the
// root, and missing directories are created with mkdirat() in the directory
// the previous prefix resolved to. A dangling symlink component is followed
// and its target created (as runc does for e.g. `/run -> /var/run`), still
// inside the root. `mode` is subject to the umask. Returns an
// O_PATH|O_DIRECTORY fd of the final directory, or -errno (-ENOTDIR when a
// component exists and is not a directory, -ELOOP after kMaxSymlinkHops).
int MkdirAllInRootNoAlloc(int rootfd, const char* path, mode_t mode);

// Makes `path`'s parent directories as MkdirAllInRootNoAlloc (mode 0755), then
// creates an empty regular file with `mode` if nothing exists there: the target
// for bind-mounting a file such as /etc/resolv.conf. A dangling symlink in the
// last component is followed and its target created inside the root. Returns
// an O_PATH fd of the entry, existing or new, whatever its type: callers that
// need a particular type fstat() it.
int CreateFileInRootNoAlloc(int rootfd, const char* path, mode_t mode);

// Writes "/proc/self/fd/<fd>" and a NUL into buf. Returns 0, -EBADF for a
// negative fd, or -ENAMETOOLONG when len is too small (32 bytes always fit).
int FdPathNoAlloc(int fd, char* buf, size_t len);

}  // namespace husk::sys
