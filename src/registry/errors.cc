#include "registry/errors.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace husk::registry {

namespace {

// Registry messages are meant for humans but arrive unfiltered: keep them on one
// line and of a sane length.
std::string OneLine(std::string_view s, size_t max = 300) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return out;
}

// "MANIFEST_UNKNOWN" -> "manifest unknown".
std::string CodeText(std::string_view code) {
  std::string out;
  for (char c : code) {
    out += c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<ErrorEntry> ParseErrorBody(std::string_view body) {
  std::vector<ErrorEntry> out;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  auto it = j.find("errors");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    ErrorEntry entry;
    if (auto c = e.find("code"); c != e.end() && c->is_string()) entry.code = c->get<std::string>();
    if (auto m = e.find("message"); m != e.end() && m->is_string()) {
      entry.message = m->get<std::string>();
    }
    if (!entry.code.empty() || !entry.message.empty()) out.push_back(std::move(entry));
  }
  return out;
}

Error ResponseError(std::string_view what, std::string_view method, const http::Response& resp) {
  auto entries = ParseErrorBody(resp.body);
  if (entries.empty()) {
    std::string reason(http::ReasonPhrase(resp.status));
    return Err("{} {}: {}{}{}", method, http::UrlForDisplay(resp.url), resp.status,
               reason.empty() ? "" : " ", reason);
  }
  std::string line;
  for (const auto& e : entries) {
    if (!line.empty()) line += "; ";
    std::string code = CodeText(e.code);
    std::string msg = OneLine(e.message);
    if (code.empty()) {
      line += msg;
    } else if (msg.empty() || Lower(msg) == code) {
      line += code;
    } else {
      line += code + ": " + msg;
    }
  }
  // "manifest unknown" says it all; for anything else the status tells which
  // kind of failure (401 vs 403 vs 5xx) the words may hide.
  if (resp.status == 404) return Err("{}: {}", what, line);
  return Err("{}: {} ({})", what, line, resp.status);
}

}  // namespace husk::registry
