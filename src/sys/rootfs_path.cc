#include "sys/rootfs_path.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace husk::sys {
namespace {

// A kernel-side retry limit would be nicer, but the EAGAIN from RESOLVE_IN_ROOT
// only means "a rename raced with '..' handling": a few retries clear it, a
// livelock by a hostile container must not hang us.
constexpr int kEagainRetries = 32;

int OpenAt2(int dirfd, const char* path, int flags, unsigned long long resolve) {
  open_how how;
  memset(&how, 0, sizeof(how));
  how.flags = static_cast<unsigned long long>(flags) | O_CLOEXEC;
  how.resolve = resolve;
  for (int i = 0;; ++i) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    if ((errno == EAGAIN && i < kEagainRetries) || errno == EINTR) continue;
    return -errno;
  }
}

int OpenDirInRoot(int rootfd, const char* path) {
  return OpenAt2(rootfd, path, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

// Replaces the component path[start, end) — a symlink living in dirfd — with
// the link's target, writing "<path[0,start)><target><path[end..]>" into out
// (PATH_MAX bytes). An absolute target drops the prefix: RESOLVE_IN_ROOT takes
// it from the root. Joining the lexical prefix with a relative target resolves
// the same as the kernel following the link, because the prefix resolves to
// the directory holding the link. Returns 0 or -errno (-ENOENT when the entry
// is gone or not a symlink any more, i.e. someone raced us).
int SpliceSymlink(int dirfd, char* path, size_t start, size_t end, char* out) {
  if (start >= PATH_MAX) return -ENAMETOOLONG;
  char saved = path[end];
  path[end] = '\0';
  ssize_t n = readlinkat(dirfd, path + start, out + start, PATH_MAX - start);
  int err = errno;
  path[end] = saved;
  if (n < 0) return err == EINVAL ? -ENOENT : -err;
  if (n == 0) return -ENOENT;
  if (static_cast<size_t>(n) >= PATH_MAX - start) return -ENAMETOOLONG;
  size_t len;
  if (out[start] == '/') {
    memmove(out, out + start, n);
    len = n;
  } else {
    memcpy(out, path, start);
    len = start + n;
  }
  size_t rest = strlen(path + end);
  if (len + rest + 1 > PATH_MAX) return -ENAMETOOLONG;
  memcpy(out + len, path + end, rest + 1);
  return 0;
}

// When path's parent resolves inside the root, makes its last component there
// and opens the result; -ENOENT when the parent is missing or the new name
// resolves to nothing (a dangling symlink was there): the caller walks then.
int MkdirLastInRoot(int rootfd, char* path, mode_t mode) {
  size_t len = strlen(path);
  if (len == 0 || path[len - 1] == '/') return -ENOENT;
  size_t base = len;
  while (base > 0 && path[base - 1] != '/') --base;
  const char* name = path + base;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return -ENOENT;
  char saved = path[base];
  path[base] = '\0';
  int parent = OpenDirInRoot(rootfd, base ? path : ".");
  path[base] = saved;
  if (parent < 0) return parent;
  // mkdirat never follows a symlink in the last component: nothing outside.
  int r = mkdirat(parent, name, mode) == 0 || errno == EEXIST ? 0 : -errno;
  close(parent);
  if (r < 0) return r;
  return OpenDirInRoot(rootfd, path);
}

// Resolves the directory `path` inside the root, creating what is missing.
// `path` and `scratch` are PATH_MAX buffers; `path` holds the NUL-terminated
// path and is rewritten when a dangling symlink is followed.
int MkdirAllWalk(int rootfd, char* path, char* scratch, mode_t mode) {
  for (int hops = 0; hops <= kMaxSymlinkHops; ++hops) {
    // Usually everything exists already (the rootfs ships /proc, /dev...).
    int fd = OpenDirInRoot(rootfd, path[0] ? path : "/");
    if (fd != -ENOENT) return fd;
    // Next most often only the last component is missing (/sys/fs/cgroup/cpu).
    fd = MkdirLastInRoot(rootfd, path, mode);
    if (fd != -ENOENT) return fd;

    int parent = OpenDirInRoot(rootfd, "/");
    if (parent < 0) return parent;
    size_t i = 0;
    for (;;) {
      while (path[i] == '/') ++i;
      if (path[i] == '\0') return parent;
      size_t j = i;
      while (path[j] != '\0' && path[j] != '/') ++j;
      char saved = path[j];
      path[j] = '\0';
      // Resolving the whole prefix from the root (rather than the last
      // component from `parent`) is what keeps absolute links inside.
      fd = OpenDirInRoot(rootfd, path);
      if (fd == -ENOENT) {
        if (mkdirat(parent, path + i, mode) == 0 || errno == EEXIST) {
          fd = OpenDirInRoot(rootfd, path);
        } else {
          fd = -errno;
        }
      }
      path[j] = saved;
      if (fd == -ENOENT) {
        // The name exists but resolves to nothing: a dangling symlink. Create
        // what it points to by walking the spliced path from the start.
        int r = SpliceSymlink(parent, path, i, j, scratch);
        close(parent);
        if (r < 0) return r;
        memcpy(path, scratch, strlen(scratch) + 1);
        break;
      }
      close(parent);
      if (fd < 0) return fd;
      parent = fd;
      i = j;
    }
  }
  return -ELOOP;
}

// Copies a caller's path into a PATH_MAX buffer.
int CopyPath(const char* src, char* dst) {
  if (src == nullptr) return -EINVAL;
  size_t n = strlen(src);
  if (n >= PATH_MAX) return -ENAMETOOLONG;
  memcpy(dst, src, n + 1);
  return 0;
}

}  // namespace

int OpenInRootNoAlloc(int rootfd, const char* path, int flags) {
  if (path == nullptr) return -EINVAL;
  // Creating needs a mode and a parent walk: that is CreateFileInRootNoAlloc.
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) return -EINVAL;
  return OpenAt2(rootfd, path[0] ? path : "/", flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int MkdirAllInRootNoAlloc(int rootfd, const char* path, mode_t mode) {
  char buf[PATH_MAX];
  char scratch[PATH_MAX];
  int r = CopyPath(path, buf);
  if (r < 0) return r;
  return MkdirAllWalk(rootfd, buf, scratch, mode);
}

int CreateFileInRootNoAlloc(int rootfd, const char* path, mode_t mode) {
  char buf[PATH_MAX];
  char scratch[PATH_MAX];
  char dir[PATH_MAX];
  int r = CopyPath(path, buf);
  if (r < 0) return r;
  for (int hops = 0; hops <= kMaxSymlinkHops; ++hops) {
    int fd = OpenAt2(rootfd, buf[0] ? buf : "/", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd != -ENOENT) return fd;

    // Split into directory and last component; trailing slashes mean the
    // caller named a directory that does not exist, which we do not guess at.
    size_t len = strlen(buf);
    if (len == 0 || buf[len - 1] == '/') return -ENOENT;
    size_t base = len;
    while (base > 0 && buf[base - 1] != '/') --base;
    memcpy(dir, buf, base);
    dir[base] = '\0';
    int parent = MkdirAllWalk(rootfd, dir, scratch, 0755);
    if (parent < 0) return parent;

    // O_EXCL never follows a symlink in the last component, so this cannot
    // create anything outside `parent`. O_RDONLY works even for mode 0.
    int file = openat(parent, buf + base,
                      O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, mode);
    if (file >= 0) {
      close(file);
    } else if (errno == EEXIST) {
      // Something exists that resolved to nothing a moment ago: a dangling
      // symlink (or a race). Follow the link, if it is one, and start over.
      r = SpliceSymlink(parent, buf, base, len, scratch);
      close(parent);
      if (r == -ENOENT) continue;  // raced: it is something else now
      if (r < 0) return r;
      memcpy(buf, scratch, strlen(scratch) + 1);
      continue;
    } else {
      r = -errno;
      close(parent);
      return r;
    }
    close(parent);
    // Re-resolve from the root, like the fast path: whatever now lives there
    // is inside the root, which is all the caller's mount needs.
    return OpenAt2(rootfd, buf, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  }
  return -ELOOP;
}

int FdPathNoAlloc(int fd, char* buf, size_t len) {
  if (fd < 0) return -EBADF;
  static constexpr char kPrefix[] = "/proc/self/fd/";
  constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
  char digits[16];
  size_t n = 0;
  unsigned v = static_cast<unsigned>(fd);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (buf == nullptr || len < kPrefixLen + n + 1) return -ENAMETOOLONG;
  memcpy(buf, kPrefix, kPrefixLen);
  for (size_t k = 0; k < n; ++k) buf[kPrefixLen + k] = digits[n - 1 - k];
  buf[kPrefixLen + n] = '\0';
  return 0;
}

}  // namespace husk::sys
