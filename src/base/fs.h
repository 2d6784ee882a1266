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
