#include "build/deb_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "digest/digest.h"

namespace husk::build {
namespace {

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A temporary file that is unlinked unless it was renamed into place.
class PartialFile {
 public:
  static Result<PartialFile> Create(const std::string& dir, const std::string& sha256) {
    PartialFile f;
    f.path_ = fs::Join(dir, ".partial-" + sha256 + ".XXXXXX");
    int fd = ::mkostemp(f.path_.data(), O_CLOEXEC);
    if (fd < 0) return ErrnoErr("create {}", f.path_);
    f.fd_.reset(fd);
    return f;
  }
  PartialFile(PartialFile&& o) noexcept
      : path_(std::exchange(o.path_, "")), fd_(std::move(o.fd_)) {}
  PartialFile& operator=(PartialFile&&) = delete;
  ~PartialFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  Status Write(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoErr("write {}", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Ok();
  }

  // Flushes and renames the file to `final_path`; it is then no longer removed.
  Status Publish(const std::string& final_path) {
    // Data on disk before the name: after a crash the name never shows a
    // file of the right size holding garbage.
    if (::fdatasync(fd_.get()) != 0) return ErrnoErr("sync {}", path_);
    if (::fchmod(fd_.get(), 0644) != 0) return ErrnoErr("chmod {}", path_);
    fd_.reset();
    if (::rename(path_.c_str(), final_path.c_str()) != 0)
      return ErrnoErr("rename {} to {}", path_, final_path);
    path_.clear();
    return Ok();
  }

 private:
  PartialFile() = default;
  std::string path_;
  UniqueFd fd_;
};

std::string FinalPath(const std::string& dir, const DebSource& s) {
  return fs::Join(dir, s.sha256 + ".deb");
}

// Present under its final name with the right size: verified when it got the
// name, and files are never rewritten in place, so it is not hashed again.
bool Cached(const std::string& path, uint64_t size) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_size) == size;
}

// Partial files a crashed fetch left behind; young ones may be another
// process's download in progress.
void RemoveStalePartials(const std::string& dir) {
  auto names = fs::ListDir(dir);
  if (!names) return;
  int64_t now = static_cast<int64_t>(::time(nullptr));
  for (const std::string& name : *names) {
    if (name.rfind(".partial-", 0) != 0) continue;
    std::string path = fs::Join(dir, name);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && now - st.st_mtime > 86400) ::unlink(path.c_str());
  }
}

Status Download(HttpClient& http, const DebSource& s, const std::string& dir) {
  PartialFile f = TRY(PartialFile::Create(dir, s.sha256));
  Sha256 hash;
  TRY(http.Get(s.url, [&](std::string_view chunk) -> Status {
    if (hash.bytes() + chunk.size() > s.size)
      return Err("{}: larger than the {} bytes the index gives", s.url, s.size);
    hash.Update(chunk);
    return f.Write(chunk);
  }));
  if (hash.bytes() != s.size)
    return Err("{}: size mismatch (got {} bytes, the index says {})", s.url, hash.bytes(), s.size);
  std::string got = hash.Final().hex();
  if (got != s.sha256)
    return Err("{}: SHA256 mismatch (got {}, the index says {})", s.url, got, s.sha256);
  return f.Publish(FinalPath(dir, s));
}

}  // namespace

std::string DebCacheDir(const std::string& store_root) {
  return fs::Join(store_root, "debs");
}

std::vector<DebSource> DebSources(const AptIndex& index,
                                  const std::vector<const debian::Package*>& packages) {
  std::vector<DebSource> out;
  out.reserve(packages.size());
  for (const debian::Package* p : packages)
    out.push_back(DebSource{index.DebUrl(*p), p->sha256, p->size, p->Id()});
  return out;
}

Result<std::vector<std::string>> FetchDebs(const std::vector<DebSource>& sources,
                                           const std::string& cache_dir,
                                           const DebFetchOptions& opts) {
  for (const DebSource& s : sources) {
    if (!IsHex64(s.sha256)) return Err("{}: the index gives no SHA256 for it", s.id);
    if (s.url.empty()) return Err("{}: no URL to fetch it from", s.id);
  }
  TRY(fs::MkdirAll(cache_dir));
  RemoveStalePartials(cache_dir);
  std::vector<std::string> paths;
  paths.reserve(sources.size());
  for (const DebSource& s : sources) paths.push_back(FinalPath(cache_dir, s));

  // Each file once, even when listed twice.
  std::vector<size_t> todo;
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < sources.size(); i++)
    if (seen.insert(sources[i].sha256).second) todo.push_back(i);

  std::mutex mu;  // guards done, errors and the progress callback
  size_t done = 0;
  std::vector<std::pair<size_t, Error>> errors;
  std::atomic<bool> failed{false};
  std::atomic<size_t> next{0};
  auto report = [&](size_t i, bool cached) {
    std::lock_guard lock(mu);
    done++;
    if (opts.progress) opts.progress(DebFetchEvent{i, &sources[i], cached, done, todo.size()});
  };
  auto worker = [&] {
    HttpClient http;
    for (size_t k; !failed && (k = next.fetch_add(1)) < todo.size();) {
      size_t i = todo[k];
      const DebSource& s = sources[i];
      if (Cached(paths[i], s.size)) {
        report(i, true);
        continue;
      }
      // A damaged file (wrong size) must not keep the name if the download fails.
      ::unlink(paths[i].c_str());
      Status st = Download(http, s, cache_dir);
      if (!st) {
        failed = true;
        std::lock_guard lock(mu);
        errors.emplace_back(i, std::move(st).error());
        continue;
      }
      report(i, false);
    }
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(opts.jobs, 1)), 1,
                                std::max<size_t>(todo.size(), 1));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; t++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();

  if (!errors.empty()) {
    // The first in the caller's order, whichever thread failed first.
    auto first = std::min_element(errors.begin(), errors.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    return std::move(first->second);
  }
  return paths;
}

Result<std::vector<std::string>> FetchDebs(const AptIndex& index,
                                           const std::vector<const debian::Package*>& packages,
                                           const std::string& cache_dir,
                                           const DebFetchOptions& opts) {
  for (const debian::Package* p : packages)
    if (index.BaseUrl(*p).empty()) return Err("{}: not from a loaded repository", p->Id());
  return FetchDebs(DebSources(index, packages), cache_dir, opts);
}

}  // namespace husk::build
