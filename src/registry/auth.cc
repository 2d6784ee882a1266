#include "registry/auth.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/errors.h"

namespace husk::registry {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}

// RFC 7230 token characters, plus '/' so a token68 value ends up whole.
bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

// A cursor over a header value.
struct Scanner {
  std::string_view s;
  size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek() const { return done() ? '\0' : s[i]; }
  void SkipSpace() {
    while (!done() && IsSpace(s[i])) ++i;
  }
  void SkipSpaceAndCommas() {
    while (!done() && (IsSpace(s[i]) || s[i] == ',')) ++i;
  }
  std::string_view Token() {
    size_t b = i;
    while (!done() && IsTokenChar(s[i])) ++i;
    return s.substr(b, i - b);
  }
};

// Token servers explain refusals their own way: a registry error body, or
// OAuth2's {"error","error_description"}, or Docker Hub's {"details"}.
Error TokenError(const std::string& what, const http::Response& resp) {
  if (!ParseErrorBody(resp.body).empty()) return ResponseError(what, "GET", resp);
  std::string detail;
  auto j = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    for (const char* k : {"details", "error_description", "error"}) {
      if (auto it = j.find(k);
          it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        detail = it->get<std::string>();
        break;
      }
    }
  }
  if (!detail.empty()) return Err("{}: {} ({})", what, detail.substr(0, 300), resp.status);
  return Err("{}: {} {}", what, resp.status, http::ReasonPhrase(resp.status));
}

std::string ScopeKey(std::vector<std::string> scopes) {
  std::sort(scopes.begin(), scopes.end());
  scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
  return strings::Join(scopes, " ");
}

}  // namespace

