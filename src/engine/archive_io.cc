// save/load/export/import: output files, scratch directories, member writing
// and the verification shared by the OCI and docker formats (oci_layout.cc,
// docker_archive.cc).
#include "engine/archive_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "archive/archive_file.h"
#include "archive/decompress.h"
#include "archive/tar_writer.h"
#include "base/fs.h"
#include "image/reference.h"

namespace husk::engine {

using internal::Member;
using internal::MemberSink;
using internal::ScratchDir;

Result<ArchiveFormat> ParseArchiveFormat(std::string_view s) {
  if (s == "docker-archive") return ArchiveFormat::kDockerArchive;
  if (s == "oci-archive") return ArchiveFormat::kOciArchive;
  return Err("unknown archive format \"{}\" (want docker-archive or oci-archive)", s);
}

std::string FallbackName(const Digest& image_id, const std::string& tag) {
  return "localhost/" + image_id.short_hex() + ":" + tag;
}

namespace internal {
namespace {

Status WriteAllFd(int fd, const char* p, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("write {}", what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Ok();
}

Status CopyFile(const std::string& from, const std::string& to) {
  auto in = TRY(fs::Open(from, O_RDONLY | O_CLOEXEC));
  auto out = TRY(fs::Open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {}", from);
    }
    if (n == 0) break;
    TRY(WriteAllFd(out.get(), buf.data(), static_cast<size_t>(n), to));
  }
  return Ok();
}

class TarMemberSink final : public MemberSink {
 public:
  explicit TarMemberSink(archive::TarArchiveWriter& w) : w_(w) {}
  Status Dir(const std::string& name) override { return w_.AddDir(name); }
  Status Data(const std::string& name, std::string_view data) override {
    return w_.AddFile(name, data);
  }
  Status File(const std::string& name, const std::string& path) override {
    return w_.AddFileFromPath(name, path);
  }

 private:
  archive::TarArchiveWriter& w_;
};

class DirMemberSink final : public MemberSink {
 public:
  explicit DirMemberSink(std::string root) : root_(std::move(root)) {}
  Status Dir(const std::string& name) override {
    auto p = fs::Join(root_, name);
    if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoErr("mkdir {}", p);
    return Ok();
  }
  Status Data(const std::string& name, std::string_view data) override {
    return fs::WriteFile(fs::Join(root_, name), data, 0644);
  }
  Status File(const std::string& name, const std::string& path) override {
    return CopyFile(path, fs::Join(root_, name));
  }

