#include "archive/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace husk::archive::internal {

std::optional<std::string> CleanEntryPath(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  size_t i = 0;
  while (i < name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view part = name.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (out.empty()) return std::nullopt;
      size_t slash = out.rfind('/');
      out.resize(slash == std::string::npos ? 0 : slash);
      continue;
    }
    if (!out.empty()) out.push_back('/');
    out.append(part);
  }
  return out;
}

std::pair<std::string_view, std::string_view> SplitParent(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

namespace {

int OpenAt2(int dirfd, const char* path, int flags, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  for (int tries = 0;; tries++) {
    long fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if ((errno == EAGAIN && tries < 64) || errno == EINTR) continue;
    return -errno;
  }
}

}  // namespace

int OpenInRoot(int dirfd, const char* path, int flags) {
  return OpenAt2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int OpenBeneath(int dirfd, const char* path, int flags) {
  return OpenAt2(dirfd, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
}

Status RemoveAt(int dirfd, const std::string& name) {
  if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return Ok();
  if (errno != EISDIR) return ErrnoErr("remove \"{}\"", name);
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoErr("open \"{}\"", name);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return ErrnoErr("open \"{}\"", name);
  fd.release();  // the DIR owns it now
  // Names first, removal after: unlinking while readdir walks is allowed but
  // may skip entries on some file systems.
  std::vector<std::string> children;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") children.emplace_back(n);
  }
  Status st;
  for (const auto& c : children) {
    st = RemoveAt(::dirfd(d), c);
    if (!st) break;
  }
  ::closedir(d);
  if (!st) return std::move(st).wrap(name);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return ErrnoErr("remove \"{}\"", name);
  return Ok();
}

std::string FdPath(int fd, std::string_view name) {
  std::string p = "/proc/self/fd/" + std::to_string(fd);
  if (!name.empty()) {
    p.push_back('/');
    p.append(name);
  }
  return p;
}

Result<TreeRoot> TreeRoot::Open(const std::string& dir) {
  TreeRoot t;
  t.dir_ = dir;
  t.root_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!t.root_) return ErrnoErr("open {}", dir);
  // Probe once so an old kernel fails with a clear message, not per entry.
  int probe = OpenInRoot(t.root_.get(), ".", O_PATH | O_DIRECTORY);
  if (probe == -ENOSYS) return CodeErr(ENOSYS, "openat2 (Linux 5.6 or later) is required");
  if (probe < 0) return CodeErr(-probe, "open {}", dir);
  UniqueFd(probe).reset();
  return t;
}

Result<int> TreeRoot::Dir(std::string_view rel, bool create) {
  if (rel.empty()) return root_.get();
  if (cached_fd_ && rel == cached_path_) return cached_fd_.get();
  int fd = OpenInRoot(root_.get(), std::string(rel).c_str(), O_PATH | O_DIRECTORY);
  if (fd == -ENOENT && create) return MakeDirs(rel);
  if (fd < 0) return CodeErr(-fd, "open directory \"{}\"", rel);
  return Cache(rel, fd);
}

Result<int> TreeRoot::MakeDirs(std::string_view rel) {
  // Each prefix is resolved from the root again, so a symlink met on the way
  // stays inside; each missing one is made in its resolved parent.
  UniqueFd parent;
  size_t i = 0;
  for (;;) {
    size_t j = rel.find('/', i);
    if (j == std::string_view::npos) j = rel.size();
    std::string prefix(rel.substr(0, j));
    int fd = OpenInRoot(root_.get(), prefix.c_str(), O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
      std::string name(rel.substr(i, j - i));
      int at = parent ? parent.get() : root_.get();
      if (::mkdirat(at, name.c_str(), 0755) != 0 && errno != EEXIST)
        return ErrnoErr("create directory \"{}\"", prefix);
      fd = OpenInRoot(root_.get(), prefix.c_str(), O_PATH | O_DIRECTORY);
    }
    if (fd < 0) return CodeErr(-fd, "open directory \"{}\"", prefix);
    parent.reset(fd);
    if (j == rel.size()) break;
    i = j + 1;
  }
  return Cache(rel, parent.release());
}

void TreeRoot::Invalidate(std::string_view rel) {
  if (!cached_fd_) return;
  std::string_view c = cached_path_;
  if (rel.empty() ||
      (c.substr(0, rel.size()) == rel && (c.size() == rel.size() || c[rel.size()] == '/'))) {
    cached_fd_.reset();
    cached_path_.clear();
  }
}

int TreeRoot::Cache(std::string_view rel, int fd) {
  cached_fd_.reset(fd);
  cached_path_.assign(rel);
  return fd;
}

}  // namespace husk::archive::internal
