#include "debian/relations.h"

#include <algorithm>

namespace husk::debian {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A cursor over one alternative ("name:q (op v) [archs] <profiles>").
struct Cursor {
  std::string_view s;
  size_t i = 0;
  void SkipSpace() {
    while (i < s.size() && IsSpace(s[i])) i++;
  }
  bool AtEnd() const { return i >= s.size(); }
  char Peek() const { return i < s.size() ? s[i] : '\0'; }
};

Result<Relation> ParseOne(std::string_view text) {
  auto bad = [&](std::string_view why) { return Err("invalid relation \"{}\": {}", text, why); };
  Cursor c{text};
  Relation r;
  size_t start = c.i;
  while (!c.AtEnd() && (IsAlnum(c.Peek()) || c.Peek() == '+' || c.Peek() == '-' || c.Peek() == '.'))
    c.i++;
  r.name = std::string(text.substr(start, c.i - start));
  if (r.name.empty()) return bad("missing package name");
  if (!IsAlnum(r.name[0])) return bad("package name must start with a letter or digit");
  if (c.Peek() == ':') {
    c.i++;
    start = c.i;
    while (!c.AtEnd() && (IsAlnum(c.Peek()) || c.Peek() == '-')) c.i++;
    r.arch_qualifier = std::string(text.substr(start, c.i - start));
    if (r.arch_qualifier.empty()) return bad("empty architecture qualifier after ':'");
  }
  c.SkipSpace();
  if (c.Peek() == '(') {
    c.i++;
    c.SkipSpace();
    start = c.i;
    while (c.Peek() == '<' || c.Peek() == '>' || c.Peek() == '=') c.i++;
    std::string_view op = text.substr(start, c.i - start);
    if (op.empty()) return bad("missing operator after '('");
    auto parsed = ParseOp(op);
    if (!parsed) return bad(parsed.error().msg);
    r.op = *parsed;
    size_t close = text.find(')', c.i);
    if (close == std::string_view::npos) return bad("unterminated '('");
    std::string_view v = Trim(text.substr(c.i, close - c.i));
    if (v.empty()) return bad("missing version after the operator");
    auto checked = ParseVersion(v);
    if (!checked) return bad(checked.error().msg);
    r.version = std::string(v);
    c.i = close + 1;
    c.SkipSpace();
  }
  if (c.Peek() == '[') {
    size_t close = text.find(']', c.i);
    if (close == std::string_view::npos) return bad("unterminated '['");
    std::string_view list = text.substr(c.i + 1, close - c.i - 1);
    size_t j = 0;
    while (j < list.size()) {
      while (j < list.size() && IsSpace(list[j])) j++;
      size_t k = j;
      while (k < list.size() && !IsSpace(list[k])) k++;
      if (k > j) r.arch_restrictions.emplace_back(list.substr(j, k - j));
      j = k;
    }
    if (r.arch_restrictions.empty()) return bad("empty architecture list");
    c.i = close + 1;
    c.SkipSpace();
  }
  // Build profiles: one or more <...> groups, irrelevant to binary installs.
  while (c.Peek() == '<') {
    size_t close = text.find('>', c.i);
    if (close == std::string_view::npos) return bad("unterminated '<'");
    c.i = close + 1;
    c.SkipSpace();
  }
  if (!c.AtEnd()) return bad(fmt::format("unexpected \"{}\"", text.substr(c.i, 20)));
  return r;
}

}  // namespace

std::string Relation::String() const {
  std::string out = name;
  if (!arch_qualifier.empty()) out += ":" + arch_qualifier;
  if (op) out += fmt::format(" ({} {})", OpString(*op), version);
  if (!arch_restrictions.empty()) {
    out += " [";
    for (size_t i = 0; i < arch_restrictions.size(); i++) {
      if (i) out += " ";
      out += arch_restrictions[i];
    }
    out += "]";
  }
  return out;
}

Result<RelationList> ParseRelations(std::string_view field) {
  RelationList out;
  if (Trim(field).empty()) return out;
  // Sized up front: growing these vectors was most of the time spent loading
  // a Packages file.
  out.reserve(static_cast<size_t>(std::count(field.begin(), field.end(), ',')) + 1);
  size_t i = 0;
  while (i <= field.size()) {
    size_t comma = field.find(',', i);
    if (comma == std::string_view::npos) comma = field.size();
    std::string_view group = Trim(field.substr(i, comma - i));
    // dpkg tolerates a trailing comma ("a, b,") but not an empty group inside.
    if (group.empty()) {
      if (comma == field.size()) break;
      return Err("empty relation in \"{}\"", Trim(field));
    }
    Alternatives alts;
    alts.reserve(static_cast<size_t>(std::count(group.begin(), group.end(), '|')) + 1);
    size_t j = 0;
    while (j <= group.size()) {
      size_t bar = group.find('|', j);
      if (bar == std::string_view::npos) bar = group.size();
      std::string_view one = Trim(group.substr(j, bar - j));
      if (one.empty()) return Err("empty alternative in \"{}\"", group);
      alts.push_back(TRY(ParseOne(one)));
      j = bar + 1;
    }
    out.push_back(std::move(alts));
    i = comma + 1;
  }
  return out;
}

Result<std::vector<Relation>> ParseProvides(std::string_view field) {
  RelationList list = TRY(ParseRelations(field));
  std::vector<Relation> out;
  out.reserve(list.size());
  for (Alternatives& alts : list) {
    if (alts.size() != 1)
      return Err("invalid Provides entry \"{}\": alternatives are not allowed",
                 FormatAlternatives(alts));
    if (alts[0].op && *alts[0].op != Op::kEq)
      return Err("invalid Provides entry \"{}\": only \"=\" may version a Provides",
                 alts[0].String());
    out.push_back(std::move(alts[0]));
  }
  return out;
}

std::string FormatAlternatives(const Alternatives& alts) {
  std::string out;
  for (size_t i = 0; i < alts.size(); i++) {
    if (i) out += " | ";
    out += alts[i].String();
  }
  return out;
}

std::string FormatRelations(const RelationList& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); i++) {
    if (i) out += ", ";
    out += FormatAlternatives(list[i]);
  }
  return out;
}

bool ArchRestrictionsAllow(const Relation& r, std::string_view arch) {
  if (r.arch_restrictions.empty()) return true;
  auto matches = [&](std::string_view pattern) {
    if (pattern == arch || pattern == "any" || pattern == "linux-any") return true;
    // Debian's Linux architectures are "<cpu>" with the implicit OS "linux".
    if (pattern.substr(0, 4) == "any-" || pattern.substr(0, 6) == "linux-")
      return pattern.substr(pattern.find('-') + 1) == arch;
    return false;
  };
  bool has_positive = false, positive_hit = false;
  for (const std::string& a : r.arch_restrictions) {
    std::string_view p = a;
    if (!p.empty() && p[0] == '!') {
      if (matches(p.substr(1))) return false;
    } else {
      has_positive = true;
      if (matches(p)) positive_hit = true;
    }
  }
  return !has_positive || positive_hit;
}

}  // namespace husk::debian
