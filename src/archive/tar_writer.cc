#include "archive/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "archive/tree.h"
#include "base/unique_fd.h"

namespace husk::archive {

namespace internal {

// libarchive's pax_restricted writer pushing into a Writer.
class TarSink {
 public:
  explicit TarSink(Writer& out) : out_(out) {}
  ~TarSink() {
    if (a_) archive_write_free(a_);
  }
  TarSink(const TarSink&) = delete;
  TarSink& operator=(const TarSink&) = delete;

  Status Open() {
    a_ = archive_write_new();
    if (!a_) return Err("tar: out of memory");
    archive_write_set_format_pax_restricted(a_);
    // No blocking: the compressor buffers anyway, and the archive ends right
    // after its two zero blocks instead of being padded to 10 KiB.
    archive_write_set_bytes_per_block(a_, 0);
    if (archive_write_open(a_, this, nullptr, Push, nullptr) != ARCHIVE_OK)
      return Failure("open tar writer");
    return Ok();
  }

  Status Header(archive_entry* e) {
    // WARN: a name not valid in the locale is written as raw bytes
    // (hdrcharset=BINARY), which is what we want.
    if (archive_write_header(a_, e) < ARCHIVE_WARN)
      return Failure(fmt::format("write header of \"{}\"", archive_entry_pathname(e)));
    return Ok();
  }

  Status Data(const void* p, size_t n) {
    la_ssize_t r = archive_write_data(a_, p, n);
    if (r < 0 || static_cast<size_t>(r) != n) return Failure("write tar data");
    return Ok();
  }

  // Copies exactly `size` bytes of fd; a file that shrank is an error rather
  // than a member padded with zeros.
  Status CopyFrom(int fd, int64_t size, std::string_view name) {
    if (buf_.empty()) buf_.resize(1 << 20);
    int64_t left = size;
    while (left > 0) {
      ssize_t n = ::read(fd, buf_.data(), std::min<int64_t>(left, buf_.size()));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoErr("read {}", name);
      }
      if (n == 0) return Err("{}: file shrank while being archived", name);
      TRY(Data(buf_.data(), static_cast<size_t>(n)));
      left -= n;
    }
    return Ok();
  }

  Status Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return Failure("finish tar");
    return Ok();
  }

 private:
  static la_ssize_t Push(struct archive* a, void* p, const void* buf, size_t n) {
    auto* self = static_cast<TarSink*>(p);
    auto st = self->out_.Write(buf, n);
    if (!st.ok()) {
      self->err_ = std::move(st).error();
      archive_set_error(a, EIO, "write failed");
      return -1;
    }
    return static_cast<la_ssize_t>(n);
  }

  Error Failure(std::string_view what) {
    if (err_) return *err_;
    const char* msg = archive_error_string(a_);
    return Err("{}: {}", what, msg ? msg : "unknown error");
  }

  Writer& out_;
  struct archive* a_ = nullptr;
  std::optional<Error> err_;
  std::vector<char> buf_;
};

}  // namespace internal

