// Registry authentication (distribution "token" spec and RFC 7617 basic): the
// WWW-Authenticate challenge of a 401 says how; the Authenticator obtains and
// caches what the retried request needs.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "registry/credentials.h"
#include "registry/http.h"

namespace husk::registry {

struct Challenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercased, values unquoted

  std::string Param(const std::string& name) const;
};

// Parses a WWW-Authenticate value (RFC 7235): one or more challenges whose
// parameters may be quoted strings holding commas and backslash escapes:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//          scope="repository:library/debian:pull,push"
Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view value);

std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

// "repository:library/debian:pull" / "...:pull,push".
std::string RepositoryScope(std::string_view repo, bool push);

// Obtains and caches Authorization headers for one registry. Thread-safe.
class Authenticator {
 public:
  Authenticator(http::Transport* transport, std::string registry, std::optional<Credentials> creds);

  // The header ("Authorization: ...") to send with a request that needs these
  // scopes, from what earlier challenges taught; "" when none is known yet.
  std::string HeaderFor(const std::vector<std::string>& scopes);

  // After a 401: reads the challenge, fetches a bearer token (anonymously when
  // there are no credentials) or switches to basic auth. true: retry the request
  // with HeaderFor(scopes); false: nothing would change (no usable challenge,
  // basic credentials already rejected, basic asked but none known).
  // sent is the Authorization header the failed request carried ("" if none).
  Result<bool> OnUnauthorized(const http::Response& resp, const std::vector<std::string>& scopes,
                              const std::string& sent);

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  Result<Token> FetchToken(const Challenge& c, const std::vector<std::string>& scopes);

  http::Transport* transport_;
  std::string registry_;
  std::optional<Credentials> creds_;
  std::mutex mu_;
  bool basic_ = false;                   // the registry asked for basic auth
  std::optional<Challenge> bearer_;      // the registry's token server
  std::map<std::string, Token> tokens_;  // by sorted, joined scope list
};

}  // namespace husk::registry
