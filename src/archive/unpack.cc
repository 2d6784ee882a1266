#include "archive/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <map>
#include <unordered_set>
#include <vector>

#include "archive/tar_reader.h"
#include "archive/tree.h"

namespace husk::archive {

namespace {

using internal::CleanEntryPath;
using internal::EntryHardlink;
using internal::EntrySymlink;
using internal::FdPath;
using internal::OpenInRoot;
using internal::RemoveAt;
using internal::SplitParent;
using internal::TarReader;
using internal::TreeRoot;

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

std::string JoinRel(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string p(dir);
  p.push_back('/');
  p.append(name);
  return p;
}

// atime and mtime as stored; what the entry does not carry is left alone.
void EntryTimes(archive_entry* e, timespec ts[2]) {
  ts[0] = {0, UTIME_OMIT};
  ts[1] = {0, UTIME_OMIT};
  if (archive_entry_atime_is_set(e)) ts[0] = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
  if (archive_entry_mtime_is_set(e)) ts[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
}

class Unpacker {
 public:
  Unpacker(TreeRoot root, const UnpackOptions& o, TarReader& tar)
      : root_(std::move(root)), opts_(o), tar_(tar) {}

  Status Entry(archive_entry* e, const std::string& name);
  // Directory modes and times, now that their contents stopped changing.
  Status Finish();
  uint64_t xattrs_skipped() const { return xattrs_skipped_; }

 private:
  struct DirMeta {
    mode_t mode;
    timespec times[2];
  };
  bool applying() const { return opts_.whiteouts == Whiteouts::kApply; }

  Status Directory(archive_entry* e, int pfd, const std::string& base, const std::string& path);
  Status File(archive_entry* e, int pfd, const std::string& base, const std::string& path);
  Status Symlink(archive_entry* e, int pfd, const std::string& base, const std::string& path);
  Status Node(archive_entry* e, int pfd, const std::string& base, const std::string& path);
  Status Hardlink(const std::string& target, int pfd, const std::string& base,
                  const std::string& path);
  Status Whiteout(std::string_view parent, std::string_view base);
  Status Opaque(std::string_view dir);
  Status RemovePreexisting(const std::string& dir);

  // Something named `base` is where a new entry goes. Tar semantics: the later
  // entry wins, except that a directory over a directory merges (returns true).
  Result<bool> Clear(int pfd, const std::string& base, const std::string& path, bool new_is_dir);
  void Removed(const std::string& path);
  Status Xattrs(archive_entry* e, int fd, int pfd, const std::string& base);
  // Marks path and its parents as written by this layer (kApply's opaque rule).
  void Touch(std::string_view path);

  TreeRoot root_;
  const UnpackOptions& opts_;
  TarReader& tar_;
  std::map<std::string, DirMeta> dirs_;
  std::unordered_set<std::string> touched_;
  uint64_t xattrs_skipped_ = 0;
};

Status Unpacker::Entry(archive_entry* e, const std::string& name) {
  auto cleaned = CleanEntryPath(name);
  if (!cleaned) return Err("escapes the layer");
  const std::string& path = *cleaned;
  std::string hardlink = EntryHardlink(e);
  mode_t type = archive_entry_filetype(e);

  if (path.empty()) {
    // "./": the layer's own root. Its metadata applies to the target.
    if (!hardlink.empty() || type != AE_IFDIR) return Err("the layer root must be a directory");
    if (opts_.keep_owners &&
        ::fchownat(root_.fd(), "", archive_entry_uid(e), archive_entry_gid(e), AT_EMPTY_PATH) != 0)
      return ErrnoErr("chown");
    TRY(Xattrs(e, -1, root_.fd(), ""));
    DirMeta& m = dirs_[path];
    m.mode = archive_entry_perm(e);
    EntryTimes(e, m.times);
    return Ok();
  }

  auto [parent, base_view] = SplitParent(path);
  if (StartsWith(base_view, kWhiteoutPrefix)) return Whiteout(parent, base_view);
  std::string base(base_view);
  int pfd = TRY(root_.Dir(parent, true));
  if (applying()) Touch(path);
  if (!hardlink.empty()) return Hardlink(hardlink, pfd, base, path);
  switch (type) {
    case AE_IFREG:
      return File(e, pfd, base, path);
    case AE_IFDIR:
      return Directory(e, pfd, base, path);
    case AE_IFLNK:
      return Symlink(e, pfd, base, path);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      return Node(e, pfd, base, path);
  }
  return Err("unsupported entry type {:o}", type);
}

Result<bool> Unpacker::Clear(int pfd, const std::string& base, const std::string& path,
                             bool new_is_dir) {
  struct stat st;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoErr("stat");
  }
  if (S_ISDIR(st.st_mode) && new_is_dir) return true;
  TRY(RemoveAt(pfd, base).wrap("replace"));
  Removed(path);
  return false;
}

void Unpacker::Removed(const std::string& path) {
  root_.Invalidate(path);
  // A directory that is gone (or replaced) gets no deferred mode or times,
  // nor does anything that was below it.
  dirs_.erase(path);
  auto lo = dirs_.lower_bound(path + "/");
  auto hi = dirs_.lower_bound(path + "0");  // '0' follows '/'
  dirs_.erase(lo, hi);
}

void Unpacker::Touch(std::string_view path) {
  while (!path.empty() && touched_.emplace(path).second) path = SplitParent(path).first;
}

Status Unpacker::Directory(archive_entry* e, int pfd, const std::string& base,
                           const std::string& path) {
  // 0700 until Finish: a read-only directory must still take its children.
  if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
    if (errno != EEXIST) return ErrnoErr("create directory");
    bool merge = TRY(Clear(pfd, base, path, true));
    if (!merge && ::mkdirat(pfd, base.c_str(), 0700) != 0) return ErrnoErr("create directory");
  }
  if (opts_.keep_owners && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e),
                                      AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoErr("chown");
  TRY(Xattrs(e, -1, pfd, base));
  DirMeta& m = dirs_[path];
  m.mode = archive_entry_perm(e);
  EntryTimes(e, m.times);
  return Ok();
}

Status Unpacker::File(archive_entry* e, int pfd, const std::string& base, const std::string& path) {
  // O_EXCL | O_NOFOLLOW: never write through whatever already has this name.
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(pfd, base.c_str(), kFlags, 0600));
  if (!fd && errno == EEXIST) {
    TRY(Clear(pfd, base, path, false));
    fd.reset(::openat(pfd, base.c_str(), kFlags, 0600));
  }
  if (!fd) return ErrnoErr("create file");
  TRY(tar_.CopyData(fd.get(), archive_entry_size(e)));
  // chown, then chmod (chown drops setuid/setgid), then xattrs (chown drops
  // security.capability), then times.
  if (opts_.keep_owners && ::fchown(fd.get(), archive_entry_uid(e), archive_entry_gid(e)) != 0)
    return ErrnoErr("chown");
  if (::fchmod(fd.get(), archive_entry_perm(e)) != 0) return ErrnoErr("chmod");
  TRY(Xattrs(e, fd.get(), -1, ""));
  timespec ts[2];
  EntryTimes(e, ts);
  if (::futimens(fd.get(), ts) != 0) return ErrnoErr("set times");
  return Ok();
}