 private:
  std::string root_;
};

// Decompresses a layer blob into a file, checking the DiffID on the way.
Status DecompressLayer(const std::string& blob, const Digest& diff_id, const std::string& out) {
  auto in = TRY(fs::Open(blob, O_RDONLY | O_CLOEXEC));
  auto fd = TRY(fs::Open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  archive::FdReader raw(in.get(), blob);
  archive::DecompressReader dec(raw);
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = TRY(dec.Read(buf.data(), buf.size()));
    if (n == 0) break;
    hash.Update(buf.data(), n);
    TRY(WriteAllFd(fd.get(), buf.data(), n, out));
  }
  Digest got = hash.Final();
  if (!(got == diff_id))
    return Err("layer {}: uncompressed content is {}, not the DiffID {}", blob, got.str(),
               diff_id.str());
  return Ok();
}

Result<archive::Compression> CompressionOfFile(const std::string& path) {
  auto fd = TRY(fs::Open(path, O_RDONLY | O_CLOEXEC));
  char head[8];
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) return ErrnoErr("read {}", path);
  return archive::DetectCompression(std::string_view(head, static_cast<size_t>(n)));
}

// Hash mismatch or I/O trouble, told apart for the error message.
Error BlobMismatchOr(const std::string& path, const Digest& d, Error other) {
  auto got = Sha256File(path);
  if (got.ok() && !(*got == d))
    return Err("blob {}: content does not match its digest (it is {})", d.str(), got->str());
  return other;
}

}  // namespace

// ---------------------------------------------------------------- ScratchDir

Result<ScratchDir> ScratchDir::Make(const store::Store& st) {
  auto base = fs::Join(st.root(), "tmp");
  TRY(fs::MkdirAll(base, 0700));
  // Each live scratch dir is flocked by its process (on the directory itself),
  // so one whose lock is free was left by a process that died.
  // A new one is made as "new.*", locked, then renamed, so it is never seen
  // unlocked under a name that is cleaned up.
  if (auto entries = fs::ListDir(base); entries.ok()) {
    for (auto& e : *entries) {
      if (e.rfind("new.", 0) == 0) continue;
      auto p = fs::Join(base, e);
      UniqueFd fd(::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (fd && ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) (void)fs::RemoveAll(p);
    }
  }
  std::string tmpl = fs::Join(base, fmt::format("new.{}.XXXXXX", getpid()));
  if (!::mkdtemp(tmpl.data())) return ErrnoErr("mkdtemp {}", tmpl);
  ScratchDir s;
  UniqueFd lock(::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock || ::flock(lock.get(), LOCK_EX) != 0) {
    auto e = ErrnoErr("lock {}", tmpl);
    ::rmdir(tmpl.c_str());
    return e;
  }
  auto final_path = fs::Join(base, tmpl.substr(base.size() + 5));
  if (::rename(tmpl.c_str(), final_path.c_str()) != 0) {
    auto e = ErrnoErr("rename {}", tmpl);
    ::rmdir(tmpl.c_str());
    return e;
  }
  s.path_ = final_path;
  s.lock_ = std::move(lock);
  return s;
}

ScratchDir& ScratchDir::operator=(ScratchDir&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) (void)fs::RemoveAll(path_);
    path_ = std::exchange(o.path_, {});
    lock_ = std::move(o.lock_);
  }
  return *this;
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) (void)fs::RemoveAll(path_);
}

// ---------------------------------------------------------------- writing

Status WriteMembers(std::vector<Member> members, MemberSink& sink, const std::string& scratch) {
  // Bytewise order puts parents before children; images sharing a layer or
  // config name it twice, and the first is kept.
  std::stable_sort(members.begin(), members.end(),
                   [](const Member& a, const Member& b) { return a.name < b.name; });
  members.erase(std::unique(members.begin(), members.end(),
                            [](const Member& a, const Member& b) { return a.name == b.name; }),
                members.end());
  for (auto& m : members) {
    switch (m.kind) {
      case Member::Kind::kDir:
        TRY_CTX(sink.Dir(m.name), "{}", m.name);
        break;
      case Member::Kind::kData:
        TRY_CTX(sink.Data(m.name, m.data), "{}", m.name);
        break;
      case Member::Kind::kFile:
        TRY_CTX(sink.File(m.name, m.path), "{}", m.name);
        break;
      case Member::Kind::kLayerTar: {
        // A plain tar blob is its own uncompressed form; others are
        // decompressed one at a time, so the scratch space needed is one layer.
        if (TRY(CompressionOfFile(m.path)) == archive::Compression::kNone) {
          TRY_CTX(sink.File(m.name, m.path), "{}", m.name);
          break;
        }
        auto tmp = fs::Join(scratch, "layer.tar");
        TRY(DecompressLayer(m.path, m.diff_id, tmp));
        auto s = sink.File(m.name, tmp);
        ::unlink(tmp.c_str());
        TRY_CTX(std::move(s), "{}", m.name);
        break;
      }
    }
  }
  return Ok();
}

// ---------------------------------------------------------------- reading

Result<std::string> SafeMemberPath(std::string_view name) {
  if (name.empty() || name.front() == '/')
    return Err("archive member \"{}\" is not a relative path", name);
  auto c = fs::Clean(name);
  if (c == "." || c == ".." || c.rfind("../", 0) == 0)
    return Err("archive member \"{}\" leaves the archive", name);
  return c;
}

