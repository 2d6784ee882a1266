// The HTTP layer under the registry client: one transfer per call over a pooled
// libcurl easy handle. It knows nothing of registries: no auth, no retries, no
// redirects (the client follows those itself, to drop credentials when a blob
// redirect leaves the registry's host). Safe to use from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace husk::registry::http {

struct TransportOptions {
  bool tls_verify = true;
  std::string ca_file;  // PEM bundle to trust instead of the system CAs; empty: system
  std::string user_agent;
  long connect_timeout_s = 30;
  // A transfer that moves no byte for this long is cut (and may be retried): a
  // stalled blob download must not hang a pull forever.
  long stall_timeout_s = 60;
};

struct Response {
  long status = 0;                                           // 0 when no response arrived
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, in order
  std::string body;  // the body when no sink took it (error bodies are capped at 64 KiB)
  std::string url;   // the URL that answered

  // The first header of that name (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
  // Every header of that name (WWW-Authenticate may repeat).
  std::vector<std::string> Headers(std::string_view name) const;
};

// The body of a PUT/PATCH/POST: exactly `size` bytes, pulled through `read`,
// which returns how many it wrote (0 only at the end).
struct Body {
  uint64_t size = 0;
  std::function<Result<size_t>(char*, size_t)> read;  // null: empty body
};
// A Body over a string the caller keeps alive for the transfer.
Body StringBody(const std::string& s);

// Receives the body of a 2xx response as it arrives, with the response head
// (status and headers) already known. An error aborts the transfer.
using Sink = std::function<Status(const Response& head, const char* data, size_t n)>;

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  const Body* body = nullptr;
  Sink sink;  // null: a 2xx body is buffered into Response::body
  // Cap on a buffered 2xx body; more is an error (a registry must not make us
  // hold an arbitrarily large "manifest" in memory).
  size_t max_body = 4 << 20;
};

struct Outcome {
  Response resp;           // partial when error is set
  Status error;            // a transport failure, or the sink's or body reader's error
  bool retryable = false;  // error is a transport failure that may pass on a retry
  // The TLS handshake itself failed (not certificate verification): what
  // asking a plain-http server for https looks like.
  bool tls_handshake_failed = false;
};

class Transport {
 public:
  explicit Transport(TransportOptions opts);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  Outcome Perform(const Request& req);
  const TransportOptions& options() const { return opts_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> Take();
  void Give(std::unique_ptr<Handle> h);

  TransportOptions opts_;
  std::mutex mu_;
  // Idle handles: reusing one keeps its connection (and TLS session) alive.
  std::vector<std::unique_ptr<Handle>> idle_;
};

// "https://h:1/a?b" -> "h:1".
std::string UrlAuthority(std::string_view url);
// "https://h:1/a?b" -> "https".
std::string UrlScheme(std::string_view url);
// The URL without its query string: for messages (queries carry upload state
// and presigned-URL signatures).
std::string UrlForDisplay(std::string_view url);
// Resolves a Location header against the URL that sent it: absolute,
// scheme-relative ("//host/p"), absolute-path ("/p") or relative ("p").
std::string ResolveUrl(std::string_view base, std::string_view location);
// Appends "k=v" with '?' or '&' as the URL needs.
std::string AddQuery(std::string_view url, std::string_view kv);
// Percent-encodes everything but RFC 3986 unreserved characters.
std::string Escape(std::string_view s);
// "Not Found" for 404; HTTP/2 responses carry no reason phrase of their own.
std::string_view ReasonPhrase(long status);

}  // namespace husk::registry::http
