// Internal to assemble*.cc: file operations on an image root by paths as the
// image sees them ("/etc/passwd"). Parents are resolved inside the root with
// openat2(RESOLVE_IN_ROOT), so a package's symlink (/etc -> /host/etc) is
// followed as if chrooted; the last component is never followed when writing
// or removing. Errors name the in-image path.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "build/assemble.h"

namespace husk::build::internal {

class RootFs {
 public:
  static Result<RootFs> Open(const std::string& dir);
  const std::string& dir() const { return dir_; }
  int fd() const { return fd_.get(); }

  // lstat of the last component (nullopt when missing).
  Result<std::optional<struct stat>> Lstat(std::string_view path) const;
  // stat through symlinks, inside the root (nullopt when missing or dangling).
  Result<std::optional<struct stat>> Stat(std::string_view path) const;
  // Follows symlinks inside the root, the last one included.
  Result<std::string> ReadFile(std::string_view path) const;
  // Sorted names in a directory; empty when it does not exist.
  Result<std::vector<std::string>> List(std::string_view path) const;

  // mkdir -p: missing directories are made with `mode` and owner uid:gid
  // (existing ones are left as they are).
  Status MkdirAll(std::string_view path, mode_t mode = 0755, uid_t uid = 0, gid_t gid = 0) const;
  // Replaces a non-directory at path (or creates it) with a file of `data`.
  Status WriteFile(std::string_view path, std::string_view data, mode_t mode = 0644, uid_t uid = 0,
                   gid_t gid = 0);
  // Replaces a non-directory (or an empty directory) with a symlink.
  Status Symlink(std::string_view path, std::string_view target, uid_t uid = 0, gid_t gid = 0);
  // Sets mode and owner of what path names (symlinks followed inside the root).
  Status SetMeta(std::string_view path, mode_t mode, uid_t uid, gid_t gid);
  // rm -rf without following the last component; a missing path is fine.
  Status Remove(std::string_view path);

 private:
  // The cleaned relative path ("" for the root); errors when ".." climbs out.
  static Result<std::string> Rel(std::string_view path);
  // An O_PATH fd of the parent of rel, and rel's last component.
  Result<std::pair<UniqueFd, std::string>> Parent(std::string_view path, bool create) const;

  std::string dir_;
  UniqueFd fd_;
};

// chown when running as root; a no-op otherwise (an unprivileged build cannot
// give files away, and the layer writer records what is there).
Status ChownIfRoot(int dirfd, const char* name, uid_t uid, gid_t gid, int flags);

// Steps of AssembleTree in assemble_etc.cc.
Status WriteAccounts(RootFs& root, const Accounts& accounts);
Status WriteNsswitch(RootFs& root);
Status WriteOsRelease(RootFs& root, const BuildSpec& spec);
Status WriteCaBundle(RootFs& root);
Status UpdateLdCache(RootFs& root, const std::string& arch);

}  // namespace husk::build::internal
