#include "registry/client.h"

#include <arpa/inet.h>

#include <algorithm>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/client_call.h"
#include "registry/errors.h"

namespace husk::registry {

namespace {

constexpr size_t kMaxManifest = 4 << 20;
constexpr int kMaxRedirects = 10;

std::string DefaultAccept() {
  return strings::Join(
      {media::kOciManifest, media::kOciIndex, media::kDockerManifest, media::kDockerManifestList},
      ", ");
}

std::string AcceptHeader(const std::vector<std::string>& accept) {
  return "Accept: " + (accept.empty() ? DefaultAccept() : strings::Join(accept, ", "));
}

// docker.io is a name, not a host: its API lives at registry-1.docker.io.
std::string ApiHost(const std::string& host) {
  if (host == "docker.io" || host == "index.docker.io") return "registry-1.docker.io";
  return host;
}

bool IsRedirect(long s) {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

bool IsDigestRef(std::string_view ref) {
  return ref.find(':') != std::string_view::npos;
}

std::string MediaTypeOf(const http::Response& resp) {
  std::string ct = resp.Header("content-type").value_or("");
  return std::string(strings::Trim(std::string_view(ct).substr(0, ct.find(';'))));
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  std::string_view h = host;
  if (strings::StartsWith(h, "[")) {
    h = h.substr(1, h.find(']') - 1);
  } else if (std::count(h.begin(), h.end(), ':') == 1) {
    h = h.substr(0, h.find(':'));
  }
  std::string name(h);
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  if (name == "localhost" || name == "::1") return true;
  in_addr a4;
  if (inet_pton(AF_INET, name.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

Client::Client(ClientOptions opts) : opts_(std::move(opts)) {
  bool tls = true;
  bool probe = false;
  switch (opts_.tls) {
    case TlsMode::kAuto:
      // A registry on loopback, or one marked insecure, may speak either:
      // https is tried first and plain http used only when the server does not
      // do TLS at all. On loopback a certificate that fails verification is
      // still an error, never a downgrade; an insecure registry's is not checked.
      probe = opts_.insecure || IsLoopbackHost(opts_.host);
      break;
    case TlsMode::kRequire:
      tls = true;
      break;
    case TlsMode::kOff:
      tls = false;
      break;
  }
  base_ = (tls ? "https://" : "http://") + ApiHost(opts_.host);
  http::TransportOptions t;
  t.tls_verify = opts_.tls_verify && !(opts_.insecure && opts_.tls == TlsMode::kAuto);
  t.ca_file = opts_.ca_file;
  t.user_agent = opts_.user_agent.empty() ? "husk/0.1" : opts_.user_agent;
  t.connect_timeout_s = opts_.connect_timeout_s;
  t.stall_timeout_s = opts_.stall_timeout_s;
  transport_ = std::make_unique<http::Transport>(std::move(t));
  auth_ = std::make_unique<Authenticator>(transport_.get(), opts_.host, opts_.creds);
  if (probe) {
    http::Request req;
    req.url = base_ + "/v2/";
    auto out = transport_->Perform(req);
    if (!out.error.ok() && out.tls_handshake_failed) {
      base_ = "http://" + ApiHost(opts_.host);
    }
  }
}

Client::~Client() = default;

std::string Client::Name(std::string_view repo, std::string_view ref) const {
  std::string out = opts_.host + "/" + std::string(repo);
  if (!ref.empty()) out += (IsDigestRef(ref) ? "@" : ":") + std::string(ref);
  return out;
}

std::string Client::Url(std::string_view repo, std::string_view kind, std::string_view ref) const {
  return fmt::format("{}/v2/{}/{}/{}", base_, repo, kind, ref);
}

void Client::Backoff(int failures, const http::Response* resp) const {
  auto delay = opts_.retry_delay * (1LL << std::min(failures, 6));
  delay = std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(30));
  // A registry that says when to come back (429, 503) knows better, within reason.
  if (resp) {
    if (auto ra = resp->Header("retry-after")) {
      if (auto s = strings::ParseInt(*ra); s && *s > 0 && *s <= 60) {
        delay = std::max<std::chrono::milliseconds>(delay, std::chrono::seconds(*s));
      }
    }
  }
  std::this_thread::sleep_for(delay);
}

http::Outcome Client::SendOnce(const Call& call, const std::string& auth) {
  std::string url = call.url;
  std::string method = call.method;
  std::string authz = auth;
  for (int hops = 0;; ++hops) {
    http::Request req;
    req.method = method;
    req.url = url;
    req.headers = call.headers;
    req.headers.insert(req.headers.end(), call.attempt_headers.begin(), call.attempt_headers.end());
    if (!authz.empty()) req.headers.push_back(authz);
    req.body = method == call.method ? call.body : nullptr;
    req.sink = call.sink;
    req.max_body = call.max_body;
    auto out = transport_->Perform(req);
    if (!out.error.ok() || !call.follow_redirects || !IsRedirect(out.resp.status)) return out;
    auto loc = out.resp.Header("location");
    if (!loc || loc->empty()) return out;
    if (hops >= kMaxRedirects) {
      out.error = Err("{}: more than {} redirects", call.what, kMaxRedirects);
      return out;
    }
    std::string next = http::ResolveUrl(url, *loc);
    if (http::UrlScheme(url) == "https" && http::UrlScheme(next) != "https") {
      out.error =
          Err("{}: refusing redirect from https to {}", call.what, http::UrlForDisplay(next));
      return out;
    }
    // Blob storage (S3, a CDN) is another host: our registry token is none of its
    // business, and presigned URLs even reject requests that carry one.
    if (http::UrlAuthority(next) != http::UrlAuthority(call.url) ||
        http::UrlScheme(next) != http::UrlScheme(call.url)) {
      authz.clear();
    }
    if (out.resp.status == 303) method = "GET";
    url = std::move(next);
  }
}

Result<http::Response> Client::Do(Call& call) {
  int max_retries = call.max_retries >= 0 ? call.max_retries : opts_.max_retries;
  int failures = 0;
  bool auth_tried = false;
  std::optional<Error> last;
  for (;;) {
    call.transient = false;
    if (call.before && !call.before(call)) {
      if (last) return std::move(*last);
      return Err("{}: request cannot be sent", call.what);
    }
    std::string authz = auth_->HeaderFor(call.scopes);
    uint64_t before_progress = call.progress ? *call.progress : 0;
    auto out = SendOnce(call, authz);
    bool progressed = call.progress && *call.progress != before_progress;
    if (progressed) failures = 0;
    if (!out.error.ok()) {
      if (out.retryable && failures < max_retries) {
        last = std::move(out.error).error();
        Backoff(failures++, nullptr);
        continue;
      }
      call.transient = out.retryable;
      return std::move(out.error).error();
    }
    auto& resp = out.resp;
    if (resp.status == 401 && !auth_tried) {
      auth_tried = true;
      if (TRY(auth_->OnUnauthorized(resp, call.scopes, authz))) {
        last = ResponseError(call.what, call.method, resp);
        continue;
      }
      return std::move(resp);
    }
    if (resp.status >= 500 || resp.status == 429) {
      if (failures < max_retries) {
        last = ResponseError(call.what, call.method, resp);
        Backoff(failures++, &resp);
        continue;
      }
      call.transient = true;
    }
    return std::move(resp);
  }
}

Status Client::Ping() {
  Call call;
  call.url = base_ + "/v2/";
  call.what = opts_.host;
  auto resp = TRY(Do(call));
  if (resp.status != 200) return ResponseError(call.what, call.method, resp);
  return Ok();
}

Result<ManifestResponse> Client::GetManifest(const std::string& repo, const std::string& ref,
                                             const std::vector<std::string>& accept) {
  std::optional<Digest> want;
  if (IsDigestRef(ref)) want = TRY_CTX(Digest::Parse(ref), "{}", Name(repo));
  Call call;
  call.url = Url(repo, "manifests", ref);
  call.what = Name(repo, ref);
  call.headers.push_back(AcceptHeader(accept));
  call.scopes = {RepositoryScope(repo, false)};
  std::string bytes;
  call.before = [&bytes](Call&) {
    bytes.clear();
    return true;
  };
  call.sink = [&](const http::Response&, const char* p, size_t n) -> Status {
    if (bytes.size() + n > kMaxManifest) {
      return Err("{}: manifest larger than {} MiB", call.what, kMaxManifest >> 20);
    }
    bytes.append(p, n);
    return Ok();
  };
  auto resp = TRY(Do(call));
  if (resp.status != 200) return ResponseError(call.what, call.method, resp);

  ManifestResponse m;
  m.bytes = std::move(bytes);
  m.digest = Sha256Of(m.bytes);
  m.media_type = MediaTypeOf(resp);
  if (m.media_type.empty()) {
    auto j = nlohmann::json::parse(m.bytes, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string()) {
      m.media_type = j["mediaType"].get<std::string>();
    }
  }
  if (want && !(*want == m.digest)) {
    return Err("{}: digest mismatch: the registry sent content with digest {}", call.what,
               m.digest.str());
  }
  // Only a sha256 header can be compared; another algorithm is not an error.
  if (auto h = resp.Header("docker-content-digest")) {
    if (auto d = Digest::Parse(*h); d && !(*d == m.digest)) {
      return Err("{}: digest mismatch: Docker-Content-Digest says {}, content is {}", call.what, *h,
                 m.digest.str());
    }
  }
  return m;
}

Result<std::optional<BlobInfo>> Client::HeadManifest(const std::string& repo,
                                                     const std::string& ref,
                                                     const std::vector<std::string>& accept) {
  Call call;
  call.method = "HEAD";
  call.url = Url(repo, "manifests", ref);
  call.what = Name(repo, ref);
  call.headers.push_back(AcceptHeader(accept));
  call.scopes = {RepositoryScope(repo, false)};
  auto resp = TRY(Do(call));
  if (resp.status == 404) return std::optional<BlobInfo>();
  if (resp.status != 200) return ResponseError(call.what, call.method, resp);
  BlobInfo info;
  info.media_type = MediaTypeOf(resp);
  if (auto len = resp.Header("content-length")) info.size = strings::ParseUint(*len).value_or(0);
  if (auto h = resp.Header("docker-content-digest")) {
    info.digest = TRY_CTX(Digest::Parse(*h), "{}: Docker-Content-Digest", call.what);
  } else if (IsDigestRef(ref)) {
    info.digest = TRY_CTX(Digest::Parse(ref), "{}", Name(repo));
  }
  return std::optional<BlobInfo>(std::move(info));
}

Result<ManifestPut> Client::PutManifest(const std::string& repo, const std::string& ref,
                                        const std::string& media_type, const std::string& bytes) {
  Call call;
  call.method = "PUT";
  call.url = Url(repo, "manifests", ref);
  call.what = Name(repo, ref);
  call.headers.push_back("Content-Type: " + media_type);
  call.scopes = {RepositoryScope(repo, true)};
  http::Body body;
  call.body = &body;
  // A string can be replayed: every attempt gets a fresh reader.
  call.before = [&](Call&) {
    body = http::StringBody(bytes);
    return true;
  };
  auto resp = TRY(Do(call));
  if (resp.status != 201 && resp.status != 200) return ResponseError(call.what, "PUT", resp);
  ManifestPut put;
  put.oci_subject = resp.Header("oci-subject").value_or("");
  return put;
}

Result<std::optional<std::string>> Client::GetReferrers(const std::string& repo,
                                                        const Digest& subject,
                                                        const std::string& artifact_type) {
  Call call;
  call.url = Url(repo, "referrers", subject.str());
  if (!artifact_type.empty()) call.url += "?artifactType=" + http::Escape(artifact_type);
  call.what = Name(repo, subject.str()) + " referrers";
  call.headers.push_back(std::string("Accept: ") + media::kOciIndex);
  call.scopes = {RepositoryScope(repo, false)};
  call.max_body = kMaxManifest;
  auto resp = TRY(Do(call));
  if (resp.status == 404) return std::optional<std::string>();
  if (resp.status != 200) return ResponseError(call.what, call.method, resp);
  return std::optional<std::string>(std::move(resp.body));
}

Result<std::vector<std::string>> Client::ListTags(const std::string& repo) {
  std::vector<std::string> tags;
  std::string url = fmt::format("{}/v2/{}/tags/list?n=1000", base_, repo);
  // Pages are chained by Link: <...?last=x&n=1000>; rel="next". Bounded, in case
  // a registry links a page to itself.
  for (int page = 0; page < 10000 && !url.empty(); ++page) {
    Call call;
    call.url = url;
    call.what = Name(repo);
    call.scopes = {RepositoryScope(repo, false)};
    call.max_body = 16 << 20;
    auto resp = TRY(Do(call));
    if (resp.status != 200) return ResponseError(call.what, "GET", resp);
    auto j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return Err("{}: tag list is not a JSON object", call.what);
    if (auto it = j.find("tags"); it != j.end() && it->is_array()) {
      for (const auto& t : *it) {
        if (t.is_string()) tags.push_back(t.get<std::string>());
      }
    }
    url.clear();
    if (auto link = resp.Header("link")) {
      auto lt = link->find('<');
      auto gt = link->find('>');
      if (lt != std::string::npos && gt != std::string::npos && gt > lt &&
          link->find("rel=\"next\"") != std::string::npos) {
        url = http::ResolveUrl(call.url, link->substr(lt + 1, gt - lt - 1));
      }
    }
  }
  return tags;
}

}  // namespace husk::registry
