#include "runtime/mounts_child.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "runtime/child_util.h"
#include "sys/rootfs_path.h"

namespace husk::runtime {

namespace {

// Closes an fd at scope exit; the child has no UniqueFd-owning containers, but
// this one allocates nothing.
struct FdGuard {
  int fd;
  ~FdGuard() {
    if (fd >= 0) ::close(fd);
  }
};

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

int MountSetattr(int dfd, const char* path, unsigned flags, MountAttr* attr) {
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
  return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr));
}

// Flags a remount must keep: in a user namespace the kernel refuses to clear
// nosuid/nodev/noexec/atime flags locked by the mount's creator.
unsigned long LockedFlags(const char* target) {
  struct statvfs sv;
  if (::statvfs(target, &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// MS_REMOUNT|MS_BIND with flags; on EPERM retries keeping the locked flags.
int RemountBind(const char* target, unsigned long flags) {
  unsigned long f = MS_REMOUNT | MS_BIND | flags;
  if (::mount(nullptr, target, nullptr, f, nullptr) == 0) return 0;
  if (errno != EPERM) return -1;
  unsigned long locked = LockedFlags(target) & ~MS_RDONLY;
  if (locked & (MS_NOATIME | MS_NODIRATIME | MS_RELATIME)) f &= ~(MS_STRICTATIME);
  return ::mount(nullptr, target, nullptr, f | locked, nullptr);
}

// A mount point resolved inside the root: its fd, and the /proc/self/fd path
// that mount(2) takes, so the kernel does not walk a path in the rootfs again.
struct MountTarget {
  int fd = -1;
  char path[32] = {};
  ~MountTarget() {
    if (fd >= 0) ::close(fd);
  }
  // Takes an fd or -errno from the rootfs_path calls; a failure names what and dest.
  int Adopt(int r, const char* what, const std::string& dest, Message* err) {
    if (r < 0) return ChildFail(err, -r, what, dest.c_str());
    fd = r;
    sys::FdPathNoAlloc(fd, path, sizeof path);
    return 0;
  }
};

// The mount now on dest: resolved again, since an fd taken before mounting
// names the directory underneath.
int OpenMounted(int rootfd, const std::string& dest, MountTarget* t, Message* err) {
  return t->Adopt(sys::OpenInRootNoAlloc(rootfd, dest.c_str(), O_PATH), "open mount ", dest, err);
}

int SetPropagation(const MountTarget& t, const MountStep& m, Message* err) {
  if (m.propagation && ::mount(nullptr, t.path, nullptr, m.propagation, nullptr) != 0)
    return ChildFail(err, errno, "set propagation of ", m.dest.c_str());
  return 0;
}

int DoBind(int rootfd, const MountStep& m, Message* err) {
  MountTarget point;
  int r = m.dest_is_dir ? sys::MkdirAllInRootNoAlloc(rootfd, m.dest.c_str(), 0755)
                        : sys::CreateFileInRootNoAlloc(rootfd, m.dest.c_str(), 0644);
  if (point.Adopt(r, "create mount point ", m.dest, err) != 0) return -1;
  char fd_path[32];
  const char* from = m.source.c_str();
  if (m.source_fd >= 0) {
    sys::FdPathNoAlloc(m.source_fd, fd_path, sizeof fd_path);
    from = fd_path;
  }
  int rc = ::mount(from, point.path, nullptr, m.flags, nullptr);
  if (rc != 0)
    return ChildFail(err, errno, "bind mount ", m.source.c_str(), " on ", m.dest.c_str());
  if (m.remount_flags == 0 && m.propagation == 0 && m.rec_attr_set == 0 && m.rec_attr_clr == 0)
    return 0;
  MountTarget mounted;
  if (OpenMounted(rootfd, m.dest, &mounted, err) != 0) return -1;
  if (m.remount_flags && RemountBind(mounted.path, m.remount_flags) != 0)
    return ChildFail(err, errno, "remount ", m.dest.c_str());
  if (SetPropagation(mounted, m, err) != 0) return -1;
  if (m.rec_attr_set || m.rec_attr_clr) {
    MountAttr a{m.rec_attr_set, m.rec_attr_clr, 0, 0};
    if (MountSetattr(mounted.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) != 0)
      return ChildFail(err, errno, "set recursive attributes of ", m.dest.c_str());
  }
  return 0;
}

int DoMount(int rootfd, const MountStep& m, Message* err) {
  if (m.no_symlink) {
    // A /proc or /sys that is a symlink in the image would put the mount
    // somewhere unexpected (runc's CVE-2019-19921 class): refuse it.
    int fd = sys::OpenInRootNoAlloc(rootfd, m.dest.c_str(), O_PATH | O_NOFOLLOW);
    if (fd >= 0) {
      struct stat st;
      bool link = ::fstat(fd, &st) == 0 && S_ISLNK(st.st_mode);
      ::close(fd);
      if (link)
        return ChildFail(err, 0, m.fstype.c_str(), " must be mounted on ordinary directory, ",
                         m.dest.c_str(), " is a symlink");
    }
  }
  MountTarget point;
  if (point.Adopt(sys::MkdirAllInRootNoAlloc(rootfd, m.dest.c_str(), 0755), "create mount point ",
                  m.dest, err) != 0)
    return -1;
  const char* data = m.data.empty() ? nullptr : m.data.c_str();
  if (::mount(m.source.c_str(), point.path, m.fstype.c_str(), m.flags, data) == 0) {
    if (!m.propagation) return 0;
    MountTarget mounted;
    if (OpenMounted(rootfd, m.dest, &mounted, err) != 0) return -1;
    return SetPropagation(mounted, m, err);
  }
  int e = errno;
  if (!(m.is_sysfs && (e == EPERM || e == EBUSY)))
    return ChildFail(err, e, "mount ", m.fstype.c_str(), " on ", m.dest.c_str());
  // No private network namespace (or a user namespace): sysfs can't be
  // mounted anew, so bind the host's, as runc does.
  if (::mount("/sys", point.path, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return ChildFail(err, errno, "bind /sys on ", m.dest.c_str());
  MountTarget mounted;
  if (OpenMounted(rootfd, m.dest, &mounted, err) != 0) return -1;
  unsigned long f = m.flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (f && RemountBind(mounted.path, f) != 0)
    return ChildFail(err, errno, "remount ", m.dest.c_str());
  return 0;
}

int DoRemount(int rootfd, const MountStep& m, Message* err) {
  MountTarget mounted;
  if (OpenMounted(rootfd, m.dest, &mounted, err) != 0) return -1;
  if (::mount(nullptr, mounted.path, nullptr, m.flags | MS_REMOUNT, nullptr) != 0)
    return ChildFail(err, errno, "remount ", m.dest.c_str());
  return 0;
}

int DoSetAttrRec(int rootfd, const MountStep& m, Message* err) {
  MountTarget mounted;
  if (OpenMounted(rootfd, m.dest, &mounted, err) != 0) return -1;
  MountAttr a{m.rec_attr_set, m.rec_attr_clr, 0, 0};
  if (MountSetattr(mounted.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) != 0)
    return ChildFail(err, errno, "set recursive attributes of ", m.dest.c_str());
  return 0;
}

// Opens a directory inside the root (created if needed) for mknodat and
// symlinkat, which take no O_PATH fd.
int OpenDirInRoot(int rootfd, const char* dir, Message* err) {
  int fd = sys::MkdirAllInRootNoAlloc(rootfd, dir, 0755);
  if (fd < 0) return ChildFail(err, -fd, "create directory ", dir);
  char fdp[32];
  sys::FdPathNoAlloc(fd, fdp, sizeof fdp);
  int dfd = ::open(fdp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int e = errno;
  ::close(fd);
  if (dfd < 0) return ChildFail(err, e, "open directory ", dir);
  return dfd;
}

// The parent directory of the path last asked for, kept open while the next
// path has the same one: the devices and links of /dev then cost one open.
// Only for steps between which nothing is mounted over such a directory.
class ParentDirs {
 public:
  ParentDirs() { dir_[0] = 0; }
  ~ParentDirs() {
    if (fd_ >= 0) ::close(fd_);
  }
  ParentDirs(const ParentDirs&) = delete;
  ParentDirs& operator=(const ParentDirs&) = delete;

  // The fd of path's parent inside the root (not to be closed), *base its last
  // component; -1 after reporting the error.
  int Open(int rootfd, const char* path, const char** base, Message* err) {
    char dir[PATH_MAX];
    if (!SplitPathNoAlloc(path, dir, sizeof dir, base))
      return ChildFail(err, ENAMETOOLONG, "path ", path);
    if (fd_ >= 0 && strcmp(dir, dir_) == 0) return fd_;
    if (fd_ >= 0) ::close(fd_);
    dir_[0] = 0;
    fd_ = OpenDirInRoot(rootfd, dir, err);
    if (fd_ >= 0) memcpy(dir_, dir, strlen(dir) + 1);
    return fd_;
  }

 private:
  char dir_[PATH_MAX];
  int fd_ = -1;
};

int DoSymlink(int rootfd, ParentDirs& dirs, const char* link_text, const char* path, Message* err) {
  const char* base = nullptr;
  int dfd = dirs.Open(rootfd, path, &base, err);
  if (dfd < 0) return -1;
  if (::symlinkat(link_text, dfd, base) != 0 && errno != EEXIST)
    return ChildFail(err, errno, "symlink ", path, " -> ", link_text);
  return 0;
}

int DoDevice(int rootfd, ParentDirs& dirs, const DeviceStep& d, Message* err) {
  if (d.bind_from_host) {
    MountTarget point;
    if (point.Adopt(sys::CreateFileInRootNoAlloc(rootfd, d.path.c_str(), 0644),
                    "create device mount point ", d.path, err) != 0)
      return -1;
    if (::mount(d.path.c_str(), point.path, nullptr, MS_BIND, nullptr) != 0)
      return ChildFail(err, errno, "bind device ", d.path.c_str());
    return 0;
  }
  const char* base = nullptr;
  int dfd = dirs.Open(rootfd, d.path.c_str(), &base, err);
  if (dfd < 0) return -1;
  if (::mknodat(dfd, base, d.mode, d.dev) != 0) {
    if (errno != EEXIST) return ChildFail(err, errno, "mknod ", d.path.c_str());
    // Something is already there (an image may ship /dev/null as a file): replace it.
    if (::unlinkat(dfd, base, 0) != 0 || ::mknodat(dfd, base, d.mode, d.dev) != 0)
      return ChildFail(err, errno, "mknod ", d.path.c_str());
  }
  // mknod honours the umask; the spec's mode must hold exactly.
  if (::fchmodat(dfd, base, d.mode & 07777, 0) != 0)
    return ChildFail(err, errno, "chmod ", d.path.c_str());
  if (::fchownat(dfd, base, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
    return ChildFail(err, errno, "chown ", d.path.c_str());
  return 0;
}

int SetupDev(int rootfd, const InitPlan& p, Message* err) {
  ParentDirs dirs;
  for (auto& d : p.devices)
    if (DoDevice(rootfd, dirs, d, err) != 0) return -1;
  static const char* const kLinks[][2] = {{"/proc/self/fd", "/dev/fd"},
                                          {"/proc/self/fd/0", "/dev/stdin"},
                                          {"/proc/self/fd/1", "/dev/stdout"},
                                          {"/proc/self/fd/2", "/dev/stderr"}};
  for (auto& l : kLinks)
    if (DoSymlink(rootfd, dirs, l[0], l[1], err) != 0) return -1;
  // /dev/ptmx must be the container's devpts instance, not the host's.
  int pts = sys::OpenInRootNoAlloc(rootfd, "/dev/pts/ptmx", O_PATH | O_NOFOLLOW);
  if (pts >= 0) {
    ::close(pts);
    const char* base = nullptr;
    int dfd = dirs.Open(rootfd, "/dev/ptmx", &base, err);
    if (dfd < 0) return -1;
    ::unlinkat(dfd, base, 0);
    if (::symlinkat("pts/ptmx", dfd, base) != 0) return ChildFail(err, errno, "symlink /dev/ptmx");
  }
  return 0;
}

}  // namespace

bool SplitPathNoAlloc(const char* path, char* dir, size_t dir_len, const char** base) noexcept {
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') --len;
  size_t slash = len;
  while (slash > 0 && path[slash - 1] != '/') --slash;
  *base = path + slash;
  size_t dlen = slash > 1 ? slash - 1 : (slash == 1 ? 1 : 0);
  if (dlen == 0) {
    if (dir_len < 2) return false;
    dir[0] = '.';
    dir[1] = 0;
    return true;
  }
  if (dlen + 1 > dir_len) return false;
  memcpy(dir, path, dlen);
  dir[dlen] = 0;
  return true;
}

int SetupRootfsNoAlloc(const InitPlan& p, Message* err) noexcept {
  // Nothing we mount may propagate back to the host. Shared propagation, when
  // asked for, is applied to the new root only after pivot_root.
  unsigned long prop = p.root_propagation;
  if (prop & MS_SHARED) prop = MS_SLAVE | MS_REC;
  if (!p.host_mount_ns && ::mount(nullptr, "/", nullptr, prop, nullptr) != 0)
    return ChildFail(err, errno, "set propagation of /");
  // (In the caller's mount namespace the rootfs is not bound onto itself: chroot
  // needs no mount point, and `delete` then finds every mount of the container
  // strictly under the rootfs.)
  if (!p.host_mount_ns &&
      ::mount(p.rootfs.c_str(), p.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return ChildFail(err, errno, "bind mount rootfs ", p.rootfs.c_str());
  int rootfd = ::open(p.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return ChildFail(err, errno, "open rootfs ", p.rootfs.c_str());
  FdGuard g{rootfd};
  for (auto& m : p.mounts) {
    int r = 0;
    switch (m.kind) {
      case MountStep::Kind::kBind:
        r = DoBind(rootfd, m, err);
        break;
      case MountStep::Kind::kMount:
        r = DoMount(rootfd, m, err);
        break;
      case MountStep::Kind::kSymlink: {
        // Not kept across steps: a later mount may cover the directory.
        ParentDirs dirs;
        r = DoSymlink(rootfd, dirs, m.source.c_str(), m.dest.c_str(), err);
        break;
      }
      case MountStep::Kind::kRemount:
        r = DoRemount(rootfd, m, err);
        break;
      case MountStep::Kind::kSetAttrRec:
        r = DoSetAttrRec(rootfd, m, err);
        break;
    }
    if (r != 0) return -1;
  }
  g.fd = -1;  // the caller's now
  return rootfd;
}

int SetupDevicesNoAlloc(const InitPlan& p, int rootfd, Message* err) noexcept {
  if (p.setup_dev && SetupDev(rootfd, p, err) != 0) return -1;
  for (auto& m : p.late_remounts)
    if (DoRemount(rootfd, m, err) != 0) return -1;
  return 0;
}

int EnterRootfsNoAlloc(const InitPlan& p, Message* err) noexcept {
  if (::chdir(p.rootfs.c_str()) != 0) return ChildFail(err, errno, "chdir ", p.rootfs.c_str());
  if (p.host_mount_ns) {
    // The caller's mount namespace: neither pivot_root nor MS_MOVE may touch it.
    if (::chroot(".") != 0) return ChildFail(err, errno, "chroot");
  } else if (p.no_pivot) {
    // chroot keeps the host's proc and sysfs reachable, which would let the
    // container mount an unmasked procfs: drop them from our mount namespace.
    for (auto& m : p.no_pivot_hide) {
      if (::mount(nullptr, m.c_str(), nullptr, MS_SLAVE | MS_REC, nullptr) != 0) {
        if (errno == ENOENT) continue;  // under one already detached
        return ChildFail(err, errno, "make ", m.c_str(), " a slave");
      }
      if (::umount2(m.c_str(), MNT_DETACH) == 0) continue;
      if (errno != EINVAL && errno != EPERM) return ChildFail(err, errno, "detach ", m.c_str());
      if (::mount("tmpfs", m.c_str(), "tmpfs", 0, nullptr) != 0)
        return ChildFail(err, errno, "cover ", m.c_str(), " with tmpfs");
    }
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0)
      return ChildFail(err, errno, "move rootfs to /");
    if (::chroot(".") != 0) return ChildFail(err, errno, "chroot");
  } else {
    // pivot_root(".", ".") stacks the old root under the new one; detaching
    // "." afterwards drops it without needing a directory for it in the rootfs.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return ChildFail(err, errno, "pivot_root");
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
      return ChildFail(err, errno, "make old root a slave");
    if (::umount2(".", MNT_DETACH) != 0) return ChildFail(err, errno, "detach old root");
  }
  if (::chdir("/") != 0) return ChildFail(err, errno, "chdir /");
  return 0;
}

int FinishRootfsNoAlloc(const InitPlan& p, Message* err) noexcept {
  for (auto& [path, value] : p.sysctls) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return ChildFail(err, errno, "sysctl ", path.c_str());
    ssize_t n = ::write(fd, value.data(), value.size());
    int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(value.size()))
      return ChildFail(err, n < 0 ? e : EIO, "sysctl ", path.c_str(), "=", value.c_str());
  }
  for (auto& path : p.readonly_paths) {
    if (::mount(path.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return ChildFail(err, errno, "bind readonly path ", path.c_str());
    }
    if (RemountBind(path.c_str(), MS_RDONLY | MS_REC) != 0)
      return ChildFail(err, errno, "remount readonly path ", path.c_str());
  }
  for (auto& path : p.masked_paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return ChildFail(err, errno, "stat masked path ", path.c_str());
    }
    int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                : ::mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr);
    if (r != 0) return ChildFail(err, errno, "mask ", path.c_str());
  }
  if (p.readonly_root && RemountBind("/", MS_RDONLY) != 0)
    return ChildFail(err, errno, "remount / read-only");
  if ((p.root_propagation & MS_SHARED) && !p.host_mount_ns &&
      ::mount(nullptr, "/", nullptr, p.root_propagation, nullptr) != 0)
    return ChildFail(err, errno, "set rootfs propagation");
  return 0;
}

}  // namespace husk::runtime
