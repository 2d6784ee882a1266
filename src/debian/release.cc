#include "debian/release.h"

#include <time.h>

#include <cstring>

#include "base/strings.h"
#include "debian/deb822.h"
#include "digest/digest.h"

namespace husk::debian {
namespace {

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) i++;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t' && s[j] != '\n') j++;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Rows of "hash size path", each checked; `line` is where the field starts,
// so a bad row's error points at its own line.
Result<std::vector<ReleaseEntry>> ParseFileList(std::string_view value, uint32_t line) {
  std::vector<ReleaseEntry> out;
  size_t i = 0;
  while (i < value.size()) {
    size_t nl = value.find('\n', i);
    if (nl == std::string_view::npos) nl = value.size();
    std::string_view row = strings::Trim(value.substr(i, nl - i));
    i = nl + 1;
    uint32_t row_line = line;
    line++;
    if (row.empty()) continue;
    std::vector<std::string> w = Words(row);
    if (w.size() != 3)
      return Err("line {}: SHA256 entry \"{}\" is not \"hash size path\"", row_line, row);
    if (!IsHex64(w[0]))
      return Err("line {}: SHA256 entry for {}: \"{}\" is not 64 lowercase hex", row_line, w[2],
                 w[0]);
    auto size = strings::ParseUint(w[1]);
    if (!size)
      return Err("line {}: SHA256 entry for {}: size \"{}\" is not a number", row_line, w[2], w[1]);
    out.push_back(ReleaseEntry{std::move(w[2]), *size, std::move(w[0])});
  }
  return out;
}

std::string_view TrimLineEnd(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

const ReleaseEntry* Release::Find(std::string_view path) const {
  for (const ReleaseEntry& e : files)
    if (e.path == path) return &e;
  return nullptr;
}

const ReleaseEntry* Release::FindPackages(std::string_view component, std::string_view arch) const {
  std::string base = fmt::format("{}/binary-{}/Packages", component, arch);
  for (std::string_view ext : {".xz", ".gz", ""})
    if (const ReleaseEntry* e = Find(base + std::string(ext))) return e;
  return nullptr;
}

std::string ByHashPath(const ReleaseEntry& e) {
  auto slash = e.path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : e.path.substr(0, slash + 1);
  return dir + "by-hash/SHA256/" + e.sha256;
}

std::string Release::FetchPath(const ReleaseEntry& e) const {
  return acquire_by_hash ? ByHashPath(e) : e.path;
}

Status Release::CheckValidUntil(int64_t now) const {
  if (!valid_until_unix || now <= *valid_until_unix) return Ok();
  return Err("Release file of {} expired at {} ({} days ago)", suite.empty() ? codename : suite,
             valid_until, (now - *valid_until_unix) / 86400);
}

Status VerifyEntry(const ReleaseEntry& e, std::string_view data) {
  if (data.size() != e.size)
    return Err("{}: size {} does not match the Release file's {}", e.path, data.size(), e.size);
  Digest got = Sha256Of(data);
  if (got.hex() != e.sha256)
    return Err("{}: sha256 {} does not match the Release file's {}", e.path, got.hex(), e.sha256);
  return Ok();
}

Result<int64_t> ParseReleaseDate(std::string_view s) {
  auto bad = [&](std::string_view why) { return Err("invalid date \"{}\": {}", s, why); };
  std::string text(strings::Trim(s));
  // The weekday says nothing the date does not.
  if (auto comma = text.find(','); comma != std::string::npos) text.erase(0, comma + 1);
  tm t{};
  const char* rest = strptime(text.c_str(), " %d %b %Y %H:%M:%S", &t);
  if (!rest) return bad("want \"Day, DD Mon YYYY HH:MM:SS UTC\"");
  std::string_view zone = strings::Trim(rest);
  int64_t offset = 0;
  if (zone == "UTC" || zone == "GMT" || zone == "Z" || zone == "UT") {
    offset = 0;
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    auto hhmm = strings::ParseUint(zone.substr(1));
    if (!hhmm) return bad("bad time zone offset");
    offset = static_cast<int64_t>(*hhmm / 100 * 3600 + *hhmm % 100 * 60);
    if (zone[0] == '-') offset = -offset;
  } else {
    return bad(fmt::format("unknown time zone \"{}\"", zone));
  }
  return static_cast<int64_t>(timegm(&t)) - offset;
}

Result<Release> ParseRelease(std::string_view text) {
  auto paragraphs = TRY(ParseDeb822(text));
  if (paragraphs.empty()) return Err("Release file is empty");
  if (paragraphs.size() > 1)
    return Err("line {}: Release file has more than one paragraph", paragraphs[1].line());
  const Paragraph& p = paragraphs[0];
  Release r;
  r.origin = std::string(p.Get("Origin"));
  r.label = std::string(p.Get("Label"));
  r.suite = std::string(p.Get("Suite"));
  r.codename = std::string(p.Get("Codename"));
  r.version = std::string(p.Get("Version"));
  if (r.suite.empty() && r.codename.empty())
    return Err("Release file has neither Suite nor Codename");
  r.date = std::string(p.Get("Date"));
  if (r.date.empty()) return Err("Release file has no Date");
  r.date_unix = TRY_CTX(ParseReleaseDate(r.date), "line {}: Date", p.LineOf("Date"));
  r.valid_until = std::string(p.Get("Valid-Until"));
  if (!r.valid_until.empty())
    r.valid_until_unix =
        TRY_CTX(ParseReleaseDate(r.valid_until), "line {}: Valid-Until", p.LineOf("Valid-Until"));
  r.architectures = Words(p.Get("Architectures"));
  r.components = Words(p.Get("Components"));
  std::string_view by_hash = p.Get("Acquire-By-Hash");
  if (!by_hash.empty() && by_hash != "yes" && by_hash != "no")
    return Err("line {}: Acquire-By-Hash: \"{}\" is neither yes nor no",
               p.LineOf("Acquire-By-Hash"), by_hash);
  r.acquire_by_hash = by_hash == "yes";
  auto sha = p.Find("SHA256");
  if (!sha) return Err("Release file has no SHA256 list (MD5Sum/SHA1-only archives are refused)");
  r.files = TRY(ParseFileList(*sha, p.LineOf("SHA256")));
  return r;
}

Result<std::string> StripClearsign(std::string_view in) {
  constexpr std::string_view kBegin = "-----BEGIN PGP SIGNED MESSAGE-----";
  constexpr std::string_view kSig = "-----BEGIN PGP SIGNATURE-----";
  constexpr std::string_view kEnd = "-----END PGP SIGNATURE-----";
  enum { kBefore, kHeaders, kBody, kSignature, kAfter } state = kBefore;
  std::string out;
  out.reserve(in.size());
  size_t pos = 0, lineno = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    std::string_view raw = in.substr(pos, nl - pos);
    std::string_view line = TrimLineEnd(raw);
    pos = nl + 1;
    lineno++;
    switch (state) {
      case kBefore:
        if (line == kBegin) {
          state = kHeaders;
        } else if (!line.empty()) {
          return Err("line {}: content before \"{}\"", lineno, kBegin);
        }
        break;
      case kHeaders:
        // Armor headers ("Hash: SHA256") end at the first empty line.
        if (line.empty()) {
          state = kBody;
        } else if (line.find(": ") == std::string_view::npos) {
          return Err("line {}: malformed armor header \"{}\"", lineno, line);
        }
        break;
      case kBody:
        if (line == kSig) {
          state = kSignature;
          break;
        }
        if (!raw.empty() && raw[0] == '-') {
          if (raw.substr(0, 2) != "- ")
            return Err("line {}: line starting with '-' is not dash-escaped", lineno);
          raw.remove_prefix(2);
        }
        out.append(raw);
        out.push_back('\n');
        break;
      case kSignature:
        if (line == kEnd) state = kAfter;
        break;
      case kAfter:
        if (!line.empty()) return Err("line {}: content after the signature", lineno);
        break;
    }
  }
  if (state == kBefore) return Err("not a cleartext-signed message (no \"{}\")", kBegin);
  if (state == kHeaders || state == kBody) return Err("signed message without a signature block");
  if (state == kSignature) return Err("unterminated signature block (no \"{}\")", kEnd);
  return out;
}

}  // namespace husk::debian
