#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace husk::fs {

namespace {

Result<std::string> ReadAll(int fd, const std::string& what) {
  // Straight into the string, sized from fstat where the file tells its size:
  // a large stack buffer would touch fresh stack pages, and page faults are
  // the dearest part of a short huskrun under some hypervisors.
  size_t want = 4096;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
    want = static_cast<size_t>(st.st_size) + 1;  // +1: the read that sees EOF
  std::string out;
  size_t len = 0;
  for (;;) {
    if (len == out.size()) out.resize(std::max(want, out.size() * 2));
    ssize_t n = ::read(fd, out.data() + len, out.size() - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {}", what);
    }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  out.resize(len);
  return out;
}

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("write {}", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

}  // namespace

Result<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  return ReadAll(fd.get(), path);
}

Result<std::string> ReadFileAt(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return ErrnoErr("open {}", name);
  return ReadAll(fd.get(), name);
}

Status WriteFile(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoErr("open {}", path);
  return WriteAll(fd.get(), data, path);
}

Result<PendingFile> PendingFile::Write(const std::string& path, std::string_view data, mode_t mode,
                                       bool durable) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return ErrnoErr("open {}", tmp);
  PendingFile f(path, tmp);  // removes tmp on every error return below
  TRY(WriteAll(fd.get(), data, tmp));
  if (durable && ::fsync(fd.get()) != 0) return ErrnoErr("fsync {}", tmp);
  return f;
}

PendingFile::~PendingFile() {
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status PendingFile::Commit() {
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return ErrnoErr("rename {} to {}", tmp_, path_);
  tmp_.clear();
  return Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  auto f = TRY(PendingFile::Write(path, data, mode, durable));
  return f.Commit();
}

Status MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return Ok();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return CodeErr(ENOTDIR, "mkdir {}", path);
  }
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TRY(MkdirAll(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoErr("mkdir {}", path);
  return Ok();
}

namespace {

Status RemoveAt(int dirfd, const char* name, dev_t dev, const std::string& shown) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return ErrnoErr("stat {}", shown);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return CodeErr(EBUSY, "remove {}: a mount point", shown);
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoErr("open {}", shown);
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return ErrnoErr("opendir {}", shown);
    }
    Status result;
    while (struct dirent* e = ::readdir(d)) {
      if (std::string_view(e->d_name) == "." || std::string_view(e->d_name) == "..") continue;
      auto st2 = RemoveAt(::dirfd(d), e->d_name, dev, shown + "/" + e->d_name);
      if (!st2) {
        result = std::move(st2);
        break;
      }
    }
    ::closedir(d);
    if (!result) return result;
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return ErrnoErr("rmdir {}", shown);
    return Ok();
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return ErrnoErr("unlink {}", shown);
  return Ok();
}

}  // namespace

Status RemoveAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Ok();
    return ErrnoErr("stat {}", path);
  }
  return RemoveAt(AT_FDCWD, path.c_str(), st.st_dev, path);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return ErrnoErr("opendir {}", path);
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoErr("open {}", path);
  return UniqueFd(fd);
}

std::string Join(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out.push_back('/');
  out.append(b);
  return out;
}

std::string Clean(std::string_view path) {
  bool abs = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view p = path.substr(i, j - i);
    if (p.empty() || p == ".") {
    } else if (p == "..") {
      if (!parts.empty() && parts.back() != "..")
        parts.pop_back();
      else if (!abs)
        parts.push_back(p);
    } else {
      parts.push_back(p);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out.push_back('/');
    out.append(parts[k]);
  }
  if (out.empty()) out = ".";
  return out;
}

std::string Absolute(std::string_view path) {
  if (!path.empty() && path.front() == '/') return Clean(path);
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return Clean(path);
  return Clean(Join(cwd, path));
}

}  // namespace husk::fs