Status Unpacker::Symlink(archive_entry* e, int pfd, const std::string& base,
                         const std::string& path) {
  // Stored as-is: the target is only ever resolved later, inside the root.
  std::string target = EntrySymlink(e);
  if (::symlinkat(target.c_str(), pfd, base.c_str()) != 0) {
    if (errno != EEXIST) return ErrnoErr("create symlink");
    TRY(Clear(pfd, base, path, false));
    if (::symlinkat(target.c_str(), pfd, base.c_str()) != 0) return ErrnoErr("create symlink");
  }
  if (opts_.keep_owners && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e),
                                      AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoErr("chown");
  TRY(Xattrs(e, -1, pfd, base));
  timespec ts[2];
  EntryTimes(e, ts);
  if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoErr("set times");
  return Ok();
}

Status Unpacker::Node(archive_entry* e, int pfd, const std::string& base, const std::string& path) {
  mode_t mode = archive_entry_filetype(e) | archive_entry_perm(e);
  dev_t dev = archive_entry_rdev(e);
  if (::mknodat(pfd, base.c_str(), mode, dev) != 0) {
    if (errno != EEXIST) return ErrnoErr("create device node");
    TRY(Clear(pfd, base, path, false));
    if (::mknodat(pfd, base.c_str(), mode, dev) != 0) return ErrnoErr("create device node");
  }
  if (opts_.keep_owners && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e),
                                      AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoErr("chown");
  // The node was just made here, so following a final symlink cannot happen.
  if (::fchmodat(pfd, base.c_str(), archive_entry_perm(e), 0) != 0) return ErrnoErr("chmod");
  TRY(Xattrs(e, -1, pfd, base));
  timespec ts[2];
  EntryTimes(e, ts);
  if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoErr("set times");
  return Ok();
}