Status ImportVerifiedBlob(store::Store& st, const std::string& path, const Digest& d,
                          int64_t size) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) return Err("blob {} is missing", d.str());
    return ErrnoErr("blob {}: stat {}", d.str(), path);
  }
  if (!S_ISREG(sb.st_mode)) return Err("blob {} is not a regular file", d.str());
  if (size >= 0 && sb.st_size != size)
    return Err("blob {}: size {} differs from the {} declared", d.str(), sb.st_size, size);
  if (st.HasBlob(d)) {
    auto got = TRY_CTX(Sha256File(path), "blob {}", d.str());
    if (!(got == d))
      return Err("blob {}: content does not match its digest (it is {})", d.str(), got.str());
    return Ok();
  }
  auto r = st.ImportBlobFile(path, d);
  if (!r) return BlobMismatchOr(path, d, std::move(r).error());
  return Ok();
}

Result<std::string> ReadVerifiedBlob(const std::string& path, const Digest& d, int64_t size) {
  // Manifests, indexes and configs: a few kB, never near this.
  constexpr int64_t kMaxDoc = 64 << 20;
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) return Err("blob {} is missing", d.str());
    return ErrnoErr("blob {}: stat {}", d.str(), path);
  }
  if (!S_ISREG(sb.st_mode)) return Err("blob {} is not a regular file", d.str());
  if (size >= 0 && sb.st_size != size)
    return Err("blob {}: size {} differs from the {} declared", d.str(), sb.st_size, size);
  if (sb.st_size > kMaxDoc) return Err("blob {}: {} bytes is too large", d.str(), sb.st_size);
  auto data = TRY(fs::ReadFile(path));
  auto got = Sha256Of(data);
  if (!(got == d))
    return Err("blob {}: content does not match its digest (it is {})", d.str(), got.str());
  return data;
}

Status UnpackLayers(store::Store& st, const image::Manifest& m, const image::ImageConfig& cfg) {
  if (cfg.diff_ids.size() != m.layers.size())
    return Err("manifest has {} layers but the config {} DiffIDs", m.layers.size(),
               cfg.diff_ids.size());
  auto chains = image::ChainIds(cfg.diff_ids);
  for (size_t i = 0; i < m.layers.size(); i++)
    TRY(st.EnsureLayer(chains[i], m.layers[i].digest, cfg.diff_ids[i]));
  return Ok();
}

}  // namespace internal

// ---------------------------------------------------------------- save

Status WriteArchive(store::Store& st, const std::vector<std::string>& images, ArchiveFormat format,
                    int out_fd) {
  auto members = format == ArchiveFormat::kOciArchive
                     ? TRY(internal::OciLayoutMembers(st, images))
                     : TRY(internal::DockerArchiveMembers(st, images));
  auto scratch = TRY(ScratchDir::Make(st));
  archive::TarArchiveWriter w(out_fd, /*mtime=*/0);
  internal::TarMemberSink sink(w);
  TRY(internal::WriteMembers(std::move(members), sink, scratch.path()));
  return w.Finish();
}

