// Internal to client*.cc: one logical request of the Client, as Do() sends it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "registry/client.h"

namespace husk::registry {

struct Client::Call {
  std::string method = "GET";
  std::string url;
  std::string what;  // names the object for messages ("host/repo:tag")
  std::vector<std::string> headers;
  std::vector<std::string> scopes;  // token scopes the request needs
  const http::Body* body = nullptr;
  http::Sink sink;
  size_t max_body = 4 << 20;
  bool follow_redirects = false;
  int max_retries = -1;  // -1: ClientOptions::max_retries

  // Runs before every send (first, retry, after auth); may set attempt_headers
  // (a Range) or rewind the body. false: this call cannot be sent again (a body
  // that cannot be replayed), so Do returns the last failure.
  std::function<bool(Call&)> before;
  std::vector<std::string> attempt_headers;
  // When set, a failed attempt that advanced this counter does not use up a
  // retry: a long download keeps going as long as it makes progress.
  const uint64_t* progress = nullptr;
  // Out: whether Do's answer (error or status) is a transient failure.
  bool transient = false;
};

}  // namespace husk::registry
