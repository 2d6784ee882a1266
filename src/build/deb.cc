#include "build/deb.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <unordered_set>

#include "archive/decompress.h"
#include "archive/tree.h"
#include "archive/unpack.h"
#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "debian/deb822.h"

namespace husk::build {

namespace {

using archive::internal::CleanEntryPath;
using archive::internal::FdPath;
using archive::internal::OpenBeneath;
using archive::internal::OpenInRoot;
using archive::internal::SplitParent;

// Control members are small (the biggest md5sums lists are a few MB); the cap
// only stops a hostile member from filling memory.
constexpr size_t kMaxControlMember = 64 << 20;
constexpr size_t kMaxControlTar = 256 << 20;

std::string Base(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

// The ar archive of a .deb, member by member.
class DebFile {
 public:
  static Result<DebFile> Open(const std::string& path) {
    DebFile d;
    d.a_.reset(archive_read_new());
    if (!d.a_) return Err("out of memory");
    archive_read_support_format_ar(d.a_.get());
    if (archive_read_open_filename(d.a_.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
      return d.Failure("open");
    return d;
  }

  // The next member's name, or "" after the last.
  Result<std::string> Next() {
    archive_entry* e;
    int r = archive_read_next_header(a_.get(), &e);
    if (r == ARCHIVE_EOF) return std::string();
    if (r < ARCHIVE_WARN) return Failure("read ar header");
    const char* n = archive_entry_pathname(e);
    std::string name = n ? n : "";
    // GNU ar ends short names with '/'; dpkg-deb never writes it, others may.
    if (!name.empty() && name.back() == '/') name.pop_back();
    if (name.empty()) return Err("ar member without a name");
    return name;
  }

  Result<std::string> ReadMember(size_t max) {
    std::string out;
    char buf[1 << 16];
    for (;;) {
      la_ssize_t n = archive_read_data(a_.get(), buf, sizeof buf);
      if (n < 0) return Failure("read member");
      if (n == 0) return out;
      if (out.size() + static_cast<size_t>(n) > max) return Err("larger than {} bytes", max);
      out.append(buf, static_cast<size_t>(n));
    }
  }

  struct archive* get() {
    return a_.get();
  }

  Error Failure(std::string_view what) {
    const char* msg = archive_error_string(a_.get());
    std::string_view m = msg ? msg : "unknown error";
    if (m.find("Unrecognized archive format") != m.npos) return Err("not an ar archive");
    int code = archive_errno(a_.get());
    // libarchive reports a missing file through errno; keep it for the strerror text.
    if (code == ENOENT || code == EACCES) return CodeErr(code, "{}", what);
    return Err("{}: {}", what, m);
  }

 private:
  ArchivePtr a_;
};

// The current ar member as a Reader, so UnpackLayer streams it with no copy
// of the (possibly large) data.tar on disk or in memory.
class MemberReader final : public archive::Reader {
 public:
  explicit MemberReader(DebFile& deb) : deb_(deb) {}
  Result<size_t> Read(void* buf, size_t n) override {
    la_ssize_t r = archive_read_data(deb_.get(), buf, n);
    if (r < 0) return deb_.Failure("read data member");
    return static_cast<size_t>(r);
  }

 private:
  DebFile& deb_;
};

// Checks the first member and positions on the one whose name starts with
// `prefix` ("control.tar", "data.tar"); returns its full name.
Result<std::string> FindMember(DebFile& deb, std::string_view prefix) {
  std::string first = TRY(deb.Next());
  if (first != "debian-binary") return Err("not a Debian package: first member is \"{}\"", first);
  std::string version = TRY(deb.ReadMember(64).wrap("debian-binary"));
  if (!strings::StartsWith(version, "2."))
    return Err("unsupported .deb format version \"{}\"", strings::Trim(version));
  for (;;) {
    std::string name = TRY(deb.Next());
    if (name.empty()) return CodeErr(ENOENT, "no {} member", prefix);
    if (strings::StartsWith(name, prefix)) return name;
  }
}

Status CheckCompression(const std::string& member) {
  static constexpr std::string_view kKnown[] = {".tar", ".tar.gz", ".tar.xz", ".tar.zst"};
  size_t dot = member.find(".tar");
  std::string_view suffix = dot == std::string::npos ? "" : std::string_view(member).substr(dot);
  for (auto k : kKnown)
    if (suffix == k) return Ok();
  return Err("{}: unsupported compression (gzip, xz and zstd are)", member);
}

Result<std::string> Decompress(const std::string& data) {
  archive::StringReader src(data);
  archive::DecompressReader plain(src);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    size_t n = TRY(plain.Read(buf, sizeof buf));
    if (n == 0) return out;
    if (out.size() + n > kMaxControlTar) return Err("larger than {} bytes", kMaxControlTar);
    out.append(buf, n);
  }
}

// control, md5sums and conffiles out of the (uncompressed) control tar.
Status ParseControlTar(const std::string& tar, DebContents& out) {
  ArchivePtr a(archive_read_new());
  if (!a) return Err("out of memory");
  archive_read_support_format_tar(a.get());
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK)
    return Err("{}", archive_error_string(a.get()));
  bool have_control = false;
  archive_entry* e;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Err("{}", archive_error_string(a.get()));
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const char* raw = archive_entry_pathname(e);
    auto name = CleanEntryPath(raw ? raw : "");
    if (!name) continue;
    std::string* dst = nullptr;
    std::string conffiles;
    if (*name == "control") {
      dst = &out.control;
      have_control = true;
    } else if (*name == "md5sums") {
      dst = &out.md5sums;
    } else if (*name == "conffiles") {
      dst = &conffiles;
    } else {
      continue;
    }
    dst->resize(static_cast<size_t>(std::max<la_int64_t>(archive_entry_size(e), 0)));
    la_ssize_t n = archive_read_data(a.get(), dst->data(), dst->size());
    if (n < 0 || static_cast<size_t>(n) != dst->size())
      return Err("{}: {}", *name, archive_error_string(a.get()) ?: "short read");
    if (dst != &conffiles) continue;
    for (const auto& line : strings::Split(conffiles, '\n')) {
      auto l = strings::Trim(line);
      // "remove-on-upgrade /etc/x" names a file the package no longer ships.
      if (!l.empty() && l.front() == '/') out.conffiles.emplace_back(l);
    }
  }
  if (!have_control) return Err("no ./control file");
  auto paras = TRY(debian::ParseDeb822(out.control).wrap("control"));
  if (paras.empty()) return Err("control: empty");
  for (const auto& f : paras.front().fields())
    out.fields.push_back({std::string(f.name), std::string(f.value)});
  if (out.name().empty()) return Err("control: no Package field");
  if (out.version().empty()) return Err("control: no Version field");
  return Ok();
}

// A directory removed (whatever is in it) when it goes out of scope.
class StagingDir {
 public:
  static Result<StagingDir> Make(const std::string& parent) {
    StagingDir s;
    std::string tmpl = fs::Join(parent, ".husk-unpack-XXXXXX");
    if (!::mkdtemp(tmpl.data())) return ErrnoErr("create staging directory in {}", parent);
    s.path_ = std::move(tmpl);
    return s;
  }
  StagingDir() = default;
  StagingDir(StagingDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir() {
    if (!path_.empty()) (void)fs::RemoveAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct StagedEntry {
  std::string rel;  // "usr/bin/x"
  mode_t type;      // S_IFDIR, S_IFREG, ...
};

// Every entry below dirfd, never following a symlink.
Status Walk(int dirfd, const std::string& rel, std::vector<StagedEntry>& out) {
  UniqueFd fd(::openat(dirfd, rel.empty() ? "." : rel.c_str(),
                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return ErrnoErr("open staged \"{}\"", rel);
  DIR* d = ::fdopendir(fd.get());
  if (!d) return ErrnoErr("open staged \"{}\"", rel);
  fd.release();
  std::vector<StagedEntry> here;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view n(de->d_name);
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      ::closedir(d);
      return ErrnoErr("stat staged \"{}/{}\"", rel, n);
    }
    here.push_back({rel.empty() ? std::string(n) : rel + "/" + std::string(n),
                    static_cast<mode_t>(st.st_mode & S_IFMT)});
  }
  ::closedir(d);
  for (auto& e : here) {
    bool dir = e.type == S_IFDIR;
    std::string r = e.rel;
    out.push_back(std::move(e));
    if (dir) TRY(Walk(dirfd, r, out));
  }
  return Ok();
}

bool MatchesAny(const std::vector<std::string>& globs, const std::string& abs, bool dir) {
  for (const auto& g : globs) {
    if (GlobMatch(g, abs)) return true;
    if (dir && GlobMatch(g, abs + "/")) return true;
  }
  return false;
}

bool Dropped(const ExtractFilter& f, const std::string& abs, bool dir) {
  if (f.drop.empty()) return false;
  if (MatchesAny(f.drop, abs, dir)) return true;
  // A dropped directory takes its subtree with it.
  for (size_t i = abs.rfind('/'); i != std::string::npos && i > 0; i = abs.rfind('/', i - 1))
    if (MatchesAny(f.drop, abs.substr(0, i), true)) return true;
  return false;
}

bool IsCopyright(const std::string& abs, mode_t type) {
  if (type == S_IFREG || type == S_IFLNK) {
    if (GlobMatch("/usr/share/doc/*/copyright", abs)) return true;
  }
  return type == S_IFLNK && GlobMatch("/usr/share/doc/*", abs);
}

bool Kept(const ExtractFilter& f, const std::string& abs, mode_t type) {
  if (f.keep_copyright && IsCopyright(abs, type)) return true;
  bool dir = type == S_IFDIR;
  if (!f.keep.empty() && !MatchesAny(f.keep, abs, dir)) return false;
  return !Dropped(f, abs, dir);
}

// Data, owner, mode and xattrs of a staged file or symlink, for the rare
// target whose directories sit on another file system than the staging one.
Status CopyNode(int spfd, const std::string& base, int rpfd, mode_t type) {
  struct stat st;
  if (::fstatat(spfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoErr("stat");
  if (::unlinkat(rpfd, base.c_str(), 0) != 0 && errno != ENOENT) return ErrnoErr("replace");
  bool root = ::geteuid() == 0;
  if (type == S_IFLNK) {
    char target[PATH_MAX];
    ssize_t n = ::readlinkat(spfd, base.c_str(), target, sizeof target - 1);
    if (n < 0) return ErrnoErr("readlink");
    target[n] = '\0';
    if (::symlinkat(target, rpfd, base.c_str()) != 0) return ErrnoErr("create symlink");
    if (root && ::fchownat(rpfd, base.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
      return ErrnoErr("chown");
    return Ok();
  }
  if (type != S_IFREG) return Err("cannot copy a special file across file systems");
  UniqueFd in(::openat(spfd, base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return ErrnoErr("open staged");
  UniqueFd out(
      ::openat(rpfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return ErrnoErr("create");
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoErr("read staged");
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out.get(), buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoErr("write");
      off += w;
    }
  }
  // chown clears setuid bits and security.capability: chmod and xattrs after it.
  if (root && ::fchown(out.get(), st.st_uid, st.st_gid) != 0) return ErrnoErr("chown");
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return ErrnoErr("chmod");
  char names[4096];
  ssize_t len = ::flistxattr(in.get(), names, sizeof names);
  for (ssize_t i = 0; i < len;) {
    const char* name = names + i;
    i += static_cast<ssize_t>(strlen(name)) + 1;
    char value[4096];
    ssize_t vn = ::fgetxattr(in.get(), name, value, sizeof value);
    if (vn >= 0) (void)::fsetxattr(out.get(), name, value, static_cast<size_t>(vn), 0);
  }
  return Ok();
}

// What an fd's /proc link names: the directory's path on this machine.
Result<std::string> FdTarget(int fd) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(FdPath(fd).c_str(), buf, sizeof buf);
  if (n < 0) return ErrnoErr("readlink {}", FdPath(fd));
  if (static_cast<size_t>(n) == sizeof buf) return Err("{}: path too long", FdPath(fd));
  return std::string(buf, static_cast<size_t>(n));
}

// Moves the kept staged entries into the root, merging directories, and
// records where each one landed.
class Merger {
 public:
  Merger(int stage_fd, int root_fd) : stage_fd_(stage_fd), root_fd_(root_fd) {}

  Status Directory(const std::string& rel);
  Status NonDirectory(const std::string& rel, mode_t type);
  // Modes of the directories made, now that their children are in.
  Status Finish();
  std::vector<std::string>& landed() { return landed_; }

 private:
  Result<int> RootDir(std::string_view rel);
  Result<int> StageDir(std::string_view rel);
  // Records base, in the cached root directory, as a path relative to the root.
  void Landed(std::string_view base) {
    landed_.push_back(root_dir_landed_.empty() ? std::string(base)
                                               : root_dir_landed_ + "/" + std::string(base));
  }

  int stage_fd_;
  int root_fd_;
  std::string root_path_;  // the root's own path, as /proc shows it
  std::string root_dir_path_, stage_dir_path_;
  std::string root_dir_landed_;  // root_dir_path_ with its symlinks resolved
  UniqueFd root_dir_, stage_dir_;
  std::vector<std::pair<std::string, mode_t>> made_;
  std::vector<std::string> landed_;
};

Result<int> Merger::RootDir(std::string_view rel) {
  if (root_dir_ && rel == root_dir_path_) return root_dir_.get();
  std::string r = rel.empty() ? "." : std::string(rel);
  // Symlinks met on the way (bin -> usr/bin) are followed, inside the root.
  int fd = OpenInRoot(root_fd_, r.c_str(), O_PATH | O_DIRECTORY);
  if (fd < 0) return CodeErr(-fd, "open directory /{}", rel);
  root_dir_.reset(fd);
  root_dir_path_.assign(rel);
  // Where it really is: the kernel resolved it inside the root, so its path
  // is the root's followed by the resolved one.
  if (root_path_.empty()) root_path_ = TRY(FdTarget(root_fd_));
  std::string at = TRY(FdTarget(fd));
  if (at != root_path_ && !strings::StartsWith(at, root_path_ + "/")) {
    root_dir_.reset();
    return Err("directory /{} resolves to {}, outside {}", rel, at, root_path_);
  }
  root_dir_landed_ = at.size() > root_path_.size() ? at.substr(root_path_.size() + 1) : "";
  return fd;
}

Result<int> Merger::StageDir(std::string_view rel) {
  if (stage_dir_ && rel == stage_dir_path_) return stage_dir_.get();
  std::string r = rel.empty() ? "." : std::string(rel);
  int fd = OpenBeneath(stage_fd_, r.c_str(), O_PATH | O_DIRECTORY);
  if (fd < 0) return CodeErr(-fd, "open staged directory {}", rel);
  stage_dir_.reset(fd);
  stage_dir_path_.assign(rel);
  return fd;
}

Status Merger::Directory(const std::string& rel) {
  auto [parent, base_view] = SplitParent(rel);
  std::string base(base_view);
  int rpfd = TRY(RootDir(parent));
  struct stat st;
  if (::fstatat(rpfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) {
      Landed(base);
      return Ok();
    }
    // A symlink to a directory (usrmerge's /bin) is merged through, as dpkg does.
    int fd = OpenInRoot(root_fd_, rel.c_str(), O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      ::close(fd);
      return Ok();
    }
    // Dangling, or a link to a file: replaced, as tar would. The cached
    // parent stays valid: only its child changed.
    if (::unlinkat(rpfd, base.c_str(), 0) != 0) return ErrnoErr("replace with a directory");
  } else if (errno != ENOENT) {
    return ErrnoErr("stat");
  }
  int spfd = TRY(StageDir(parent));
  if (::fstatat(spfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return ErrnoErr("stat staged");
  // Owner-writable until Finish, so that a read-only directory still takes its children.
  if (::mkdirat(rpfd, base.c_str(), 0700) != 0) {
    // Made meanwhile by a package extracted in parallel: merged into like any other.
    if (errno == EEXIST && ::fstatat(rpfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      Landed(base);
      return Ok();
    }
    return ErrnoErr("create directory");
  }
  if (::geteuid() == 0 &&
      ::fchownat(rpfd, base.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoErr("chown");
  made_.emplace_back(rel, st.st_mode & 07777);
  Landed(base);
  return Ok();
}

Status Merger::NonDirectory(const std::string& rel, mode_t type) {
  auto [parent, base_view] = SplitParent(rel);
  std::string base(base_view);
  int rpfd = TRY(RootDir(parent));
  int spfd = TRY(StageDir(parent));
  Landed(base);
  // rename(2) replaces a file or symlink in one step and keeps hardlinked
  // names sharing their inode.
  if (::renameat(spfd, base.c_str(), rpfd, base.c_str()) == 0) return Ok();
  if (errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST) {
    if (::unlinkat(rpfd, base.c_str(), AT_REMOVEDIR) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST) return Err("replaces a non-empty directory");
      return ErrnoErr("replace directory");
    }
    if (::renameat(spfd, base.c_str(), rpfd, base.c_str()) == 0) return Ok();
  }
  if (errno == EXDEV) return CopyNode(spfd, base, rpfd, type);
  return ErrnoErr("move into place");
}

Status Merger::Finish() {
  root_dir_.reset();
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
    int fd = OpenInRoot(root_fd_, it->first.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) return CodeErr(-fd, "open directory /{}", it->first);
    UniqueFd owned(fd);
    // An O_PATH fd takes no fchmod; its /proc path does.
    if (::chmod(FdPath(fd).c_str(), it->second) != 0) return ErrnoErr("chmod /{}", it->first);
  }
  return Ok();
}

Result<ExtractedData> Merge(const std::string& stage, const std::string& root,
                            const ExtractFilter& filter) {
  UniqueFd stage_fd(::open(stage.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!stage_fd) return ErrnoErr("open {}", stage);
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return ErrnoErr("open {}", root);

  std::vector<StagedEntry> entries;
  TRY(Walk(stage_fd.get(), "", entries));
  std::sort(entries.begin(), entries.end(),
            [](const StagedEntry& a, const StagedEntry& b) { return a.rel < b.rel; });

  std::vector<bool> kept(entries.size(), true);
  if (!filter.all()) {
    std::unordered_set<std::string> parents;
    for (size_t i = 0; i < entries.size(); i++) {
      const auto& e = entries[i];
      kept[i] = Kept(filter, "/" + e.rel, e.type);
      if (!kept[i]) continue;
      for (size_t s = e.rel.rfind('/'); s != std::string::npos && s > 0;
           s = e.rel.rfind('/', s - 1))
        if (!parents.insert(e.rel.substr(0, s)).second) break;
    }
    for (size_t i = 0; i < entries.size(); i++)
      if (entries[i].type == S_IFDIR && parents.count(entries[i].rel)) kept[i] = true;
  }

  Merger m(stage_fd.get(), root_fd.get());
  ExtractedData out;
  for (size_t i = 0; i < entries.size(); i++) {
    if (!kept[i]) continue;
    const auto& e = entries[i];
    if (e.type == S_IFDIR) {
      TRY_CTX(m.Directory(e.rel), "/{}", e.rel);
    } else {
      TRY_CTX(m.NonDirectory(e.rel, e.type), "/{}", e.rel);
      out.files.push_back("/" + e.rel);
    }
  }
  TRY(m.Finish());
  out.landed = std::move(m.landed());
  return out;
}

}  // namespace

std::string_view DebContents::Get(std::string_view name) const {
  for (const auto& f : fields)
    if (debian::FieldNameEquals(f.name, name)) return f.value;
  return {};
}

Result<DebContents> ReadDeb(const std::string& deb_path) {
  std::string shown = Base(deb_path);
  auto deb = TRY_CTX(DebFile::Open(deb_path), "{}", shown);
  std::string member = TRY_CTX(FindMember(deb, "control.tar"), "{}", shown);
  TRY_CTX(CheckCompression(member), "{}", shown);
  std::string packed = TRY_CTX(deb.ReadMember(kMaxControlMember), "{}: {}", shown, member);
  std::string tar = TRY_CTX(Decompress(packed), "{}: {}", shown, member);
  DebContents out;
  TRY_CTX(ParseControlTar(tar, out), "{}: {}", shown, member);
  return out;
}

Result<ExtractedData> ExtractDebData(const std::string& deb_path, const std::string& target_dir,
                                     const ExtractFilter& filter) {
  std::string shown = Base(deb_path);
  if (!fs::IsDir(target_dir)) return CodeErr(ENOTDIR, "extract {}: {}", shown, target_dir);
  auto deb = TRY_CTX(DebFile::Open(deb_path), "extract {}", shown);
  std::string member = TRY_CTX(FindMember(deb, "data.tar"), "extract {}", shown);
  TRY_CTX(CheckCompression(member), "extract {}", shown);
  // Staged inside the target: the same file system, so every move is a rename.
  auto stage = TRY_CTX(StagingDir::Make(target_dir), "extract {}", shown);
  MemberReader src(deb);
  archive::UnpackOptions opts;
  // A ".wh." name means nothing in a .deb; kApply at least keeps it inside the staging tree.
  opts.whiteouts = archive::Whiteouts::kApply;
  TRY_CTX(archive::UnpackLayer(src, stage.path(), opts), "extract {}: {}", shown, member);
  return TRY_CTX(Merge(stage.path(), target_dir, filter), "extract {}", shown);
}

// Backtracking over '*' (one component) and '**' (any number of them); the
// patterns are short and written by people, so no memoisation is needed.
bool GlobMatch(std::string_view pattern, std::string_view path) {
  while (!pattern.empty()) {
    char c = pattern.front();
    if (c == '*') {
      bool any = pattern.size() > 1 && pattern[1] == '*';
      std::string_view rest = pattern.substr(any ? 2 : 1);
      for (size_t i = 0;; i++) {
        if (GlobMatch(rest, path.substr(i))) return true;
        if (i == path.size() || (!any && path[i] == '/')) return false;
      }
    }
    if (path.empty()) return false;
    if (c == '?') {
      if (path.front() == '/') return false;
    } else if (c != path.front()) {
      return false;
    }
    pattern.remove_prefix(1);
    path.remove_prefix(1);
  }
  return path.empty();
}

}  // namespace husk::build