std::string Challenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view value) {
  std::vector<Challenge> out;
  Scanner sc{value};
  for (;;) {
    sc.SkipSpaceAndCommas();
    if (sc.done()) break;
    auto scheme = sc.Token();
    if (scheme.empty()) {
      return Err("WWW-Authenticate \"{}\": unexpected '{}' at offset {}", value, sc.peek(), sc.i);
    }
    Challenge c;
    c.scheme = Lower(scheme);
    // Parameters follow until a token that is not followed by '=' starts the
    // next challenge: "Basic realm=x, Bearer realm=y" holds two.
    for (;;) {
      size_t mark = sc.i;
      sc.SkipSpaceAndCommas();
      auto name = sc.Token();
      sc.SkipSpace();
      if (name.empty() || sc.peek() != '=') {
        sc.i = mark;
        break;
      }
      ++sc.i;  // '='
      sc.SkipSpace();
      std::string val;
      if (sc.peek() == '"') {
        ++sc.i;
        bool closed = false;
        while (!sc.done()) {
          char ch = sc.s[sc.i++];
          if (ch == '\\' && !sc.done()) {
            val += sc.s[sc.i++];
          } else if (ch == '"') {
            closed = true;
            break;
          } else {
            val += ch;
          }
        }
        if (!closed) return Err("WWW-Authenticate \"{}\": unterminated quoted string", value);
      } else {
        val = std::string(sc.Token());
        // token68 padding ("Negotiate abc==") is not a parameter; keep it whole.
        while (sc.peek() == '=') val += sc.s[sc.i++];
      }
      c.params[Lower(name)] = std::move(val);
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return Err("WWW-Authenticate \"{}\": no challenge", value);
  return out;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (size_t rest = data.size() - i; rest > 0) {
    uint32_t v = uint8_t(data[i]) << 16;
    if (rest == 2) v |= uint8_t(data[i + 1]) << 8;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return Err("invalid base64: data after padding");
    const char* p = c ? std::strchr(kB64, c) : nullptr;
    if (!p) return Err("invalid base64: unexpected character '{}'", c);
    acc = (acc << 6) | uint32_t(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits >= 6 || pad > 2) return Err("invalid base64: truncated input");
  return out;
}

std::string RepositoryScope(std::string_view repo, bool push) {
  return fmt::format("repository:{}:{}", repo, push ? "pull,push" : "pull");
}

Authenticator::Authenticator(http::Transport* transport, std::string registry,
                             std::optional<Credentials> creds)
    : transport_(transport), registry_(std::move(registry)), creds_(std::move(creds)) {}

std::string Authenticator::HeaderFor(const std::vector<std::string>& scopes) {
  std::lock_guard lock(mu_);
  if (bearer_) {
    auto it = tokens_.find(ScopeKey(scopes));
    if (it != tokens_.end() && std::chrono::steady_clock::now() < it->second.expires) {
      return "Authorization: Bearer " + it->second.value;
    }
    // Unknown or expired: the request goes without, and its 401 fetches a token.
    return {};
  }
  if (basic_ && creds_ && !creds_->username.empty()) {
    return "Authorization: Basic " + Base64Encode(creds_->username + ":" + creds_->password);
  }
  return {};
}

Result<bool> Authenticator::OnUnauthorized(const http::Response& resp,
                                           const std::vector<std::string>& scopes,
                                           const std::string& sent) {
  std::vector<Challenge> challenges;
  for (const auto& h : resp.Headers("www-authenticate")) {
    auto parsed = TRY_CTX(ParseWwwAuthenticate(h), "{}", registry_);
    challenges.insert(challenges.end(), parsed.begin(), parsed.end());
  }
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && !bearer) bearer = &c;
    if (c.scheme == "basic" && !basic) basic = &c;
  }
  std::lock_guard lock(mu_);
  if (bearer) {
    if (bearer->Param("realm").empty()) {
      return Err("{}: bearer challenge without a realm", registry_);
    }
    bearer_ = *bearer;
    // The registry may name scopes we did not think of (catalog, or its own
    // spelling of ours): ask for both.
    std::vector<std::string> want = scopes;
    for (auto& s : strings::Split(bearer->Param("scope"), ' ')) {
      if (!s.empty()) want.push_back(s);
    }
    auto token = TRY(FetchToken(*bearer, want));
    tokens_[ScopeKey(scopes)] = std::move(token);
    return true;
  }
  if (basic) {
    if (!creds_ || creds_->username.empty()) return false;
    if (strings::StartsWith(sent, "Authorization: Basic ")) return false;  // rejected
    basic_ = true;
    return true;
  }
  return false;
}

Result<Authenticator::Token> Authenticator::FetchToken(const Challenge& c,
                                                       const std::vector<std::string>& scopes) {
  std::string realm = c.Param("realm");
  std::string scheme = http::UrlScheme(realm);
  if (scheme != "https" && scheme != "http") {
    return Err("{}: token realm \"{}\" is not an http(s) URL", registry_, realm);
  }
  std::string service = c.Param("service");
  http::Request req;
  req.max_body = 1 << 20;
  std::string form;
  http::Body body;
  if (creds_ && !creds_->identity_token.empty()) {
    // OAuth2 refresh-token grant (docker's "identity token"): POST, scopes space-separated.
    req.method = "POST";
    req.url = realm;
    form = "grant_type=refresh_token&client_id=husk&refresh_token=" +
           http::Escape(creds_->identity_token);
    if (!service.empty()) form += "&service=" + http::Escape(service);
    std::string key = ScopeKey(scopes);
    if (!key.empty()) form += "&scope=" + http::Escape(key);
    body = http::StringBody(form);
    req.body = &body;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    req.url = realm;
    if (!service.empty()) req.url = http::AddQuery(req.url, "service=" + http::Escape(service));
    std::vector<std::string> sorted = scopes;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    for (const auto& s : sorted) req.url = http::AddQuery(req.url, "scope=" + http::Escape(s));
    if (creds_ && !creds_->username.empty()) {
      req.url = http::AddQuery(req.url, "account=" + http::Escape(creds_->username));
      req.headers.push_back("Authorization: Basic " +
                            Base64Encode(creds_->username + ":" + creds_->password));
    }
  }
  std::string what = fmt::format("{}: token from {}", registry_, http::UrlForDisplay(realm));
  auto out = transport_->Perform(req);
  if (!out.error.ok()) return std::move(out.error).error().wrap(registry_ + ": token");
  if (out.resp.status != 200) return TokenError(what, out.resp);

  auto j = nlohmann::json::parse(out.resp.body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Err("{}: answer is not a JSON object", what);
  Token t;
  for (const char* k : {"token", "access_token"}) {
    if (auto it = j.find(k); it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      t.value = it->get<std::string>();
      break;
    }
  }
  if (t.value.empty()) return Err("{}: answer has no token", what);
  long long lifetime = 60;
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
    lifetime = std::max<long long>(it->get<long long>(), 1);
  }
  // Renew a little early: a token that expires in flight fails the request.
  auto margin = std::min<long long>(10, lifetime / 10);
  t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime - margin);
  return t;
}

}  // namespace husk::registry
