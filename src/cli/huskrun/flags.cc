// Go-style flag parsing. runc parses with urfave/cli v1, which hands each flag set to Go's
// flag package; callers (containerd's go-runc, conmon, podman, runc's bats tests) rely on its
// exact syntax, so this follows flag.FlagSet.parseOne rule by rule, including its messages.
#include <cmath>
#include <cstdlib>

#include "base/strings.h"
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

const Flag* Lookup(std::span<const Flag> flags, std::string_view name) {
  for (const Flag& f : flags)
    if (f.name == name || (!f.short_name.empty() && f.short_name == name)) return &f;
  return nullptr;
}

// urfave/cli gives every command a "help, h" flag; treat it as defined everywhere.
constexpr Flag kHelpFlag{"help", "h", FlagType::kBool, "show help"};

// Parses one flag at argv[i] (known to start with '-' and be longer than "-"); advances i
// past the flag and its value.
Status ParseOne(std::span<const Flag> flags, std::span<const std::string> argv, size_t& i,
                ParsedFlags& out) {
  const std::string& s = argv[i++];
  size_t minuses = s[1] == '-' ? 2 : 1;
  std::string_view name = std::string_view(s).substr(minuses);
  if (name.empty() || name[0] == '-' || name[0] == '=') return Err("bad flag syntax: {}", s);
  std::string_view value;
  bool has_value = false;
  if (size_t eq = name.find('=', 1); eq != std::string_view::npos) {
    value = name.substr(eq + 1);
    name = name.substr(0, eq);
    has_value = true;
  }
  const Flag* flag = Lookup(flags, name);
  if (!flag && (name == "help" || name == "h")) flag = &kHelpFlag;
  if (!flag) return Err("flag provided but not defined: -{}", name);
  std::string key(flag->name);

  if (flag->type == FlagType::kBool) {
    // A boolean never takes the next argument: "--detach true" is --detach plus "true".
    bool v = true;
    if (has_value) {
      auto b = ParseGoBool(value);
      if (!b) return Err("invalid boolean value \"{}\" for -{}: parse error", value, name);
      v = *b;
    }
    out.values.emplace_back(std::move(key), v ? "true" : "false");
    return Ok();
  }
  if (!has_value) {
    // Go takes the next argument as the value whatever it looks like ("--memory-swap -1").
    if (i >= argv.size()) return Err("flag needs an argument: -{}", name);
    value = argv[i++];
  }
  switch (flag->type) {
    case FlagType::kInt:
    case FlagType::kIntList: {
      auto n = ParseGoInt(value);
      if (!n) return Err("invalid value \"{}\" for flag -{}: parse error", value, name);
      out.values.emplace_back(std::move(key), std::to_string(*n));
      return Ok();
    }
    case FlagType::kDuration:
      if (auto d = ParseGoDuration(value); !d)
        return Err("invalid value \"{}\" for flag -{}: {}", value, name, d.error().msg);
      break;
    default:
      break;
  }
  out.values.emplace_back(std::move(key), std::string(value));
  return Ok();
}

}  // namespace

bool ParsedFlags::Has(std::string_view name) const {
  for (const auto& [k, v] : values)
    if (k == name) return true;
  return false;
}

std::string ParsedFlags::Get(std::string_view name, std::string_view fallback) const {
  for (auto it = values.rbegin(); it != values.rend(); ++it)
    if (it->first == name) return it->second;
  return std::string(fallback);
}

bool ParsedFlags::Bool(std::string_view name) const {
  return Get(name, "false") == "true";
}

std::vector<std::string> ParsedFlags::All(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : values)
    if (k == name) out.push_back(v);
  return out;
}

int64_t ParsedFlags::Int(std::string_view name, int64_t fallback) const {
  if (!Has(name)) return fallback;
  return strings::ParseInt(Get(name)).value_or(fallback);
}

Result<ParsedFlags> ParseFlags(std::span<const Flag> flags, std::span<const std::string> argv,
                               bool interspersed) {
  ParsedFlags out;
  size_t i = 0;
  while (i < argv.size()) {
    const std::string& s = argv[i];
    if (s == "--") {
      out.args.insert(out.args.end(), argv.begin() + i + 1, argv.end());
      break;
    }
    // "-" alone and anything not starting with '-' is an argument.
    if (s.size() < 2 || s[0] != '-') {
      if (!interspersed) {
        out.args.insert(out.args.end(), argv.begin() + i, argv.end());
        break;
      }
      out.args.push_back(s);
      ++i;
      continue;
    }
    TRY(ParseOne(flags, argv, i, out));
  }
  return out;
}

Result<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return Err("invalid boolean \"{}\"", s);
}

