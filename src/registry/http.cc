#include "registry/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/strings.h"

namespace husk::registry::http {

namespace {

constexpr size_t kMaxErrorBody = 64 << 10;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void GlobalInit() {
  // curl_global_init is not thread-safe on every build; once is enough.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct Transfer {
  const Request* req = nullptr;
  Response resp;
  Status error;
  bool decided = false;  // whether the body goes to the sink is decided at its first byte
  bool to_sink = false;
  uint64_t sent = 0;
};

size_t OnHeader(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t len = size * n;
  std::string_view line(buf, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (strings::StartsWith(line, "HTTP/")) {
    // A new response head (after a 100 Continue, say): forget the previous one.
    t->resp.headers.clear();
    auto sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto code = strings::ParseInt(line.substr(sp + 1, 3));
      t->resp.status = code ? *code : 0;
    }
    return len;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->resp.headers.emplace_back(Lower(strings::Trim(line.substr(0, colon))),
                                 std::string(strings::Trim(line.substr(colon + 1))));
  }
  return len;
}

size_t OnWrite(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t len = size * n;
  bool ok2xx = t->resp.status >= 200 && t->resp.status < 300;
  if (!t->decided) {
    t->decided = true;
    t->to_sink = ok2xx && t->req->sink;
  }
  if (t->to_sink) {
    Status st = t->req->sink(t->resp, data, len);
    if (!st) {
      t->error = std::move(st);
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (ok2xx) {
    if (t->resp.body.size() + len > t->req->max_body) {
      t->error = Err("{} {}: response larger than {} bytes", t->req->method,
                     UrlForDisplay(t->req->url), t->req->max_body);
      return 0;
    }
    t->resp.body.append(data, len);
  } else if (t->resp.body.size() < kMaxErrorBody) {
    t->resp.body.append(data, std::min(len, kMaxErrorBody - t->resp.body.size()));
  }
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const Body* body = t->req->body;
  uint64_t left = body->size - t->sent;
  if (left == 0 || !body->read) return 0;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  auto got = body->read(buf, want);
  if (!got) {
    t->error = std::move(got).error();
    return CURL_READFUNC_ABORT;
  }
  if (*got == 0 || *got > want) {
    t->error = Err("{} {}: upload source ended after {} of {} bytes", t->req->method,
                   UrlForDisplay(t->req->url), t->sent, body->size);
    return CURL_READFUNC_ABORT;
  }
  t->sent += *got;
  return *got;
}

bool Retryable(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct Transport::Handle {
  CURL* curl = nullptr;
  Handle() : curl(curl_easy_init()) {}
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

Transport::Transport(TransportOptions opts) : opts_(std::move(opts)) {
  GlobalInit();
}
Transport::~Transport() = default;

std::unique_ptr<Transport::Handle> Transport::Take() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      // Forgets every option but keeps the live connections and session cache.
      curl_easy_reset(h->curl);
      return h;
    }
  }
  return std::make_unique<Handle>();
}

void Transport::Give(std::unique_ptr<Handle> h) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(h));
}

Outcome Transport::Perform(const Request& req) {
  Outcome out;
  auto h = Take();
  if (!h->curl) {
    out.error = Err("{} {}: cannot create a curl handle", req.method, UrlForDisplay(req.url));
    return out;
  }
  CURL* c = h->curl;
  Transfer t;
  t.req = &req;
  char errbuf[CURL_ERROR_SIZE] = {0};

  SlistPtr headers;
  for (const auto& hd : req.headers) {
    headers.reset(curl_slist_append(headers.release(), hd.c_str()));
  }
  // Registries answer uploads at once; waiting for "100 Continue" only costs a round trip.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));

  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opts_.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts_.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!opts_.user_agent.empty()) curl_easy_setopt(c, CURLOPT_USERAGENT, opts_.user_agent.c_str());
  if (!opts_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, opts_.ca_file.c_str());
  if (!opts_.tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body->size));
    if (req.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode code = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  // Nothing may point at this stack frame once the handle is back in the pool.
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  Give(std::move(h));

  out.resp = std::move(t.resp);
  out.resp.url = req.url;
  if (status) out.resp.status = status;
  if (!t.error.ok()) {
    out.error = std::move(t.error);
    return out;
  }
  if (code == CURLE_OK) return out;
  // An error answer whose body falls short of its Content-Length (distribution's
  // 416 keeps the blob's length) still says everything that matters: its status.
  if (code == CURLE_PARTIAL_FILE && out.resp.status >= 300) return out;

  out.retryable = Retryable(code);
  out.tls_handshake_failed = code == CURLE_SSL_CONNECT_ERROR;
  std::string detail = errbuf[0] ? std::string(errbuf) : curl_easy_strerror(code);
  if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    out.error = CodeErr(static_cast<int>(os_errno), "connect {}", UrlAuthority(req.url));
  } else {
    out.error = Err("{} {}: {}", req.method, UrlForDisplay(req.url), detail);
  }
  return out;
}

Body StringBody(const std::string& s) {
  Body b;
  b.size = s.size();
  auto pos = std::make_shared<size_t>(0);
  b.read = [&s, pos](char* buf, size_t n) -> Result<size_t> {
    size_t k = std::min(n, s.size() - *pos);
    std::memcpy(buf, s.data() + *pos, k);
    *pos += k;
    return k;
  };
  return b;
}

std::optional<std::string> Response::Header(std::string_view name) const {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == want) return v;
  }
  return std::nullopt;
}

std::vector<std::string> Response::Headers(std::string_view name) const {
  std::string want = Lower(name);
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == want) out.push_back(v);
  }
  return out;
}

std::string UrlScheme(std::string_view url) {
  auto p = url.find("://");
  return p == std::string_view::npos ? std::string() : Lower(url.substr(0, p));
}

std::string UrlAuthority(std::string_view url) {
  auto p = url.find("://");
  if (p == std::string_view::npos) return {};
  auto rest = url.substr(p + 3);
  return std::string(rest.substr(0, rest.find_first_of("/?#")));
}

std::string UrlForDisplay(std::string_view url) {
  return std::string(url.substr(0, url.find('?')));
}

std::string ResolveUrl(std::string_view base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  std::string scheme = UrlScheme(base);
  if (strings::StartsWith(location, "//")) return scheme + ":" + std::string(location);
  std::string origin = scheme + "://" + UrlAuthority(base);
  if (strings::StartsWith(location, "/")) return origin + std::string(location);
  // A relative path replaces the last segment of the base path.
  std::string path(base.substr(origin.size()));
  path = path.substr(0, path.find('?'));
  auto slash = path.rfind('/');
  path = slash == std::string::npos ? "/" : path.substr(0, slash + 1);
  return origin + path + std::string(location);
}

std::string AddQuery(std::string_view url, std::string_view kv) {
  std::string out(url);
  auto hash = out.find('#');
  if (hash != std::string::npos) out.erase(hash);
  if (out.find('?') == std::string::npos) {
    out += '?';
  } else if (out.back() != '?' && out.back() != '&') {
    out += '&';
  }
  out += kv;
  return out;
}

std::string Escape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string_view ReasonPhrase(long status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

}  // namespace husk::registry::http
