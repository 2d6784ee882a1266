#include "archive/archive_file.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/decompress.h"
#include "archive/tar_reader.h"
#include "archive/tree.h"
#include "base/unique_fd.h"

namespace husk::archive {

namespace {

using internal::CleanEntryPath;
using internal::OpenInRoot;
using internal::RemoveAt;
using internal::SplitParent;
using internal::TarReader;
using internal::TreeRoot;

// Replaces whatever non-directory (or, for a new non-directory, anything) is
// named `base`: later members win, as in tar.
Status ClearFor(TreeRoot& root, int pfd, const std::string& base, const std::string& path,
                bool new_is_dir, bool* merge) {
  struct stat st;
  *merge = false;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return ErrnoErr("stat");
  }
  if (S_ISDIR(st.st_mode) && new_is_dir) {
    *merge = true;
    return Ok();
  }
  TRY(RemoveAt(pfd, base).wrap("replace"));
  root.Invalidate(path);
  return Ok();
}

// A symlink may point only within the destination, so that reading the
// extracted tree by plain paths (as `load` then does) cannot reach the host.
bool SymlinkStaysInside(std::string_view parent, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::string joined(parent);
  if (!joined.empty()) joined.push_back('/');
  joined.append(target);
  return CleanEntryPath(joined).has_value();
}

Status ExtractEntry(TreeRoot& root, TarReader& tar, archive_entry* e, const std::string& name,
                    ExtractStats& stats) {
  auto cleaned = CleanEntryPath(name);
  if (!cleaned) return Err("escapes the destination");
  const std::string& path = *cleaned;
  mode_t type = archive_entry_filetype(e);
  std::string hardlink = internal::EntryHardlink(e);
  if (path.empty()) {
    if (type == AE_IFDIR && hardlink.empty()) return Ok();
    return Err("the archive root must be a directory");
  }
  auto [parent, base_view] = SplitParent(path);
  std::string base(base_view);
  // Checked before anything is created for it.
  std::string target = type == AE_IFLNK ? internal::EntrySymlink(e) : std::string();
  if (hardlink.empty() && type == AE_IFLNK && !SymlinkStaysInside(parent, target))
    return Err("symlink target \"{}\" leaves the destination", target);
  int pfd = TRY(root.Dir(parent, true));
  bool merge;
  if (!hardlink.empty()) {
    auto t = CleanEntryPath(hardlink);
    if (!t || t->empty()) return Err("hardlink target \"{}\" escapes the destination", hardlink);
    if (*t == path) return Ok();
    auto [tparent, tbase] = SplitParent(*t);
    UniqueFd tdir;
    int tfd = root.fd();
    if (!tparent.empty()) {
      int r = OpenInRoot(root.fd(), std::string(tparent).c_str(), O_PATH | O_DIRECTORY);
      if (r == -ENOENT) return Err("hardlink target \"{}\" does not exist", hardlink);
      if (r < 0) return CodeErr(-r, "hardlink target \"{}\"", hardlink);
      tdir.reset(r);
      tfd = r;
    }
    TRY(ClearFor(root, pfd, base, path, false, &merge));
    if (::linkat(tfd, std::string(tbase).c_str(), pfd, base.c_str(), 0) != 0) {
      if (errno == ENOENT) return Err("hardlink target \"{}\" does not exist", hardlink);
      return ErrnoErr("hardlink to \"{}\"", hardlink);
    }
    return Ok();
  }
  switch (type) {
    case AE_IFDIR:
      TRY(ClearFor(root, pfd, base, path, true, &merge));
      if (!merge && ::mkdirat(pfd, base.c_str(), 0755) != 0) return ErrnoErr("create directory");
      return Ok();
    case AE_IFREG: {
      TRY(ClearFor(root, pfd, base, path, false, &merge));
      mode_t mode = (archive_entry_perm(e) & 0111) ? 0755 : 0644;
      UniqueFd fd(
          ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
      if (!fd) return ErrnoErr("create file");
      TRY(tar.CopyData(fd.get(), archive_entry_size(e)));
      stats.bytes += static_cast<uint64_t>(archive_entry_size(e));
      return Ok();
    }
    case AE_IFLNK: {
      TRY(ClearFor(root, pfd, base, path, false, &merge));
      if (::symlinkat(target.c_str(), pfd, base.c_str()) != 0) return ErrnoErr("create symlink");
      return Ok();
    }
  }
  return Err("unsupported member type {:o} (only files, directories and links)", type);
}

Result<std::unique_ptr<DecompressReader>> OpenTar(const std::string& path, UniqueFd& fd,
                                                  std::unique_ptr<FdReader>& raw) {
  fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  raw = std::make_unique<FdReader>(fd.get(), path);
  return std::make_unique<DecompressReader>(*raw);
}

}  // namespace

Result<ExtractStats> ExtractArchive(const std::string& archive_path, const std::string& dest_dir) {
  auto root = TRY(TreeRoot::Open(dest_dir));
  UniqueFd fd;
  std::unique_ptr<FdReader> raw;
  auto plain = TRY(OpenTar(archive_path, fd, raw));
  TarReader tar(*plain);
  TRY(tar.Open().wrap(archive_path));
  ExtractStats stats;
  for (;;) {
    archive_entry* e = TRY(tar.Next().wrap(archive_path));
    if (!e) break;
    stats.entries++;
    std::string name = internal::EntryPath(e);
    TRY_CTX(ExtractEntry(root, tar, e, name, stats), "{}: archive entry \"{}\"", archive_path,
            name);
  }
  return stats;
}

Result<std::string> ReadArchiveMember(const std::string& archive_path, const std::string& member,
                                      uint64_t max_size) {
  auto want = CleanEntryPath(member);
  if (!want || want->empty()) return Err("invalid archive member name \"{}\"", member);
  UniqueFd fd;
  std::unique_ptr<FdReader> raw;
  auto plain = TRY(OpenTar(archive_path, fd, raw));
  TarReader tar(*plain);
  TRY(tar.Open().wrap(archive_path));
  for (;;) {
    archive_entry* e = TRY(tar.Next().wrap(archive_path));
    if (!e) break;
    auto name = CleanEntryPath(internal::EntryPath(e));
    if (!name || *name != *want) continue;
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
      return Err("{}: member \"{}\" is not a regular file", archive_path, member);
    return tar.ReadData(static_cast<int64_t>(max_size))
        .wrap(fmt::format("{}: member \"{}\"", archive_path, member));
  }
  return CodeErr(ENOENT, "{}: no member \"{}\"", archive_path, member);
}

}  // namespace husk::archive
