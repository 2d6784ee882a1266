// Small file-system helpers with Result errors that name the path.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace husk::fs {

Result<std::string> ReadFile(const std::string& path);
// Reads a file relative to a directory fd (no symlink following in the last component).
Result<std::string> ReadFileAt(int dirfd, const std::string& name);
// Writes data to path, truncating; no temp file.
Status WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);
// Writes to a temp file beside path, renames it over path: readers see the old
// or the new content, never a mix. With durable, fsyncs before the rename, for
// data that must survive a crash (not runtime state, which lives in tmpfs).
Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                       bool durable = false);
// The first half of WriteFileAtomic: the temp file written, not yet renamed.
// Commit renames it over the path; dropped uncommitted, it removes the temp.
// Lets a caller write ahead of time and publish at the right moment.
class PendingFile {
 public:
  static Result<PendingFile> Write(const std::string& path, std::string_view data,
                                   mode_t mode = 0644, bool durable = false);
  PendingFile(PendingFile&& o) noexcept : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)) {
    o.tmp_.clear();
  }
  PendingFile& operator=(PendingFile&&) = delete;
  ~PendingFile();
  Status Commit();

 private:
  PendingFile(std::string path, std::string tmp) : path_(std::move(path)), tmp_(std::move(tmp)) {}
  std::string path_, tmp_;  // tmp_ empty: committed or moved from
};
// mkdir -p; existing directories are fine.
Status MkdirAll(const std::string& path, mode_t mode = 0755);
// rm -rf that does not cross mount points and does not follow symlinks.
Status RemoveAll(const std::string& path);
bool Exists(const std::string& path);
bool IsDir(const std::string& path);
// Entries of a directory, without "." and "..", sorted.
Result<std::vector<std::string>> ListDir(const std::string& path);
Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode = 0);
// Joins two path pieces with exactly one '/'.
std::string Join(std::string_view a, std::string_view b);
// Makes path absolute against the current directory and removes "." and ".." lexically.
std::string Absolute(std::string_view path);
// Lexically cleans a path: removes duplicate '/', ".", and ".." (not above root for absolute).
std::string Clean(std::string_view path);

}  // namespace husk::fs