Status Unpacker::Hardlink(const std::string& target, int pfd, const std::string& base,
                          const std::string& path) {
  auto t = CleanEntryPath(target);
  if (!t || t->empty()) return Err("hardlink target \"{}\" escapes the layer", target);
  if (*t == path) return Ok();
  auto [tparent, tbase] = SplitParent(*t);
  // Resolved inside the root and linked without following its last
  // component: the inode is one already in the tree.
  UniqueFd tdir;
  int tfd = root_.fd();
  if (!tparent.empty()) {
    int r = OpenInRoot(root_.fd(), std::string(tparent).c_str(), O_PATH | O_DIRECTORY);
    if (r == -ENOENT) return Err("hardlink target \"{}\" does not exist", target);
    if (r < 0) return CodeErr(-r, "hardlink target \"{}\"", target);
    tdir.reset(r);
    tfd = r;
  }
  std::string tb(tbase);
  if (::linkat(tfd, tb.c_str(), pfd, base.c_str(), 0) != 0) {
    if (errno == ENOENT) return Err("hardlink target \"{}\" does not exist", target);
    if (errno != EEXIST) return ErrnoErr("hardlink to \"{}\"", target);
    TRY(Clear(pfd, base, path, false));
    if (::linkat(tfd, tb.c_str(), pfd, base.c_str(), 0) != 0)
      return ErrnoErr("hardlink to \"{}\"", target);
  }
  return Ok();
}

Status Unpacker::Xattrs(archive_entry* e, int fd, int pfd, const std::string& base) {
  if (archive_entry_xattr_reset(e) == 0) return Ok();
  std::string path = fd < 0 ? FdPath(pfd, base) : std::string();
  const char* name;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    // overlayfs's own xattrs (opaque, redirect, metacopy...) would steer the
    // mount; a layer expresses whiteouts as .wh. entries, never with these.
    if (StartsWith(name, "trusted.overlay.") || StartsWith(name, "user.overlay.")) {
      xattrs_skipped_++;
      continue;
    }
    // The root has no name below its fd: follow the /proc link to it.
    int r = fd >= 0        ? ::fsetxattr(fd, name, value, size, 0)
            : base.empty() ? ::setxattr(path.c_str(), name, value, size, 0)
                           : ::lsetxattr(path.c_str(), name, value, size, 0);
    if (r == 0) continue;
    if (errno == ENOTSUP || errno == EPERM) {
      xattrs_skipped_++;
      continue;
    }
    return ErrnoErr("set xattr {}", name);
  }
  return Ok();
}