Status SaveArchive(store::Store& st, const std::vector<std::string>& images, ArchiveFormat format,
                   const std::string& path) {
  if (images.empty()) return Err("save: no image given");
  if (path.empty()) {
    if (::isatty(STDOUT_FILENO))
      return Err("save: refusing to write an archive to a terminal (use -o FILE or redirect)");
    return WriteArchive(st, images, format, STDOUT_FILENO).wrap("save");
  }
  // A temp file beside the destination, renamed over it at the end: an
  // interrupted save leaves the old file (or none), never half an archive.
  auto abs = fs::Absolute(path);
  auto slash = abs.rfind('/');
  auto dir = slash == 0 ? std::string("/") : abs.substr(0, slash);
  std::string tmp = fs::Join(dir, "." + abs.substr(slash + 1) + ".tmp-XXXXXX");
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) return ErrnoErr("save: create a temp file in {}", dir);
  struct Unlinker {
    std::string path;
    ~Unlinker() {
      if (!path.empty()) ::unlink(path.c_str());
    }
  } cleanup{tmp};
  TRY_CTX(WriteArchive(st, images, format, fd.get()), "save {}", path);
  if (::fchmod(fd.get(), 0644) != 0) return ErrnoErr("save: chmod {}", tmp);
  if (::fsync(fd.get()) != 0) return ErrnoErr("save: fsync {}", tmp);
  if (::rename(tmp.c_str(), abs.c_str()) != 0) return ErrnoErr("save: rename {} to {}", tmp, path);
  cleanup.path.clear();
  return Ok();
}

// ---------------------------------------------------------------- load

Result<std::vector<LoadedImage>> LoadArchive(store::Store& st, const std::string& path) {
  std::string label = path.empty() ? "load stdin" : "load " + path;
  if (path.empty() && ::isatty(STDIN_FILENO))
    return Err("load: stdin is a terminal (use -i FILE or redirect)");
  auto scratch = TRY(ScratchDir::Make(st));
  auto dir = fs::Join(scratch.path(), "archive");
  TRY(fs::MkdirAll(dir, 0700));
  // /dev/stdin streams a pipe; a regular file is read where it is.
  TRY_CTX(archive::ExtractArchive(path.empty() ? "/dev/stdin" : path, dir), "load");
  // Docker 25+ and buildkit write both an OCI layout and manifest.json: the
  // layout keeps the manifests' digests, so it wins.
  if (fs::Exists(fs::Join(dir, "oci-layout")) && fs::Exists(fs::Join(dir, "index.json")))
    return internal::ImportOciLayoutDir(st, dir, "", label);
  if (fs::Exists(fs::Join(dir, "manifest.json")))
    return internal::ImportDockerArchiveDir(st, dir, label);
  return Err("{}: not an image archive (no oci-layout and index.json, no manifest.json)", label);
}

// ---------------------------------------------------------------- OCI layout directories

Status ExportLayout(store::Store& st, const std::string& image, const std::string& dir) {
  auto members = TRY_CTX(internal::OciLayoutMembers(st, {image}), "export");
  auto abs = fs::Absolute(dir);
  std::string target = abs;
  bool created = !fs::Exists(abs);
  if (!created) {
    if (!fs::IsDir(abs)) return Err("export: {} exists and is not a directory", dir);
    if (!TRY(fs::ListDir(abs)).empty()) return Err("export: {} is not empty", dir);
  } else {
    // Built beside its final name, so DIR appears complete or not at all.
    target = fmt::format("{}.tmp-{}", abs, getpid());
    (void)fs::RemoveAll(target);
    if (::mkdir(target.c_str(), 0755) != 0) return ErrnoErr("export: mkdir {}", target);
  }
  internal::DirMemberSink sink(target);
  auto s = internal::WriteMembers(std::move(members), sink, "");
  if (s && created && ::rename(target.c_str(), abs.c_str()) != 0)
    s = ErrnoErr("rename {} to {}", target, abs);
  if (!s) {
    if (created) {
      (void)fs::RemoveAll(target);
    } else if (auto entries = fs::ListDir(abs); entries.ok()) {
      for (auto& e : *entries) (void)fs::RemoveAll(fs::Join(abs, e));
    }
    return std::move(s).error().wrap("export " + dir);
  }
  return Ok();
}

Result<std::vector<LoadedImage>> ImportLayout(store::Store& st, const std::string& dir,
                                              const std::string& name) {
  if (!fs::IsDir(dir)) return Err("import: {} is not a directory", dir);
  return internal::ImportOciLayoutDir(st, fs::Absolute(dir), name, "import " + dir);
}

}  // namespace husk::engine
