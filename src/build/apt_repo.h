// The apt side of `husk build`, done the way apt does it: the machine's
// sources, then for each repository and suite dists/<suite>/InRelease checked
// with gpgv against the repository's keyring, then the Packages index of each
// component checked against the signed SHA256 list and merged into one
// debian::PackageIndex.
//
// Index cache (<cache_dir>/indexes/):
//   <sha256>                     a verified index file as downloaded (e.g. a
//                                Packages.xz), named by the hash the Release gave
//   <host_path_dists_suite>_InRelease   the last verified InRelease of a suite
//                                (or _Release and _Release.gpg), named as apt
//                                names /var/lib/apt/lists files
// A warm build downloads only the InRelease files: an unchanged Release names
// the same hashes, which are already here. Offline, the cached InRelease is
// used instead, and its signature is still checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "build/spec.h"
#include "debian/index.h"
#include "debian/release.h"

namespace husk::build {

// The keyring a repository without Signed-By is checked against.
inline constexpr const char* kDebianArchiveKeyring =
    "/usr/share/keyrings/debian-archive-keyring.gpg";

// ---------------------------------------------------------------- sources

// The machine's `deb` sources as apt reads them: sources.list (one-line
// format), then sources.list.d/*.list and *.sources (deb822) in name order.
// Files with other names (.disabled, .save, .dpkg-old) and entries with
// "Enabled: no" are skipped, as are deb-src ones. Repositories without
// Signed-By get kDebianArchiveKeyring. Errors name the file and line.
Result<std::vector<Repository>> SystemRepositories(const std::string& etc_apt = "/etc/apt");
// One deb822 .sources file; `origin` names it in errors.
Result<std::vector<Repository>> ParseDeb822Sources(std::string_view text, std::string_view origin);
// One-line entries: "deb [signed-by=/k.gpg arch=amd64] http://deb.debian.org/debian bookworm main".
Result<std::vector<Repository>> ParseOneLineSources(std::string_view text, std::string_view origin);

// ---------------------------------------------------------------- HTTP

// GETs over one libcurl easy handle, reused so its connection stays open (one
// per thread: a handle is not thread-safe). http, https and file URLs;
// redirects are followed (everything fetched is verified by hash anyway).
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  using Sink = std::function<Status(std::string_view chunk)>;
  // Streams the body of a successful response into sink. Errors read
  // "fetch URL: Connection refused" or "fetch URL: 404 Not Found"; *not_found
  // (if given) tells a missing file (404, 410, file:// ENOENT) from a failure.
  Status Get(const std::string& url, const Sink& sink, bool* not_found = nullptr);
  // The whole body, refusing more than max_bytes.
  Result<std::string> GetString(const std::string& url, size_t max_bytes,
                                bool* not_found = nullptr);

 private:
  void* curl_;  // CURL*, kept out of the header
};

// ---------------------------------------------------------------- signatures

// Checks an OpenPGP signature with gpgv against `keyring` (a binary .gpg
// keyring, or armored: a .asc file or the key block itself, as deb822's
// Signed-By may hold it, which is dearmored with gpg first). `sig` is the
// detached signature file, or "" when `data` is cleartext-signed (InRelease).
// Needs exit status 0 and a VALIDSIG status line made with a hash other than
// MD5, SHA-1 or RIPEMD-160. Errors read "bad signature (gpgv: ...)".
Status VerifySignature(const std::string& keyring, const std::string& data,
                       const std::string& sig = "");

// ---------------------------------------------------------------- indexes

struct AptOptions {
  std::string cache_dir;  // required: indexes are kept under <cache_dir>/indexes
  std::string arch = "amd64";
  // No network: the cached InRelease of each suite and the indexes it names.
  bool offline = false;
  // The cached InRelease of each suite (as CheckReleases just left it, its
  // signature checked again), the indexes from the cache or the network.
  bool cached_releases = false;
  int jobs = 4;     // suites fetched at once
  int64_t now = 0;  // for Valid-Until; 0: the current time
  // Progress lines ("Get http://.../InRelease"); null: silent. Called from
  // several threads, one call at a time.
  std::function<void(const std::string&)> log;
};

// A suite as it was loaded.
struct LoadedSuite {
  std::string base_url;     // the repository URL, without a trailing '/'
  std::string suite;        // as requested: "bookworm-updates"
  std::string release_url;  // the InRelease (or Release) it was read from
  debian::Release release;
};

struct AptIndex {
  debian::PackageIndex packages;  // every suite and component, merged
  std::vector<LoadedSuite> suites;
  size_t indexes_downloaded = 0;  // Packages files fetched from the network
  size_t indexes_cached = 0;      // ... or found in <cache_dir>/indexes

  // The repository URL a package came from (package.origin - 1 is its
  // suite), which its Filename is relative to; "" for a package not loaded by
  // LoadAptIndex.
  const std::string& BaseUrl(const debian::Package& p) const;
  // <base url>/<Filename>.
  std::string DebUrl(const debian::Package& p) const;
};

// Loads and verifies every suite and component of `repos` for opts.arch and
// merges them, repositories and suites in the order given (on equal versions
// the first wins). Errors name the URL:
//   fetch http://127.0.0.1:1/debian/dists/bookworm/InRelease: Connection refused
//   http://.../dists/bookworm/InRelease: bad signature (gpgv: ...)
//   http://.../dists/bookworm/main/binary-amd64/Packages.xz: SHA256 mismatch (...)
Result<AptIndex> LoadAptIndex(const std::vector<Repository>& repos, const AptOptions& opts);

// Fetches and verifies the InRelease (or Release) of every suite, as
// LoadAptIndex does first, keeping them in the cache, and returns a
// fingerprint of them all: the same fingerprint means the same indexes, so
// whatever was solved from them before still holds.
Result<std::string> CheckReleases(const std::vector<Repository>& repos, const AptOptions& opts);

}  // namespace husk::build