namespace {

using internal::FdPath;
using internal::TarSink;

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

std::string JoinRel(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  std::string p(dir);
  p.push_back('/');
  p.append(name);
  return p;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}

// A member of the layer: a file of the tree, or a whiteout derived from one.
struct Item {
  enum Kind { kNormal, kWhiteout, kOpaque };
  std::string name;  // in the tar
  std::string src;   // relative path in the tree
  struct stat st;
  Kind kind;
};

bool IsOpaqueDir(int dirfd, const std::string& name) {
  std::string path = FdPath(dirfd, name);
  for (const char* attr : {"trusted.overlay.opaque", "user.overlay.opaque"}) {
    char v[2];
    ssize_t n = ::lgetxattr(path.c_str(), attr, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

Status Walk(const std::string& root, int dirfd, const std::string& rel, bool convert,
            std::vector<Item>& out) {
  UniqueFd dup(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return ErrnoErr("dup");
  DIR* d = ::fdopendir(dup.get());
  if (!d) return ErrnoErr("open directory {}", JoinRel(root, rel));
  dup.release();
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    Item it;
    it.src = JoinRel(rel, n);
    it.name = it.src;
    it.kind = Item::kNormal;
    if (::fstatat(dirfd, n.c_str(), &it.st, AT_SYMLINK_NOFOLLOW) != 0)
      return ErrnoErr("stat {}", JoinRel(root, it.src));
    if (S_ISSOCK(it.st.st_mode)) continue;
    if (convert && S_ISCHR(it.st.st_mode) && it.st.st_rdev == 0) {
      it.name = JoinRel(rel, ".wh." + n);
      it.kind = Item::kWhiteout;
    }
    bool dir = S_ISDIR(it.st.st_mode);
    out.push_back(it);
    if (!dir) continue;
    if (convert && IsOpaqueDir(dirfd, n)) {
      Item o = it;
      o.name = JoinRel(it.src, ".wh..wh..opq");
      o.kind = Item::kOpaque;
      out.push_back(std::move(o));
    }
    UniqueFd child(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) return ErrnoErr("open directory {}", JoinRel(root, it.src));
    TRY(Walk(root, child.get(), it.src, convert, out));
  }
  return Ok();
}

// xattrs sorted by name (listing order is the file system's), without
// overlayfs's bookkeeping and the host's SELinux label. `path` reaches the
// entry through its parent's fd; `shown` is for errors.
Status AddXattrs(archive_entry* e, const std::string& path, const std::string& shown) {
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  if (n < 0) {
    if (errno == ENOTSUP) return Ok();
    return ErrnoErr("list xattrs of {}", shown);
  }
  if (n == 0) return Ok();
  std::string list(static_cast<size_t>(n), '\0');
  n = ::llistxattr(path.c_str(), list.data(), list.size());
  if (n < 0) return ErrnoErr("list xattrs of {}", shown);
  list.resize(static_cast<size_t>(n));
  std::vector<std::string> names;
  for (size_t i = 0; i < list.size();) {
    size_t end = list.find('\0', i);
    if (end == std::string::npos) end = list.size();
    std::string name = list.substr(i, end - i);
    i = end + 1;
    if (name.empty() || StartsWith(name, "trusted.overlay.") || StartsWith(name, "user.overlay.") ||
        name == "security.selinux")
      continue;
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    ssize_t size = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (size < 0) return ErrnoErr("read xattr {} of {}", name, shown);
    std::string value(static_cast<size_t>(size), '\0');
    size = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (size < 0) return ErrnoErr("read xattr {} of {}", name, shown);
    archive_entry_xattr_add_entry(e, name.c_str(), value.data(), static_cast<size_t>(size));
  }
  return Ok();
}

// The parent directories of the items, opened beneath the tree's root with
// no symlink allowed anywhere: the walk saw real directories, so a symlink
// now means the tree changed under us (a running container's upper dir) and
// following it could put a host file into the layer.
class Parents {
 public:
  Parents(int rootfd, const std::string& root) : rootfd_(rootfd), root_(root) {}
  Result<int> Get(std::string_view rel) {
    if (rel.empty()) return rootfd_;
    if (fd_ && rel == path_) return fd_.get();
    int fd = internal::OpenBeneath(rootfd_, std::string(rel).c_str(), O_PATH | O_DIRECTORY);
    if (fd < 0) return CodeErr(-fd, "open directory {}", JoinRel(root_, rel));
    fd_.reset(fd);
    path_.assign(rel);
    return fd;
  }

 private:
  int rootfd_;
  const std::string& root_;
  UniqueFd fd_;
  std::string path_;
};

Status WriteItem(TarSink& sink, const std::string& root, Parents& parents, const Item& it,
                 const LayerWriteOptions& o,
                 std::map<std::pair<dev_t, ino_t>, std::string>& links) {
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), it.name.c_str());
  archive_entry_set_uid(e.get(), it.st.st_uid);
  archive_entry_set_gid(e.get(), it.st.st_gid);
  archive_entry_set_mtime(e.get(), o.mtime ? *o.mtime : it.st.st_mtim.tv_sec, 0);
  if (it.kind != Item::kNormal) {
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), it.st.st_mode & 0777);
    archive_entry_set_size(e.get(), 0);
    return sink.Header(e.get());
  }
  std::string shown = root + "/" + it.src;
  auto [parent, base_view] = internal::SplitParent(it.src);
  std::string base(base_view);
  int pfd = TRY(parents.Get(parent));
  const struct stat& st = it.st;
  archive_entry_set_mode(e.get(), st.st_mode);  // type and permission bits
  TRY(AddXattrs(e.get(), FdPath(pfd, base), shown));
  if (S_ISREG(st.st_mode)) {
    if (st.st_nlink > 1) {
      auto [at, first] = links.try_emplace({st.st_dev, st.st_ino}, it.name);
      if (!first) {
        archive_entry_set_hardlink(e.get(), at->second.c_str());
        archive_entry_set_size(e.get(), 0);
        return sink.Header(e.get());
      }
    }
    UniqueFd fd(::openat(pfd, base.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return ErrnoErr("open {}", shown);
    archive_entry_set_size(e.get(), st.st_size);
    TRY(sink.Header(e.get()));
    return sink.CopyFrom(fd.get(), st.st_size, shown);
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(pfd, base.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoErr("readlink {}", shown);
    if (static_cast<size_t>(n) == target.size()) return Err("{}: symlink changed", shown);
    target.resize(static_cast<size_t>(n));
    archive_entry_set_symlink(e.get(), target.c_str());
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    archive_entry_set_rdev(e.get(), st.st_rdev);
  }
  return sink.Header(e.get());
}

}  // namespace

std::string LayerMediaType(Compression c) {
  std::string t = "application/vnd.oci.image.layer.v1.tar";
  if (c == Compression::kGzip) t += "+gzip";
  if (c == Compression::kZstd) t += "+zstd";
  return t;
}

Result<LayerBlob> WriteLayerFromDir(const std::string& dir, int out_fd,
                                    const LayerWriteOptions& options) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoErr("open {}", dir);
  std::vector<Item> items;
  TRY(Walk(dir, root.get(), "", options.convert_whiteouts, items));
  if (options.include)
    std::erase_if(items, [&](const Item& it) { return !options.include(it.src); });
  // Bytewise order (std::string compares as unsigned char): parents first.
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.name < b.name; });

  FdWriter fd_out(out_fd, "layer");
  DigestingWriter compressed(fd_out);
  auto compressor = TRY(NewCompressWriter(options.compression, compressed));
  DigestingWriter tar_out(*compressor);
  TarSink sink(tar_out);
  TRY(sink.Open());
  std::map<std::pair<dev_t, ino_t>, std::string> links;
  Parents parents(root.get(), dir);
  for (const auto& it : items) TRY(WriteItem(sink, dir, parents, it, options, links));
  TRY(sink.Close());
  TRY(compressor->Finish());

  LayerBlob blob;
  blob.size = compressed.bytes();
  blob.digest = compressed.Final();
  blob.diff_id = tar_out.Final();
  blob.media_type = LayerMediaType(options.compression);
  return blob;
}

