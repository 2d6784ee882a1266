// Internal to the archive module: writing entries into a directory tree that
// an archive must not be able to leave.
//
// Entry names are cleaned lexically first: a leading "/" is dropped (tar and
// docker treat "/etc/x" as "etc/x"), "." disappears, and a ".." that would
// climb above the root is refused. Parent directories are then opened with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative to the root's fd:
// a symlink planted by an earlier entry (`lib -> /`, `x -> ../../..`) resolves
// inside the tree as if chrooted, and the kernel re-checks every step. The
// final component is always created or opened with *at calls and O_NOFOLLOW /
// O_EXCL / AT_SYMLINK_NOFOLLOW, so it is never followed either.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "base/unique_fd.h"

namespace husk::archive::internal {

// The cleaned relative path of an entry name ("" for the root itself), or
// nullopt when ".." climbs above the root.
std::optional<std::string> CleanEntryPath(std::string_view name);
// Splits a cleaned, non-empty path into its parent ("" for the root) and base.
std::pair<std::string_view, std::string_view> SplitParent(std::string_view path);

// openat2(dirfd, path, flags | O_CLOEXEC) resolved inside dirfd. Returns the
// fd or a negative errno (EAGAIN from concurrent renames is retried).
int OpenInRoot(int dirfd, const char* path, int flags);
// Like OpenInRoot, but any symlink on the way fails (ELOOP) and the path may
// not leave dirfd at all: for reading a tree someone else may be changing
// (a running container's upper dir), where a symlink is a race, not a path.
int OpenBeneath(int dirfd, const char* path, int flags);

// rm -rf of `name` in `dirfd` without following symlinks; ENOENT is success.
Status RemoveAt(int dirfd, const std::string& name);

// "/proc/self/fd/N" or "/proc/self/fd/N/name": reaches an inode held by an
// (O_PATH) fd with calls that take only a path (chmod, l*xattr).
std::string FdPath(int fd, std::string_view name = {});

// The root of an extraction and a one-entry cache of the last parent
// directory: tar streams list siblings together, so most entries reuse it.
class TreeRoot {
 public:
  static Result<TreeRoot> Open(const std::string& dir);

  int fd() const { return root_.get(); }
  const std::string& dir() const { return dir_; }

  // An O_PATH fd of directory `rel` (cleaned; "" is the root), valid until the
  // next call. Missing directories are created (mode 0755) when `create`.
  Result<int> Dir(std::string_view rel, bool create);

  // Drops the cached fd when it is `rel` or below it (rel was removed or replaced).
  void Invalidate(std::string_view rel);

 private:
  Result<int> MakeDirs(std::string_view rel);
  int Cache(std::string_view rel, int fd);

  std::string dir_;
  UniqueFd root_;
  std::string cached_path_;
  UniqueFd cached_fd_;
};

}  // namespace husk::archive::internal
