#include "store/store.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/time.h"

namespace husk::store {
namespace {

Status FsyncDir(const std::string& dir) {
  auto fd = TRY(fs::Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (::fsync(fd.get()) != 0) return ErrnoErr("fsync {}", dir);
  return Ok();
}

Status WriteAll(int fd, const void* data, size_t n, const std::string& what) {
  auto p = static_cast<const char*>(data);
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

}  // namespace

// ---------------------------------------------------------------- FileLock

Result<FileLock> FileLock::Acquire(const std::string& path, bool exclusive) {
  FileLock l;
  l.fd_ = TRY(fs::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  while (::flock(l.fd_.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) return ErrnoErr("lock {}", path);
  }
  return l;
}

Result<std::optional<FileLock>> FileLock::TryAcquire(const std::string& path, bool exclusive) {
  FileLock l;
  l.fd_ = TRY(fs::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (::flock(l.fd_.get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<FileLock>();
    return ErrnoErr("lock {}", path);
  }
  return std::optional<FileLock>(std::move(l));
}

// ---------------------------------------------------------------- BlobWriter

BlobWriter::~BlobWriter() = default;  // an unfinished partial file stays for resuming

Status BlobWriter::Write(const void* data, size_t n) {
  TRY(WriteAll(fd_.get(), data, n, partial_path_));
  hasher_.Update(data, n);
  if (expected_size_ >= 0 && hasher_.bytes() > static_cast<uint64_t>(expected_size_))
    return Err("blob {}: more data than the {} bytes expected", expected_->str(), expected_size_);
  return Ok();
}

Status BlobWriter::Reset() {
  if (::ftruncate(fd_.get(), 0) != 0 || ::lseek(fd_.get(), 0, SEEK_SET) != 0)
    return ErrnoErr("truncate {}", partial_path_);
  hasher_ = Sha256();
  return Ok();
}

Result<Digest> BlobWriter::Commit() {
  uint64_t size = hasher_.bytes();
  Digest got = hasher_.Final();
  if (expected_ && !(got == *expected_)) {
    ::unlink(partial_path_.c_str());
    return Err("digest mismatch for {}: content is {}", expected_->str(), got.str());
  }
  if (expected_size_ >= 0 && size != static_cast<uint64_t>(expected_size_)) {
    ::unlink(partial_path_.c_str());
    return Err("blob {}: size {} differs from the {} declared", got.str(), size, expected_size_);
  }
  if (::fchmod(fd_.get(), 0444) != 0) return ErrnoErr("chmod {}", partial_path_);
  if (::fsync(fd_.get()) != 0) return ErrnoErr("fsync {}", partial_path_);
  const std::string& final_path = final_path_;
  if (::rename(partial_path_.c_str(), final_path.c_str()) != 0)
    return ErrnoErr("rename {} to {}", partial_path_, final_path);
  TRY(FsyncDir(final_path.substr(0, final_path.rfind('/'))));
  done_ = true;
  return got;
}

// ---------------------------------------------------------------- Store

std::string Store::DefaultRoot() {
  if (geteuid() == 0) return "/var/lib/husk";
  if (const char* x = getenv("XDG_DATA_HOME"); x && *x) return fs::Join(x, "husk");
  const char* home = getenv("HOME");
  if (!home || !*home) {
    if (auto* pw = getpwuid(geteuid())) home = pw->pw_dir;
  }
  return fs::Join(home ? home : "/tmp", ".local/share/husk");
}

Result<Store> Store::Open(const std::string& root, bool exclusive) {
  Store s;
  s.root_ = fs::Absolute(root);
  for (const char* sub : {"blobs/sha256", "ingest", "layers/.tmp"})
    TRY_CTX(fs::MkdirAll(fs::Join(s.root_, sub), 0700), "open store {}", s.root_);
  s.lock_ = TRY_CTX(FileLock::Acquire(fs::Join(s.root_, "store.lock"), exclusive), "open store");
  // Unpacks that died midway left directories here. Each live unpack holds its
  // layer's lock, so only directories whose lock is free are stale.
  auto tmp = fs::Join(s.root_, "layers/.tmp");
  if (auto entries = fs::ListDir(tmp); entries.ok()) {
    for (auto& e : *entries) {
      auto chain = e.substr(0, e.find('.'));
      auto l = FileLock::TryAcquire(fs::Join(s.root_, "layers/" + chain + ".lock"), true);
      if (l.ok() && l->has_value()) (void)fs::RemoveAll(fs::Join(tmp, e));
    }
  }
  return s;
}

bool Store::HasBlob(const Digest& d) const {
  return fs::Exists(BlobPath(d));
}

std::string Store::BlobPath(const Digest& d) const {
  return fs::Join(root_, "blobs/sha256/" + d.hex());
}

Result<std::string> Store::ReadBlob(const Digest& d) const {
  auto data = fs::ReadFile(BlobPath(d));
  if (!data) return Err("blob {} is not in the store", d.str());
  return data;
}

Result<Digest> Store::PutBlob(std::string_view data) {
  Digest d = Sha256Of(data);
  if (HasBlob(d)) return d;
  auto w = TRY(Ingest(d, static_cast<int64_t>(data.size())));
  if (!w) return d;
  if (w->offset() != 0) TRY(w->Reset());
  TRY(w->Write(data.data(), data.size()));
  return w->Commit();
}

Result<std::optional<BlobWriter>> Store::Ingest(const Digest& expected, int64_t expected_size) {
  if (HasBlob(expected)) return std::optional<BlobWriter>();
  auto base = fs::Join(root_, "ingest/" + expected.hex());
  BlobWriter w;
  w.lock_ = TRY(FileLock::Acquire(base + ".lock", true));
  // Whoever held the lock may have just finished this blob.
  if (HasBlob(expected)) return std::optional<BlobWriter>();
  w.partial_path_ = base;
  w.final_path_ = BlobPath(expected);
  w.expected_ = expected;
  w.expected_size_ = expected_size;
  w.fd_ = TRY(fs::Open(base, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  // Resume: hash what an earlier, interrupted download left.
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(w.fd_.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {}", base);
    }
    if (n == 0) break;
    w.hasher_.Update(buf.data(), static_cast<size_t>(n));
  }
  if (expected_size >= 0 && w.hasher_.bytes() > static_cast<uint64_t>(expected_size))
    TRY(w.Reset());
  return std::optional<BlobWriter>(std::move(w));
}

Result<Digest> Store::ImportBlobFile(const std::string& path, std::optional<Digest> expected) {
  Digest d = expected ? *expected : TRY(Sha256File(path));
  if (HasBlob(d)) return d;
  auto in = TRY(fs::Open(path, O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return ErrnoErr("stat {}", path);
  auto w = TRY(Ingest(d, st.st_size));
  if (!w) return d;
  if (w->offset() != 0) TRY(w->Reset());
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {}", path);
    }
    if (n == 0) break;
    TRY(w->Write(buf.data(), static_cast<size_t>(n)));
  }
  return TRY_CTX(w->Commit(), "{}", path);
}

// ---------------------------------------------------------------- records

Result<std::vector<ImageRecord>> Store::ListImages() const {
  std::vector<ImageRecord> out;
  auto path = fs::Join(root_, "images.json");
  if (!fs::Exists(path)) return out;
  auto data = TRY(fs::ReadFile(path));
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("images") || !j["images"].is_array())
    return Err("{}: malformed image records", path);
  for (auto& e : j["images"]) {
    ImageRecord r;
    r.name = e.value("name", "");
    auto d = Digest::Parse(e.value("digest", ""));
    if (!d || r.name.empty()) return Err("{}: malformed record for \"{}\"", path, r.name);
    r.digest = *d;
    r.media_type = e.value("mediaType", "");
    r.created = e.value("created", "");
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<ImageRecord>> Store::FindImage(const std::string& name) const {
  for (auto& r : TRY(ListImages()))
    if (r.name == name) return std::optional<ImageRecord>(r);
  return std::optional<ImageRecord>();
}

Status Store::WriteRecords(const std::vector<ImageRecord>& recs) {
  nlohmann::ordered_json j;
  j["images"] = nlohmann::ordered_json::array();
  for (auto& r : recs) {
    j["images"].push_back({{"name", r.name},
                           {"digest", r.digest.str()},
                           {"mediaType", r.media_type},
                           {"created", r.created}});
  }
  return fs::WriteFileAtomic(fs::Join(root_, "images.json"), j.dump(1) + "\n", 0600,
                             /*durable=*/true);
}

Status Store::PutImage(const ImageRecord& rec) {
  auto l = TRY(FileLock::Acquire(fs::Join(root_, "images.lock"), true));
  auto recs = TRY(ListImages());
  ImageRecord r = rec;
  if (r.created.empty()) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    r.created = time::Rfc3339Nano(now);
  }
  auto it = std::find_if(recs.begin(), recs.end(), [&](auto& x) { return x.name == r.name; });
  if (it != recs.end())
    *it = r;
  else
    recs.push_back(r);
  std::sort(recs.begin(), recs.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return WriteRecords(recs);
}

Result<bool> Store::RemoveImage(const std::string& name) {
  auto l = TRY(FileLock::Acquire(fs::Join(root_, "images.lock"), true));
  auto recs = TRY(ListImages());
  auto it = std::remove_if(recs.begin(), recs.end(), [&](auto& x) { return x.name == name; });
  if (it == recs.end()) return false;
  recs.erase(it, recs.end());
  TRY(WriteRecords(recs));
  return true;
}

}  // namespace husk::store