Result<int64_t> ParseGoInt(std::string_view s) {
  std::string_view orig = s;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  unsigned base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    char c = static_cast<char>(s[1] | 0x20);
    if (c == 'x')
      base = 16, s.remove_prefix(2);
    else if (c == 'b')
      base = 2, s.remove_prefix(2);
    else if (c == 'o')
      base = 8, s.remove_prefix(2);
    else
      base = 8, s.remove_prefix(1);
  }
  if (s.empty()) return Err("invalid integer \"{}\"", orig);
  unsigned __int128 v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'z')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'Z')
      d = c - 'A' + 10;
    else
      return Err("invalid integer \"{}\"", orig);
    if (d >= base) return Err("invalid integer \"{}\"", orig);
    v = v * base + d;
    if (v > (static_cast<unsigned __int128>(1) << 63))
      return Err("integer out of range \"{}\"", orig);
  }
  if (!neg && v == (static_cast<unsigned __int128>(1) << 63))
    return Err("integer out of range \"{}\"", orig);
  return neg ? static_cast<int64_t>(-static_cast<__int128>(v)) : static_cast<int64_t>(v);
}

Result<int64_t> ParseGoDuration(std::string_view s) {
  const std::string_view orig = s;
  auto invalid = [&] { return Err("time: invalid duration \"{}\"", orig); };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid();
  constexpr uint64_t kMax = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    uint64_t v = 0;
    size_t n = 0;
    for (; n < s.size() && s[n] >= '0' && s[n] <= '9'; ++n) {
      if (v > (kMax - 9) / 10) return invalid();  // overflow
      v = v * 10 + static_cast<uint64_t>(s[n] - '0');
    }
    bool pre = n > 0;
    s.remove_prefix(n);
    // The fraction is kept as digits/scale, like Go's leadingFraction.
    uint64_t frac = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t m = 0;
      bool overflow = false;
      for (; m < s.size() && s[m] >= '0' && s[m] <= '9'; ++m) {
        if (overflow || frac > (kMax - 9) / 10) {
          overflow = true;  // further digits cannot matter
          continue;
        }
        frac = frac * 10 + static_cast<uint64_t>(s[m] - '0');
        scale *= 10;
      }
      post = m > 0;
      s.remove_prefix(m);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9')) ++u;
    if (u == 0) return Err("time: missing unit in duration \"{}\"", orig);
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit;
    if (unit_name == "ns")
      unit = 1;
    else if (unit_name == "us" || unit_name == "\u00b5s" || unit_name == "\u03bcs")
      unit = 1000;
    else if (unit_name == "ms")
      unit = 1000000;
    else if (unit_name == "s")
      unit = 1000000000;
    else if (unit_name == "m")
      unit = 60 * uint64_t{1000000000};
    else if (unit_name == "h")
      unit = 3600 * uint64_t{1000000000};
    else
      return Err("time: unknown unit \"{}\" in duration \"{}\"", unit_name, orig);
    if (v > kMax / unit) return invalid();
    v *= unit;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(unit) / scale));
      if (v > kMax) return invalid();
    }
    total += v;
    if (total > kMax) return invalid();
  }
  if (neg && total > 0) return -static_cast<int64_t>(total - 1) - 1;
  if (total > kMax - 1) return invalid();
  return static_cast<int64_t>(total);
}

Result<int64_t> RamInBytes(std::string_view s) {
  // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
  auto invalid = [&] { return Err("invalid size: '{}'", s); };
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (!digits()) return invalid();
  while (i + 1 < s.size() && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
    ++i;
    digits();
  }
  std::string number(s.substr(0, i));
  if (i < s.size() && s[i] == ' ') ++i;
  double mul = 1;
  if (i < s.size()) {
    switch (s[i] | 0x20) {
      case 'k':
        mul = 1024.0;
        break;
      case 'm':
        mul = 1024.0 * 1024;
        break;
      case 'g':
        mul = 1024.0 * 1024 * 1024;
        break;
      case 't':
        mul = 1024.0 * 1024 * 1024 * 1024;
        break;
      case 'p':
        mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
        break;
      default:
        mul = 0;
    }
    if (mul != 0)
      ++i;
    else
      mul = 1;
  }
  if (i < s.size() && (s[i] | 0x20) == 'i') ++i;
  if (i < s.size() && (s[i] | 0x20) == 'b') ++i;
  if (i != s.size()) return invalid();
  // "1.2.3" matches the pattern but is not a number (Go's ParseFloat rejects it too).
  char* end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return invalid();
  double bytes = v * mul;
  if (!(bytes < 9223372036854775808.0)) return Err("size out of range: '{}'", s);
  return static_cast<int64_t>(bytes);
}

}  // namespace husk::cli
