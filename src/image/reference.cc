#include "image/reference.h"

#include <cctype>

namespace husk::image {
namespace {

bool IsAlnumLower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// One path component: [a-z0-9]+ joined by ".", "_", "__" or any number of "-".
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsAlnumLower(c.front()) || !IsAlnumLower(c.back())) return false;
  for (size_t i = 0; i < c.size(); i++) {
    char ch = c[i];
    if (IsAlnumLower(ch)) continue;
    if (ch == '.' || ch == '_') {
      if (ch == '_' && i + 1 < c.size() && c[i + 1] == '_') i++;  // "__"
      if (!IsAlnumLower(c[i + 1])) return false;
      continue;
    }
    if (ch == '-') continue;  // runs of '-' are allowed between alnums
    return false;
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

bool ValidDomain(std::string_view d) {
  if (d.empty()) return false;
  for (char c : d) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']')
      return false;
  }
  return true;
}

}  // namespace

Result<Reference> ParseReference(std::string_view s) {
  auto bad = [&](std::string_view why) { return Err("invalid image name \"{}\": {}", s, why); };
  if (s.empty()) return Err("invalid image name \"\": empty");
  Reference r;
  std::string_view rest = s;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto d = Digest::Parse(rest.substr(at + 1));
    if (!d) return bad(d.error().msg);
    r.digest = *d;
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag ("host:5000/x" has no tag).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(r.tag)) return bad("invalid tag \"" + r.tag + "\"");
  }
  auto first_slash = rest.find('/');
  std::string_view first = rest.substr(0, first_slash);
  if (first_slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost" ||
       first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos)) {
    if (!ValidDomain(first)) return bad("invalid registry \"" + std::string(first) + "\"");
    r.domain = std::string(first);
    rest = rest.substr(first_slash + 1);
  } else {
    r.domain = std::string(kDockerHub);
  }
  if (r.domain == "index.docker.io") r.domain = std::string(kDockerHub);
  if (rest.empty()) return bad("no repository");
  r.path = std::string(rest);
  if (r.domain == kDockerHub && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
  size_t start = 0;
  for (;;) {
    auto end = r.path.find('/', start);
    auto comp =
        std::string_view(r.path).substr(start, end == std::string::npos ? end : end - start);
    if (!ValidComponent(comp)) {
      for (char c : comp)
        if (std::isupper(static_cast<unsigned char>(c))) return bad("repository must be lowercase");
      return bad("invalid repository component \"" + std::string(comp) + "\"");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (r.path.size() > 255) return bad("repository longer than 255 characters");
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

std::string Reference::String() const {
  std::string s = Repository();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::Familiar() const {
  std::string s;
  if (domain == kDockerHub) {
    s = path.rfind("library/", 0) == 0 ? path.substr(8) : path;
  } else {
    s = Repository();
  }
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::ApiHost() const {
  return domain == kDockerHub ? std::string(kDockerHubApi) : domain;
}

bool LooksLikeIdPrefix(std::string_view s) {
  if (s.rfind("sha256:", 0) == 0) s.remove_prefix(7);
  if (s.size() < 4 || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace husk::image