Status Unpacker::Whiteout(std::string_view parent, std::string_view base) {
  if (base == kOpaqueMarker) return Opaque(parent);
  // Other ".wh..wh." names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs).
  if (StartsWith(base, ".wh..wh.")) return Ok();
  std::string name(base.substr(kWhiteoutPrefix.size()));
  if (name.empty() || name == "." || name == "..") return Err("invalid whiteout");
  std::string path = JoinRel(parent, name);
  if (!applying()) {
    int pfd = TRY(root_.Dir(parent, true));
    if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
      if (errno != EEXIST) return ErrnoErr("create whiteout device");
      TRY(Clear(pfd, name, path, false));
      if (::mknodat(pfd, name.c_str(), S_IFCHR, makedev(0, 0)) != 0)
        return ErrnoErr("create whiteout device");
    }
    return Ok();
  }
  auto pfd = root_.Dir(parent, false);
  if (!pfd.ok()) {
    // Nothing to hide when the parent never existed.
    if (pfd.error().code == ENOENT || pfd.error().code == ENOTDIR) return Ok();
    return std::move(pfd).error();
  }
  TRY(RemoveAt(*pfd, name).wrap("apply whiteout"));
  Removed(path);
  return Ok();
}

Status Unpacker::Opaque(std::string_view dir) {
  int dfd = TRY(root_.Dir(dir, true));
  if (!applying()) {
    // Not skippable like other xattrs: without it lower layers show through.
    if (::setxattr(FdPath(dfd).c_str(), kOpaqueXattr, "y", 1, 0) != 0)
      return ErrnoErr("set {} on \"{}\"", kOpaqueXattr, dir);
    return Ok();
  }
  Touch(dir);
  return RemovePreexisting(std::string(dir));
}

Status Unpacker::RemovePreexisting(const std::string& dir) {
  int r = OpenInRoot(root_.fd(), dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (r < 0) return CodeErr(-r, "open directory \"{}\"", dir);
  UniqueFd fd(r);
  std::vector<std::string> names;
  {
    // fdopendir takes over the fd it is given; keep ours for the removals.
    UniqueFd dup(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!dup) return ErrnoErr("dup");
    DIR* d = ::fdopendir(dup.get());
    if (!d) return ErrnoErr("open directory \"{}\"", dir);
    dup.release();
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n(de->d_name);
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
  }
  for (const auto& n : names) {
    std::string p = JoinRel(dir, n);
    if (!touched_.count(p)) {
      TRY(RemoveAt(fd.get(), n).wrap("apply opaque whiteout"));
      Removed(p);
      continue;
    }
    // Written by this layer: keep it, but what an older layer left inside a
    // directory this layer merged into is hidden too.
    struct stat st;
    if (::fstatat(fd.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      TRY(RemovePreexisting(p));
  }
  return Ok();
}

Status Unpacker::Finish() {
  for (const auto& [path, m] : dirs_) {
    UniqueFd owned;
    int fd = root_.fd();
    if (!path.empty()) {
      int r = OpenInRoot(root_.fd(), path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
      // Replaced by a symlink or something else since: not ours to touch.
      if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP) continue;
      if (r < 0) return CodeErr(-r, "layer entry \"{}\": open directory", path);
      owned.reset(r);
      fd = r;
    }
    // An O_PATH fd takes neither fchmod nor futimens; its /proc path does.
    std::string p = FdPath(fd);
    if (::chmod(p.c_str(), m.mode) != 0) return ErrnoErr("layer entry \"{}\": chmod", path);
    if (::utimensat(AT_FDCWD, p.c_str(), m.times, 0) != 0)
      return ErrnoErr("layer entry \"{}\": set times", path);
  }
  return Ok();
}

}  // namespace

Result<UnpackStats> UnpackLayer(Reader& src, const std::string& target_dir,
                                const UnpackOptions& options) {
  auto root = TRY(TreeRoot::Open(target_dir).wrap("unpack layer"));
  DecompressReader plain(src);
  UnpackStats stats;
  stats.compression = TRY(plain.Detect());
  TarReader tar(plain);
  TRY(tar.Open());
  Unpacker u(std::move(root), options, tar);
  for (;;) {
    archive_entry* e = TRY(tar.Next());
    if (!e) break;
    stats.entries++;
    std::string name = internal::EntryPath(e);
    TRY_CTX(u.Entry(e, name), "layer entry \"{}\"", name);
  }
  TRY(tar.Drain());
  TRY(u.Finish());
  stats.tar_bytes = tar.bytes();
  stats.diff_id = tar.Final();
  stats.xattrs_skipped = u.xattrs_skipped();
  return stats;
}

}  // namespace husk::archive
