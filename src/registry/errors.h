// Registry error responses as one line a user can act on. A registry explains a
// failure in a JSON body ({"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]},
// distribution spec "Error Codes"); proxies and storage backends answer with a
// bare status. Both become one line naming what was asked for.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "registry/http.h"

namespace husk::registry {

struct ErrorEntry {
  std::string code;     // "MANIFEST_UNKNOWN"
  std::string message;  // "manifest unknown"
};

// The entries of a registry error body; empty when the body is not one.
std::vector<ErrorEntry> ParseErrorBody(std::string_view body);

// The error for a failed response. what names the object asked for
// ("127.0.0.1:5000/x/y:latest"); method and the response's URL are used when
// the body explains nothing:
//   127.0.0.1:5000/x/y:latest: manifest unknown
//   127.0.0.1:5000/x/y:latest: unauthorized: authentication required (401)
//   GET https://r.example/v2/x/y/blobs/sha256:...: 500 Internal Server Error
Error ResponseError(std::string_view what, std::string_view method, const http::Response& resp);

}  // namespace husk::registry
