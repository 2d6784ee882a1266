// A client of one registry speaking the OCI distribution spec 1.1 (and Docker's
// registry v2 API, the same wire protocol): manifests, blobs, uploads, tags, for
// `husk pull`, `push` and `login`.
//
// Every method authenticates on demand (a 401 with a Bearer challenge fetches a
// token, cached per scope; Basic sends the credentials), retries transient
// failures (connection errors, 5xx, 429) with exponential backoff, and fails
// with one line naming what was asked for:
//   127.0.0.1:5000/x/y:latest: manifest unknown
//   connect 127.0.0.1:1: Connection refused
// A Client may be used from several threads at once (parallel blob downloads).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "digest/digest.h"
#include "registry/auth.h"
#include "registry/credentials.h"
#include "registry/http.h"

namespace husk::registry {

// Media types the client asks for when fetching manifests. (src/image has its
// own set; the registry module does not depend on it.)
namespace media {
inline constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kDockerManifest[] = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media

enum class TlsMode {
  kAuto,     // https; loopback hosts and insecure registries fall back to http when the
             // server does not speak TLS (insecure ones also skip certificate checks)
  kRequire,  // https always
  kOff,      // http always
};

struct ClientOptions {
  std::string host;       // "127.0.0.1:5000", "quay.io"; docker.io talks to registry-1.docker.io
  bool insecure = false;  // plain http allowed (registries.conf insecure = true)
  TlsMode tls = TlsMode::kAuto;
  std::string ca_file;     // trust this PEM bundle instead of the system CAs
  bool tls_verify = true;  // false: accept any certificate (self-signed, insecure registries)
  std::optional<Credentials> creds;
  int max_retries = 3;
  std::string user_agent;  // empty: "husk/<version>"
  // Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
  uint64_t chunk_size = 64ull << 20;
  std::chrono::milliseconds retry_delay{500};  // first backoff; doubles on each retry
  long connect_timeout_s = 30;
  long stall_timeout_s = 60;
};

struct ManifestResponse {
  std::string media_type;  // Content-Type (or the body's mediaType when the registry sent none)
  std::string bytes;
  Digest digest;  // sha256 of bytes, checked against a digest reference and Docker-Content-Digest
};

struct ManifestPut {
  // The OCI-Subject header: a registry with the referrers API (distribution-spec
  // 1.1) names the subject it indexed the manifest under; empty otherwise.
  std::string oci_subject;
};

struct BlobInfo {
  Digest digest;  // empty for a manifest HEAD by tag without Docker-Content-Digest
  uint64_t size = 0;
  std::string media_type;
};

using BlobSink = std::function<Status(const char* data, size_t n)>;
using BlobReader = std::function<Result<size_t>(char* buf, size_t n)>;

class Client {
 public:
  explicit Client(ClientOptions opts);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& host() const { return opts_.host; }
  // "https://registry-1.docker.io", "http://127.0.0.1:5000".
  const std::string& base_url() const { return base_; }

  // GET /v2/, authenticating if challenged; succeeds on 200. For `husk login`:
  // with credentials set, success means the registry accepted them.
  Status Ping();

  // GET a manifest by tag or digest ("sha256:..."), at most 4 MiB. accept lists
  // the media types wanted; empty asks for OCI and Docker manifests and indexes.
  Result<ManifestResponse> GetManifest(const std::string& repo, const std::string& ref,
                                       const std::vector<std::string>& accept = {});
  // nullopt when the registry answers 404.
  Result<std::optional<BlobInfo>> HeadManifest(const std::string& repo, const std::string& ref,
                                               const std::vector<std::string>& accept = {});
  Result<ManifestPut> PutManifest(const std::string& repo, const std::string& ref,
                                  const std::string& media_type, const std::string& bytes);
  // GET /v2/<repo>/referrers/<subject>: the referrers index (optionally filtered
  // by artifactType), or nullopt when the registry has no referrers API (404).
  Result<std::optional<std::string>> GetReferrers(const std::string& repo, const Digest& subject,
                                                  const std::string& artifact_type = {});
  Result<std::vector<std::string>> ListTags(const std::string& repo);

  Result<std::optional<BlobInfo>> HeadBlob(const std::string& repo, const Digest& digest);
  // Streams the blob from offset to sink, following redirects to storage (with no
  // Authorization on another host) and resuming interrupted transfers where
  // they stopped: sink sees every byte once, in order. The digest is NOT
  // verified here: the caller hashes what it stores (it has to read it anyway).
  Status GetBlob(const std::string& repo, const Digest& digest, uint64_t offset, BlobSink sink);

  // Uploads size bytes from read unless the registry has the blob already.
  // With mount_from, first asks for a cross-repository mount. read is a stream,
  // so a failed upload is not retried; PushBlobFromFd can start over.
  Status PushBlob(const std::string& repo, const Digest& digest, uint64_t size, BlobReader read,
                  const std::optional<std::string>& mount_from = std::nullopt);
  // Like PushBlob, reading the fd with pread from offset 0; a transient failure
  // restarts the upload (a new session) up to max_retries times.
  Status PushBlobFromFd(const std::string& repo, const Digest& digest, uint64_t size, int fd,
                        const std::optional<std::string>& mount_from = std::nullopt);

  // "host/repo:tag" or "host/repo@sha256:...", as messages name things.
  std::string Name(std::string_view repo, std::string_view ref = {}) const;

 private:
  struct Call;
  struct UploadSource;
  // Sends call (redirects, auth, retries); a non-2xx answer is a value, for the
  // caller to judge; transport failures are errors.
  Result<http::Response> Do(Call& call);
  http::Outcome SendOnce(const Call& call, const std::string& auth);
  void Backoff(int failures, const http::Response* resp) const;
  std::string Url(std::string_view repo, std::string_view kind, std::string_view ref) const;
  Status PushBlobFrom(const std::string& repo, const Digest& digest, uint64_t size,
                      UploadSource& src, const std::optional<std::string>& mount_from);
  Status UploadOnce(const std::string& repo, const Digest& digest, uint64_t size, UploadSource& src,
                    const std::optional<std::string>& mount_from, bool* transient);

  ClientOptions opts_;
  std::string base_;
  std::unique_ptr<http::Transport> transport_;
  std::unique_ptr<Authenticator> auth_;
};

// True for localhost, 127.0.0.0/8 and ::1, with or without a port.
bool IsLoopbackHost(std::string_view host);

}  // namespace husk::registry