TarArchiveWriter::TarArchiveWriter(int out_fd, int64_t mtime)
    : fd_out_(std::make_unique<FdWriter>(out_fd, "archive")), mtime_(mtime) {
  auto buffered = NewCompressWriter(Compression::kNone, *fd_out_);
  if (!buffered.ok()) {
    status_ = std::move(buffered).error();
    return;
  }
  buffered_ = std::move(*buffered);
  sink_ = std::make_unique<TarSink>(*buffered_);
  status_ = sink_->Open();
}

TarArchiveWriter::~TarArchiveWriter() = default;

Status TarArchiveWriter::Check() {
  if (!status_.ok()) return status_;
  if (finished_) return Err("tar archive already finished");
  return Ok();
}

Status TarArchiveWriter::AddDir(std::string_view name, mode_t mode) {
  TRY(Check());
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), std::string(name).c_str());
  archive_entry_set_filetype(e.get(), AE_IFDIR);
  archive_entry_set_perm(e.get(), mode);
  archive_entry_set_mtime(e.get(), mtime_, 0);
  status_ = sink_->Header(e.get());
  return status_;
}

Status TarArchiveWriter::AddFile(std::string_view name, std::string_view data, mode_t mode) {
  TRY(Check());
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), std::string(name).c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), mode);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  archive_entry_set_mtime(e.get(), mtime_, 0);
  status_ = sink_->Header(e.get());
  if (status_.ok() && !data.empty()) status_ = sink_->Data(data.data(), data.size());
  return status_;
}

Status TarArchiveWriter::AddFileFromPath(std::string_view name, const std::string& path,
                                         mode_t mode) {
  TRY(Check());
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoErr("stat {}", path);
  if (!S_ISREG(st.st_mode)) return Err("{}: not a regular file", path);
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), std::string(name).c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), mode);
  archive_entry_set_size(e.get(), st.st_size);
  archive_entry_set_mtime(e.get(), mtime_, 0);
  status_ = sink_->Header(e.get());
  if (status_.ok()) status_ = sink_->CopyFrom(fd.get(), st.st_size, path);
  return status_;
}

Status TarArchiveWriter::AddSymlink(std::string_view name, std::string_view target) {
  TRY(Check());
  EntryPtr e(archive_entry_new());
  archive_entry_set_pathname(e.get(), std::string(name).c_str());
  archive_entry_set_filetype(e.get(), AE_IFLNK);
  archive_entry_set_perm(e.get(), 0777);
  archive_entry_set_symlink(e.get(), std::string(target).c_str());
  archive_entry_set_mtime(e.get(), mtime_, 0);
  status_ = sink_->Header(e.get());
  return status_;
}

Status TarArchiveWriter::Finish() {
  TRY(Check());
  finished_ = true;
  status_ = sink_->Close();
  if (status_.ok()) status_ = buffered_->Finish();
  return status_;
}

}  // namespace husk::archive
