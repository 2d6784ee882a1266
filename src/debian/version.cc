#include "debian/version.h"

#include <climits>

namespace husk::debian {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

// dpkg's order(): digits never reach here in verrevcmp's non-digit loop except
// as the "end of the non-digit run" marker, which ranks like the end of string.
int Order(char c) {
  if (IsDigit(c)) return 0;
  if (IsAlpha(c)) return static_cast<unsigned char>(c);
  if (c == '~') return -1;
  if (c) return static_cast<unsigned char>(c) + 256;
  return 0;
}

// dpkg's verrevcmp over string_views: at() yields '\0' past the end, which is
// exactly how the C version sees its NUL terminator.
int VerRevCmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto at = [](std::string_view s, size_t k) { return k < s.size() ? s[k] : '\0'; };
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      int ac = Order(at(a, i));
      int bc = Order(at(b, j));
      if (ac != bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) == '0') i++;
    while (at(b, j) == '0') j++;
    while (IsDigit(at(a, i)) && IsDigit(at(b, j))) {
      if (!first_diff) first_diff = a[i] - b[j];
      i++;
      j++;
    }
    if (IsDigit(at(a, i))) return 1;
    if (IsDigit(at(b, j))) return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct Parts {
  uint64_t epoch = 0;
  std::string_view upstream;
  std::string_view revision;
};

// Splits like dpkg's parseversion (blanks trimmed, epoch before the first ':',
// revision after the last '-'), without judging the pieces.
Parts Split(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  Parts p;
  if (auto colon = s.find(':'); colon != std::string_view::npos) {
    for (char c : s.substr(0, colon)) {
      if (!IsDigit(c)) {
        p.epoch = 0;
        break;
      }
      if (p.epoch <= UINT32_MAX) p.epoch = p.epoch * 10 + static_cast<uint64_t>(c - '0');
    }
    s.remove_prefix(colon + 1);
  }
  if (auto dash = s.rfind('-'); dash != std::string_view::npos) {
    p.revision = s.substr(dash + 1);
    s = s.substr(0, dash);
  }
  p.upstream = s;
  return p;
}

int Sign(int v) {
  return (v > 0) - (v < 0);
}

}  // namespace

std::string Version::String() const {
  std::string out;
  if (epoch) out = std::to_string(epoch) + ":";
  out += upstream;
  if (!revision.empty()) out += "-" + revision;
  return out;
}

Result<Version> ParseVersion(std::string_view s) {
  auto bad = [&](std::string_view why) { return Err("invalid version \"{}\": {}", s, why); };
  std::string_view v = s;
  while (!v.empty() && IsBlank(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsBlank(v.back())) v.remove_suffix(1);
  if (v.empty()) return bad("empty");
  for (char c : v)
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return bad("embedded whitespace");
  Version out;
  if (auto colon = v.find(':'); colon != std::string_view::npos) {
    std::string_view e = v.substr(0, colon);
    if (e.empty()) return bad("epoch is empty");
    uint64_t epoch = 0;
    for (char c : e) {
      if (!IsDigit(c)) return bad("epoch is not a number");
      epoch = epoch * 10 + static_cast<uint64_t>(c - '0');
      if (epoch > INT_MAX) return bad("epoch is too big");
    }
    out.epoch = static_cast<uint32_t>(epoch);
    v.remove_prefix(colon + 1);
    if (v.empty()) return bad("nothing after the epoch's ':'");
  }
  if (auto dash = v.rfind('-'); dash != std::string_view::npos) {
    std::string_view rev = v.substr(dash + 1);
    if (rev.empty()) return bad("revision is empty");
    for (char c : rev)
      if (!IsDigit(c) && !IsAlpha(c) && c != '.' && c != '+' && c != '~')
        return bad(fmt::format("invalid character '{}' in revision", c));
    out.revision = std::string(rev);
    v = v.substr(0, dash);
  }
  if (v.empty()) return bad("upstream version is empty");
  if (!IsDigit(v.front())) return bad("upstream version does not start with a digit");
  for (char c : v)
    if (!IsDigit(c) && !IsAlpha(c) && c != '.' && c != '-' && c != '+' && c != '~' && c != ':')
      return bad(fmt::format("invalid character '{}' in upstream version", c));
  out.upstream = std::string(v);
  return out;
}

int CompareVersions(std::string_view a, std::string_view b) {
  Parts pa = Split(a), pb = Split(b);
  if (pa.epoch != pb.epoch) return pa.epoch < pb.epoch ? -1 : 1;
  if (int r = VerRevCmp(pa.upstream, pb.upstream)) return Sign(r);
  return Sign(VerRevCmp(pa.revision, pb.revision));
}

int CompareVersions(const Version& a, const Version& b) {
  if (a.epoch != b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (int r = VerRevCmp(a.upstream, b.upstream)) return Sign(r);
  return Sign(VerRevCmp(a.revision, b.revision));
}

Result<Op> ParseOp(std::string_view s) {
  if (s == "<<") return Op::kLess;
  if (s == "<=" || s == "<") return Op::kLessEq;
  if (s == "=") return Op::kEq;
  if (s == ">=" || s == ">") return Op::kGreaterEq;
  if (s == ">>") return Op::kGreater;
  return Err("invalid relation operator \"{}\" (want <<, <=, =, >= or >>)", s);
}

std::string_view OpString(Op op) {
  switch (op) {
    case Op::kLess:
      return "<<";
    case Op::kLessEq:
      return "<=";
    case Op::kEq:
      return "=";
    case Op::kGreaterEq:
      return ">=";
    case Op::kGreater:
      return ">>";
  }
  return "?";
}

bool Satisfies(std::string_view version, Op op, std::string_view ref) {
  int c = CompareVersions(version, ref);
  switch (op) {
    case Op::kLess:
      return c < 0;
    case Op::kLessEq:
      return c <= 0;
    case Op::kEq:
      return c == 0;
    case Op::kGreaterEq:
      return c >= 0;
    case Op::kGreater:
      return c > 0;
  }
  return false;
}

}  // namespace husk::debian
