// husk.yaml parsing. Each file is parsed on its own into a Partial (what it
// sets, with source positions), so that errors in an included file name that
// file; Partials are merged in include order and the result is completed and
// cross-checked once (default accounts, uid clashes, run-as).
//
// yaml-cpp throws; every call into it sits under a catch that turns the
// exception's Mark into "FILE:LINE:COLUMN: message".
#include "build/spec.h"

#include <stdlib.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <set>

#include <yaml-cpp/yaml.h>

#include "base/fs.h"
#include "base/strings.h"
#include "debian/version.h"

namespace husk::build {
namespace {

constexpr uint32_t kNonrootId = 65532;
constexpr uint32_t kNobodyId = 65534;
constexpr int kDefaultMaxLayers = 8;
constexpr int kMaxLayersLimit = 100;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Debian's release and ports architectures; anything else is a typo.
constexpr std::string_view kArchs[] = {"amd64",   "arm64",    "armel",   "armhf",   "i386",
                                       "loong64", "mips64el", "ppc64el", "riscv64", "s390x"};

struct Pos {
  std::string file;
  int line = 0;  // 1-based; 0 when yaml-cpp gave no position
  int col = 0;
  std::string String() const { return line ? fmt::format("{}:{}:{}", file, line, col) : file; }
};

Pos PosOf(const std::string& file, const YAML::Mark& m) {
  if (m.is_null()) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

Error ErrAt(const Pos& p, std::string_view msg) {
  return Err("{}: {}", p.String(), msg);
}

struct LocatedPackage {
  PackageRequest req;
  Pos pos;
};
struct LocatedUser {
  User user;
  Pos name_pos, uid_pos;
  std::string field;
};
struct LocatedGroup {
  Group group;
  Pos name_pos, gid_pos;
  std::vector<Pos> member_pos;
  std::string field;
};

// What one file sets. Unset optionals leave the included files' values alone.
struct Partial {
  std::vector<std::pair<std::string, Pos>> includes;
  std::vector<Repository> repositories;
  std::vector<std::string> archs;
  std::vector<LocatedPackage> packages;
  std::optional<bool> essential;
  std::vector<LocatedUser> users;
  std::vector<LocatedGroup> groups;
  std::optional<std::pair<std::string, Pos>> run_as;
  std::map<std::string, std::string> environment, labels, annotations;
  std::optional<std::vector<std::string>> entrypoint, cmd;
  std::optional<std::string> workdir;
  std::vector<PathEntry> paths;
  std::optional<Layering> layering;
  std::optional<bool> drop_docs, drop_man, drop_locales;
};

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return fmt::format("\"{}\"", n.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Status CheckArch(std::string_view a) {
  for (std::string_view k : kArchs)
    if (a == k) return Ok();
  static const std::pair<std::string_view, std::string_view> kHints[] = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"ppc64le", "ppc64el"}, {"386", "i386"},
      {"arm", "armhf"},    {"armv7", "armhf"},   {"riscv", "riscv64"}};
  for (auto [from, to] : kHints)
    if (a == from) return Err("unknown architecture \"{}\" (Debian calls it \"{}\")", a, to);
  return Err("unknown architecture \"{}\"; known: {}", a,
             strings::Join(std::vector<std::string>(std::begin(kArchs), std::end(kArchs)), ", "));
}

// "package[:arch][=version]", the form apt-get install takes.
Result<PackageRequest> ParsePackageText(std::string_view text) {
  PackageRequest r;
  r.name = std::string(text);
  size_t end = text.find_first_of(":=");
  std::string_view pkg = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? "" : text.substr(end);
  // Debian Policy 5.6.1: lower case letters, digits, + - . ; two or more
  // characters, starting with an alphanumeric.
  if (pkg.size() < 2 || !IsLowerAlnum(pkg[0]) || !std::all_of(pkg.begin(), pkg.end(), [](char c) {
        return IsLowerAlnum(c) || c == '+' || c == '-' || c == '.';
      }))
    return Err(
        "invalid package \"{}\": a Debian package name has two or more of a-z 0-9 + - . and "
        "starts with a letter or digit",
        text);
  r.package = std::string(pkg);
  if (!rest.empty() && rest[0] == ':') {
    size_t eq = rest.find('=');
    std::string_view arch = rest.substr(1, eq == std::string_view::npos ? rest.npos : eq - 1);
    if (auto s = CheckArch(arch); !s) return Err("invalid package \"{}\": {}", text, s.error().msg);
    r.arch = std::string(arch);
    rest = eq == std::string_view::npos ? "" : rest.substr(eq);
  }
  if (!rest.empty()) {  // starts with '='
    std::string_view v = rest.substr(1);
    if (v.empty()) return Err("invalid package \"{}\": empty version after '='", text);
    if (auto pv = debian::ParseVersion(v); !pv)
      return Err("invalid package \"{}\": {}", text, pv.error().msg);
    r.version = std::string(v);
  }
  return r;
}

// Reads one file's document into a Partial. Positions and field paths
// ("accounts.users[1].uid") go into every error.
class FileParser {
 public:
  explicit FileParser(std::string file) : file_(std::move(file)) {}

  Result<Partial> Parse(const YAML::Node& root);

 private:
  using KeyFn = std::function<Status(const std::string& key, const YAML::Node& value,
                                     const std::string& field)>;

  // An empty value ("uid:" then a newline) is marked where the next token
  // starts, often the next line: errors about it point at its key instead.
  Pos At(const YAML::Node& n) const {
    if (n.IsNull() && null_key_) return *null_key_;
    return PosOf(file_, n.Mark());
  }
  Status WithKey(const YAML::Node& k, const YAML::Node& v, const std::function<Status()>& fn) {
    if (!v.IsNull()) return fn();
    null_key_ = At(k);
    Status s = fn();
    null_key_.reset();
    return s;
  }
  Error Fail(const YAML::Node& n, std::string_view field, std::string_view msg) const {
    return ErrAt(At(n), fmt::format("{}: {}", field, msg));
  }
  Error Expected(const YAML::Node& n, std::string_view field, std::string_view what) const {
    return Fail(n, field, fmt::format("expected {}, got {}", what, Describe(n)));
  }

  Status ForEachKey(const YAML::Node& map, const std::string& field,
                    std::initializer_list<std::string_view> valid, const KeyFn& fn);
  Result<std::string> String(const YAML::Node& n, const std::string& field);
  Result<std::string> NonEmpty(const YAML::Node& n, const std::string& field);
  Result<std::string> AbsPath(const YAML::Node& n, const std::string& field);
  Result<uint32_t> Id(const YAML::Node& n, const std::string& field);
  Result<uint32_t> Mode(const YAML::Node& n, const std::string& field);
  Result<bool> Bool(const YAML::Node& n, const std::string& field);
  Result<bool> Drop(const YAML::Node& n, const std::string& field);
  Result<std::vector<std::string>> List(const YAML::Node& n, const std::string& field,
                                        bool scalar_ok);
  Result<std::map<std::string, std::string>> Map(const YAML::Node& n, const std::string& field);

  Status Contents(const YAML::Node& n);
  Result<Repository> Repo(const YAML::Node& n, const std::string& field);
  Result<PackageRequest> Package(const YAML::Node& n, const std::string& field);
  Result<Slice> SliceOf(const YAML::Node& n, const std::string& field);
  Status AccountsOf(const YAML::Node& n);
  Result<LocatedUser> UserOf(const YAML::Node& n, const std::string& field);
  Result<LocatedGroup> GroupOf(const YAML::Node& n, const std::string& field);
  Result<PathEntry> PathOf(const YAML::Node& n, const std::string& field);
  Result<Layering> LayeringOf(const YAML::Node& n);

  std::string file_;
  std::optional<Pos> null_key_;
  Partial p_;
};

Status FileParser::ForEachKey(const YAML::Node& map, const std::string& field,
                              std::initializer_list<std::string_view> valid, const KeyFn& fn) {
  if (map.IsNull()) return Ok();
  if (!map.IsMap()) return Expected(map, field.empty() ? "husk.yaml" : field, "a map");
  std::map<std::string, Pos> seen;
  // By value: yaml-cpp's iterator-> returns a proxy, so a reference to
  // it->first would dangle.
  for (const auto kv : map) {
    const YAML::Node& k = kv.first;
    if (!k.IsScalar()) return Fail(k, field.empty() ? "husk.yaml" : field, "keys must be strings");
    const std::string& key = k.Scalar();
    std::string sub = field.empty() ? key : fmt::format("{}.{}", field, key);
    if (auto [prev, fresh] = seen.emplace(key, At(k)); !fresh)
      return ErrAt(At(k),
                   fmt::format("duplicate key \"{}\" (first at {})", sub, prev->second.String()));
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      std::string where = field.empty() ? "" : fmt::format(" in {}", field);
      std::string hint;
      size_t best = 3;
      for (std::string_view v : valid)
        if (size_t d = EditDistance(key, v); d < best) {
          best = d;
          hint = fmt::format(" (did you mean \"{}\"?)", v);
        }
      std::vector<std::string> names(valid.begin(), valid.end());
      return ErrAt(At(k), fmt::format("unknown {}key \"{}\"{}{}; valid keys: {}",
                                      field.empty() ? "top-level " : "", key, where, hint,
                                      strings::Join(names, ", ")));
    }
    TRY(WithKey(k, kv.second, [&] { return fn(key, kv.second, sub); }));
  }
  return Ok();
}

Result<std::string> FileParser::String(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) return Expected(n, field, "a string");
  return n.Scalar();
}

Result<std::string> FileParser::NonEmpty(const YAML::Node& n, const std::string& field) {
  std::string s = TRY(String(n, field));
  if (s.empty()) return Fail(n, field, "must not be empty");
  return s;
}

Result<std::string> FileParser::AbsPath(const YAML::Node& n, const std::string& field) {
  std::string s = TRY(String(n, field));
  if (s.empty() || s[0] != '/')
    return Fail(n, field, fmt::format("\"{}\" is not an absolute path", s));
  for (const std::string& part : strings::Split(s, '/'))
    if (part == "..") return Fail(n, field, fmt::format("\"{}\" must not contain \"..\"", s));
  return fs::Clean(s);
}

Result<uint32_t> FileParser::Id(const YAML::Node& n, const std::string& field) {
  if (!n.IsScalar()) return Expected(n, field, "a numeric id");
  auto v = IsDigits(n.Scalar()) ? strings::ParseUint(n.Scalar()) : std::nullopt;
  if (!v) return Expected(n, field, "a numeric id");
  // 4294967295 is (uid_t)-1, which setuid() and chown() read as "unchanged".
  if (*v >= 0xffffffffULL) return Fail(n, field, fmt::format("id {} is out of range", *v));
  return static_cast<uint32_t>(*v);
}

// 0o755 (YAML 1.2), 0755 (YAML 1.1, as go-yaml and apko read it) and the same
// quoted. yaml-cpp hands us the scalar text, so both forms are read here. A
// bare 755 is refused: read as YAML 1.2 it would be decimal, mode 01363.
Result<uint32_t> FileParser::Mode(const YAML::Node& n, const std::string& field) {
  static constexpr std::string_view kWant = "an octal mode such as 0o755 or 0755";
  if (!n.IsScalar()) return Expected(n, field, kWant);
  std::string_view s = n.Scalar();
  std::string_view digits;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
    digits = s.substr(2);
  else if (!s.empty() && s[0] == '0')
    digits = s;
  else if (IsDigits(s))
    return Fail(n, field,
                fmt::format("mode \"{}\" lacks its leading 0: write 0o{} or 0{}", s, s, s));
  if (digits.empty() || digits.size() > 6 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; }))
    return Expected(n, field, kWant);
  uint32_t mode = 0;
  for (char c : digits) mode = mode * 8 + (c - '0');
  if (mode > 07777) return Fail(n, field, fmt::format("mode {} is above 07777", s));
  return mode;
}

Result<bool> FileParser::Bool(const YAML::Node& n, const std::string& field) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  return Expected(n, field, "true or false");
}

Result<bool> FileParser::Drop(const YAML::Node& n, const std::string& field) {
  if (n.IsScalar() && n.Scalar() == "drop") return true;
  if (n.IsScalar() && n.Scalar() == "keep") return false;
  return Expected(n, field, "drop or keep");
}

Result<std::vector<std::string>> FileParser::List(const YAML::Node& n, const std::string& field,
                                                  bool scalar_ok) {
  if (n.IsNull()) return std::vector<std::string>{};
  if (scalar_ok && n.IsScalar()) return std::vector<std::string>{n.Scalar()};
  if (!n.IsSequence()) return Expected(n, field, scalar_ok ? "a string or a list" : "a list");
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i)
    out.push_back(TRY(String(n[i], fmt::format("{}[{}]", field, i))));
  return out;
}

Result<std::map<std::string, std::string>> FileParser::Map(const YAML::Node& n,
                                                           const std::string& field) {
  if (n.IsNull()) return std::map<std::string, std::string>{};
  if (!n.IsMap()) return Expected(n, field, "a map");
  std::map<std::string, std::string> out;
  std::map<std::string, Pos> seen;
  for (const auto kv : n) {
    const YAML::Node& k = kv.first;
    if (!k.IsScalar() || k.Scalar().empty())
      return Fail(k, field, "keys must be non-empty strings");
    std::string sub = fmt::format("{}.{}", field, k.Scalar());
    if (auto [prev, fresh] = seen.emplace(k.Scalar(), At(k)); !fresh)
      return ErrAt(At(k),
                   fmt::format("duplicate key \"{}\" (first at {})", sub, prev->second.String()));
    TRY(WithKey(k, kv.second, [&]() -> Status {
      out[k.Scalar()] = TRY(String(kv.second, sub));
      return Ok();
    }));
  }
  return out;
}

Result<Partial> FileParser::Parse(const YAML::Node& root) {
  TRY(ForEachKey(
      root, "",
      {"include", "contents", "archs", "accounts", "environment", "entrypoint", "cmd", "work-dir",
       "paths", "annotations", "labels", "layering", "options"},
      [&](const std::string& key, const YAML::Node& v, const std::string& field) -> Status {
        if (key == "include") {
          if (v.IsSequence()) {
            for (size_t i = 0; i < v.size(); ++i)
              p_.includes.emplace_back(TRY(NonEmpty(v[i], fmt::format("include[{}]", i))),
                                       At(v[i]));
          } else {
            p_.includes.emplace_back(TRY(NonEmpty(v, field)), At(v));
          }
        } else if (key == "contents") {
          TRY(Contents(v));
        } else if (key == "archs") {
          p_.archs = TRY(List(v, field, false));
          for (size_t i = 0; i < p_.archs.size(); ++i)
            if (auto s = CheckArch(p_.archs[i]); !s)
              return Fail(v[i], fmt::format("{}[{}]", field, i), s.error().msg);
        } else if (key == "accounts") {
          TRY(AccountsOf(v));
        } else if (key == "environment") {
          p_.environment = TRY(Map(v, field));
          for (const auto& [k, _] : p_.environment)
            if (k.find('=') != std::string::npos)
              return Fail(v, field, fmt::format("variable name \"{}\" contains '='", k));
        } else if (key == "entrypoint") {
          p_.entrypoint = TRY(List(v, field, true));
        } else if (key == "cmd") {
          p_.cmd = TRY(List(v, field, true));
        } else if (key == "work-dir") {
          p_.workdir = TRY(AbsPath(v, field));
        } else if (key == "paths") {
          if (!v.IsNull() && !v.IsSequence()) return Expected(v, field, "a list");
          for (size_t i = 0; i < v.size(); ++i)
            p_.paths.push_back(TRY(PathOf(v[i], fmt::format("{}[{}]", field, i))));
        } else if (key == "annotations") {
          p_.annotations = TRY(Map(v, field));
        } else if (key == "labels") {
          p_.labels = TRY(Map(v, field));
        } else if (key == "layering") {
          p_.layering = TRY(LayeringOf(v));
        } else if (key == "options") {
          TRY(ForEachKey(
              v, field, {"docs", "man", "locales"},
              [&](const std::string& k, const YAML::Node& o, const std::string& f) -> Status {
                (k == "docs"  ? p_.drop_docs
                 : k == "man" ? p_.drop_man
                              : p_.drop_locales) = TRY(Drop(o, f));
                return Ok();
              }));
        }
        return Ok();
      }));
  return std::move(p_);
}

Status FileParser::Contents(const YAML::Node& n) {
  return ForEachKey(
      n, "contents", {"repositories", "packages", "essential"},
      [&](const std::string& key, const YAML::Node& v, const std::string& field) -> Status {
        if (key == "essential") {
          p_.essential = TRY(Bool(v, field));
          return Ok();
        }
        if (!v.IsNull() && !v.IsSequence()) return Expected(v, field, "a list");
        for (size_t i = 0; i < v.size(); ++i) {
          std::string f = fmt::format("{}[{}]", field, i);
          if (key == "repositories") {
            p_.repositories.push_back(TRY(Repo(v[i], f)));
            continue;
          }
          PackageRequest req = TRY(Package(v[i], f));
          for (const LocatedPackage& prev : p_.packages)
            if (prev.req.package == req.package && prev.req.arch == req.arch)
              return Fail(v[i], f,
                          fmt::format("package \"{}\" is already listed (at {})", req.package,
                                      prev.pos.String()));
          p_.packages.push_back({std::move(req), At(v[i])});
        }
        return Ok();
      });
}

Result<Repository> FileParser::Repo(const YAML::Node& n, const std::string& field) {
  Repository r;
  bool have_components = false;
  TRY(ForEachKey(
      n, field, {"url", "suites", "components", "keyring"},
      [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
        if (key == "url") {
          r.url = TRY(NonEmpty(v, f));
          if (!strings::StartsWith(r.url, "http://") && !strings::StartsWith(r.url, "https://") &&
              !strings::StartsWith(r.url, "file:/"))
            return Fail(v, f,
                        fmt::format("\"{}\" is not an http://, https:// or file:/ URL", r.url));
        } else if (key == "suites" || key == "components") {
          auto list = TRY(List(v, f, false));
          for (size_t i = 0; i < list.size(); ++i)
            if (list[i].empty() || list[i].find_first_of(" \t/") != std::string::npos)
              return Fail(v[i], fmt::format("{}[{}]", f, i),
                          fmt::format("\"{}\" is not a suite or component name", list[i]));
          (key == "suites" ? r.suites : r.components) = std::move(list);
          have_components |= key == "components";
        } else {
          std::string k = TRY(NonEmpty(v, f));
          // Relative to the file, so a keyring can sit beside its husk.yaml.
          size_t slash = file_.rfind('/');
          r.keyring = k[0] == '/' || slash == std::string::npos
                          ? k
                          : fs::Clean(fs::Join(file_.substr(0, slash), k));
        }
        return Ok();
      }));
  if (!n.IsMap()) return Expected(n, field, "a map with url and suites");
  if (r.url.empty()) return Fail(n, field, "url is required");
  if (r.suites.empty()) return Fail(n, field, "suites is required");
  if (!have_components) r.components = {"main"};
  if (r.components.empty()) return Fail(n, field, "components must not be empty");
  return r;
}

Result<PackageRequest> FileParser::Package(const YAML::Node& n, const std::string& field) {
  if (n.IsScalar()) {
    auto r = ParsePackageText(n.Scalar());
    if (!r) return Fail(n, field, r.error().msg);
    return r;
  }
  if (!n.IsMap()) return Expected(n, field, "a package name or a map with name");
  PackageRequest req;
  std::optional<Slice> slice;
  bool follow = true, named = false;
  TRY(ForEachKey(n, field, {"name", "slice", "dependencies"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   if (key == "name") {
                     std::string text = TRY(String(v, f));
                     auto r = ParsePackageText(text);
                     if (!r) return Fail(v, f, r.error().msg);
                     req = std::move(*r);
                     named = true;
                   } else if (key == "slice") {
                     slice = TRY(SliceOf(v, f));
                   } else {
                     follow = TRY(Bool(v, f));
                   }
                   return Ok();
                 }));
  if (!named) return Fail(n, field, "name is required");
  req.slice = std::move(slice);
  req.follow_depends = follow;
  return req;
}

Result<Slice> FileParser::SliceOf(const YAML::Node& n, const std::string& field) {
  if (!n.IsMap()) return Expected(n, field, "a map with keep and/or drop");
  Slice s;
  TRY(ForEachKey(n, field, {"keep", "drop"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   auto globs = TRY(List(v, f, false));
                   for (size_t i = 0; i < globs.size(); ++i)
                     if (!strings::StartsWith(globs[i], "/") &&
                         !strings::StartsWith(globs[i], "**"))
                       return Fail(v[i], fmt::format("{}[{}]", f, i),
                                   fmt::format("glob \"{}\" must start with / or **", globs[i]));
                   (key == "keep" ? s.keep : s.drop) = std::move(globs);
                   return Ok();
                 }));
  if (s.keep.empty() && s.drop.empty()) return Fail(n, field, "a slice needs keep or drop globs");
  return s;
}

Status FileParser::AccountsOf(const YAML::Node& n) {
  return ForEachKey(
      n, "accounts", {"users", "groups", "run-as"},
      [&](const std::string& key, const YAML::Node& v, const std::string& field) -> Status {
        if (key == "run-as") {
          p_.run_as.emplace(TRY(NonEmpty(v, field)), At(v));
          return Ok();
        }
        if (!v.IsNull() && !v.IsSequence()) return Expected(v, field, "a list");
        for (size_t i = 0; i < v.size(); ++i) {
          std::string f = fmt::format("{}[{}]", field, i);
          if (key == "users") {
            LocatedUser u = TRY(UserOf(v[i], f));
            for (const LocatedUser& prev : p_.users)
              if (prev.user.name == u.user.name)
                return ErrAt(u.name_pos, fmt::format("{}.name: duplicate user \"{}\" (first at {})",
                                                     f, u.user.name, prev.name_pos.String()));
            p_.users.push_back(std::move(u));
          } else {
            LocatedGroup g = TRY(GroupOf(v[i], f));
            for (const LocatedGroup& prev : p_.groups)
              if (prev.group.name == g.group.name)
                return ErrAt(g.name_pos,
                             fmt::format("{}.name: duplicate group \"{}\" (first at {})", f,
                                         g.group.name, prev.name_pos.String()));
            p_.groups.push_back(std::move(g));
          }
        }
        return Ok();
      });
}

// useradd's rule (NAME_REGEX of adduser.conf, less the trailing '$' of machine accounts).
Status CheckAccountName(std::string_view s) {
  bool ok = !s.empty() && s.size() <= 32 && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_') &&
            std::all_of(s.begin(), s.end(),
                        [](char c) { return IsLowerAlnum(c) || c == '_' || c == '-'; });
  if (!ok)
    return Err("\"{}\" is not a valid name: up to 32 of a-z 0-9 _ -, starting with a letter or _",
               s);
  return Ok();
}

Result<LocatedUser> FileParser::UserOf(const YAML::Node& n, const std::string& field) {
  if (!n.IsMap()) return Expected(n, field, "a map with name and uid");
  LocatedUser u{.field = field};
  bool have_uid = false, have_gid = false;
  TRY(ForEachKey(n, field, {"name", "uid", "gid", "home", "shell"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   if (key == "name") {
                     u.user.name = TRY(String(v, f));
                     if (auto s = CheckAccountName(u.user.name); !s)
                       return Fail(v, f, s.error().msg);
                     u.name_pos = At(v);
                   } else if (key == "uid") {
                     u.user.uid = TRY(Id(v, f));
                     u.uid_pos = At(v);
                     have_uid = true;
                   } else if (key == "gid") {
                     u.user.gid = TRY(Id(v, f));
                     have_gid = true;
                   } else if (key == "home") {
                     u.user.home = TRY(AbsPath(v, f));
                   } else {
                     u.user.shell = TRY(AbsPath(v, f));
                   }
                   return Ok();
                 }));
  if (u.user.name.empty()) return Fail(n, field, "name is required");
  if (!have_uid) return Fail(n, field, fmt::format("uid of user \"{}\" is required", u.user.name));
  if (!have_gid) u.user.gid = u.user.uid;
  if (u.user.home.empty()) u.user.home = u.user.uid == 0 ? "/root" : "/home/" + u.user.name;
  return u;
}

Result<LocatedGroup> FileParser::GroupOf(const YAML::Node& n, const std::string& field) {
  if (!n.IsMap()) return Expected(n, field, "a map with name and gid");
  LocatedGroup g{.field = field};
  bool have_gid = false;
  TRY(ForEachKey(n, field, {"name", "gid", "members"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   if (key == "name") {
                     g.group.name = TRY(String(v, f));
                     if (auto s = CheckAccountName(g.group.name); !s)
                       return Fail(v, f, s.error().msg);
                     g.name_pos = At(v);
                   } else if (key == "gid") {
                     g.group.gid = TRY(Id(v, f));
                     g.gid_pos = At(v);
                     have_gid = true;
                   } else {
                     g.group.members = TRY(List(v, f, false));
                     for (size_t i = 0; i < g.group.members.size(); ++i)
                       g.member_pos.push_back(At(v[i]));
                   }
                   return Ok();
                 }));
  if (g.group.name.empty()) return Fail(n, field, "name is required");
  if (!have_gid)
    return Fail(n, field, fmt::format("gid of group \"{}\" is required", g.group.name));
  return g;
}

Result<PathEntry> FileParser::PathOf(const YAML::Node& n, const std::string& field) {
  if (!n.IsMap()) return Expected(n, field, "a map with path and type");
  PathEntry e;
  std::optional<YAML::Node> type_node, mode_node, content_node, source_node;
  TRY(ForEachKey(n, field, {"path", "type", "uid", "gid", "permissions", "content", "source"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   if (key == "path") {
                     e.path = TRY(AbsPath(v, f));
                   } else if (key == "type") {
                     std::string t = TRY(String(v, f));
                     if (t == "directory")
                       e.type = PathEntry::Type::kDirectory;
                     else if (t == "file")
                       e.type = PathEntry::Type::kFile;
                     else if (t == "symlink")
                       e.type = PathEntry::Type::kSymlink;
                     else if (t == "permissions")
                       e.type = PathEntry::Type::kPermissions;
                     else
                       return Expected(v, f, "directory, file, symlink or permissions");
                     type_node = v;
                   } else if (key == "uid") {
                     e.uid = TRY(Id(v, f));
                   } else if (key == "gid") {
                     e.gid = TRY(Id(v, f));
                   } else if (key == "permissions") {
                     e.mode = TRY(Mode(v, f));
                     mode_node = v;
                   } else if (key == "content") {
                     e.content = TRY(String(v, f));
                     content_node = v;
                   } else {
                     e.target = TRY(NonEmpty(v, f));
                     source_node = v;
                   }
                   return Ok();
                 }));
  if (e.path.empty()) return Fail(n, field, "path is required");
  if (!type_node)
    return Fail(n, field, "type is required (directory, file, symlink or permissions)");
  using T = PathEntry::Type;
  const std::string& t = type_node->Scalar();
  if (e.type != T::kPermissions && e.path == "/")
    return Fail(n, field + ".path", fmt::format("/ cannot be a {}", t));
  if (content_node && e.type != T::kFile)
    return Fail(*content_node, field + ".content",
                fmt::format("only a file has content, not a {}", t));
  if (source_node && e.type != T::kSymlink)
    return Fail(*source_node, field + ".source",
                fmt::format("only a symlink has a source, not a {}", t));
  if (e.type == T::kSymlink && !source_node)
    return Fail(n, field, "a symlink needs source (its target)");
  if (e.type == T::kSymlink && mode_node)
    return Fail(*mode_node, field + ".permissions", "a symlink has no permissions of its own");
  if (e.type == T::kPermissions && !mode_node)
    return Fail(n, field, "type permissions needs permissions");
  if (!mode_node) e.mode = e.type == T::kFile ? 0644 : e.type == T::kSymlink ? 0777 : 0755;
  return e;
}

Result<Layering> FileParser::LayeringOf(const YAML::Node& n) {
  if (!n.IsMap()) return Expected(n, "layering", "a map with strategy");
  Layering l;
  std::optional<YAML::Node> max_node;
  TRY(ForEachKey(n, "layering", {"strategy", "max-layers"},
                 [&](const std::string& key, const YAML::Node& v, const std::string& f) -> Status {
                   if (key == "strategy") {
                     std::string s = TRY(String(v, f));
                     if (s == "single")
                       l.strategy = Layering::Strategy::kSingle;
                     else if (s == "by-package")
                       l.strategy = Layering::Strategy::kByPackage;
                     else
                       return Expected(v, f, "single or by-package");
                   } else {
                     uint32_t m = TRY(Id(v, f));
                     if (m < 1 || m > kMaxLayersLimit)
                       return Fail(v, f,
                                   fmt::format("{} is not between 1 and {}", m, kMaxLayersLimit));
                     l.max_layers = static_cast<int>(m);
                     max_node = v;
                   }
                   return Ok();
                 }));
  if (l.strategy == Layering::Strategy::kSingle) {
    if (max_node)
      return Fail(*max_node, "layering.max-layers", "only strategy by-package takes max-layers");
    l.max_layers = 1;
  } else if (!max_node) {
    l.max_layers = kDefaultMaxLayers;
  }
  return l;
}

// Included files first, then the including file: its scalars replace, its maps
// override key by key, its list entries are appended — except that a package,
// user or group it names again replaces the included entry in place, so a file
// can pin or slice a package its base lists, or change a base user.
void Merge(Partial& acc, Partial&& over) {
  acc.repositories.insert(acc.repositories.end(), over.repositories.begin(),
                          over.repositories.end());
  for (std::string& a : over.archs)
    if (std::find(acc.archs.begin(), acc.archs.end(), a) == acc.archs.end()) acc.archs.push_back(a);
  for (LocatedPackage& p : over.packages) {
    auto same =
        std::find_if(acc.packages.begin(), acc.packages.end(), [&](const LocatedPackage& q) {
          return q.req.package == p.req.package && q.req.arch == p.req.arch;
        });
    if (same != acc.packages.end())
      *same = std::move(p);
    else
      acc.packages.push_back(std::move(p));
  }
  for (LocatedUser& u : over.users) {
    auto same = std::find_if(acc.users.begin(), acc.users.end(),
                             [&](const LocatedUser& q) { return q.user.name == u.user.name; });
    if (same != acc.users.end())
      *same = std::move(u);
    else
      acc.users.push_back(std::move(u));
  }
  for (LocatedGroup& g : over.groups) {
    auto same = std::find_if(acc.groups.begin(), acc.groups.end(),
                             [&](const LocatedGroup& q) { return q.group.name == g.group.name; });
    if (same != acc.groups.end())
      *same = std::move(g);
    else
      acc.groups.push_back(std::move(g));
  }
  for (auto& [k, v] : over.environment) acc.environment[k] = std::move(v);
  for (auto& [k, v] : over.labels) acc.labels[k] = std::move(v);
  for (auto& [k, v] : over.annotations) acc.annotations[k] = std::move(v);
  acc.paths.insert(acc.paths.end(), over.paths.begin(), over.paths.end());
  auto take = [](auto& dst, auto& src) {
    if (src) dst = std::move(src);
  };
  take(acc.essential, over.essential);
  take(acc.run_as, over.run_as);
  take(acc.entrypoint, over.entrypoint);
  take(acc.cmd, over.cmd);
  take(acc.workdir, over.workdir);
  take(acc.layering, over.layering);
  take(acc.drop_docs, over.drop_docs);
  take(acc.drop_man, over.drop_man);
  take(acc.drop_locales, over.drop_locales);
}

// "user[:group]", each a name or an id, as docker's USER; the user must be an
// account of the image, so that a typo is not an anonymous uid.
Status RunAsOf(const std::string& run_as, const Pos& pos, Accounts& a) {
  size_t colon = run_as.find(':');
  std::string who = run_as.substr(0, colon);
  auto uid = IsDigits(who) ? strings::ParseUint(who) : std::nullopt;
  auto user = std::find_if(a.users.begin(), a.users.end(),
                           [&](const User& u) { return uid ? u.uid == *uid : u.name == who; });
  if (user == a.users.end())
    return ErrAt(pos,
                 fmt::format("accounts.run-as: no user {} \"{}\" (define it in accounts.users)",
                             uid ? "with uid" : "named", who));
  a.run_as = run_as;
  a.run_as_uid = user->uid;
  a.run_as_gid = user->gid;
  if (colon == std::string::npos) return Ok();
  std::string grp = run_as.substr(colon + 1);
  auto gid = IsDigits(grp) ? strings::ParseUint(grp) : std::nullopt;
  auto group = std::find_if(a.groups.begin(), a.groups.end(),
                            [&](const Group& g) { return gid ? g.gid == *gid : g.name == grp; });
  if (group == a.groups.end())
    return ErrAt(pos,
                 fmt::format("accounts.run-as: no group {} \"{}\" (define it in accounts.groups)",
                             gid ? "with gid" : "named", grp));
  a.run_as_gid = group->gid;
  return Ok();
}

// Defaults that need the whole merged picture, and the checks across entries.
Result<BuildSpec> Finalize(Partial&& p, const std::string& source,
                           std::vector<std::string> includes) {
  BuildSpec s;
  s.source = source;
  s.includes = std::move(includes);
  for (Repository& r : p.repositories) s.repositories.push_back(std::move(r));
  s.architectures = std::move(p.archs);
  for (LocatedPackage& lp : p.packages) s.packages.push_back(std::move(lp.req));
  s.include_essential = p.essential.value_or(false);

  for (size_t i = 0; i < p.users.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (p.users[j].user.uid == p.users[i].user.uid)
        return ErrAt(p.users[i].uid_pos,
                     fmt::format("{}.uid: uid {} of \"{}\" is already used by \"{}\" (at {})",
                                 p.users[i].field, p.users[i].user.uid, p.users[i].user.name,
                                 p.users[j].user.name, p.users[j].uid_pos.String()));
  for (size_t i = 0; i < p.groups.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (p.groups[j].group.gid == p.groups[i].group.gid)
        return ErrAt(p.groups[i].gid_pos,
                     fmt::format("{}.gid: gid {} of \"{}\" is already used by \"{}\" (at {})",
                                 p.groups[i].field, p.groups[i].group.gid, p.groups[i].group.name,
                                 p.groups[j].group.name, p.groups[j].gid_pos.String()));
  // distroless's /etc/passwd and /etc/group (the same as assemble.h's
  // ResolveAccounts), less what the file claims by name or id. A user named
  // like a default group also claims it: its own group replaces it below.
  for (const User& d : {User{"root", 0, 0, "/root", "/sbin/nologin"},
                        User{"nonroot", kNonrootId, kNonrootId, "/home/nonroot", "/sbin/nologin"},
                        User{"nobody", kNobodyId, kNobodyId, "/nonexistent", "/sbin/nologin"}}) {
    bool taken = std::any_of(p.users.begin(), p.users.end(), [&](const LocatedUser& u) {
      return u.user.name == d.name || u.user.uid == d.uid;
    });
    if (!taken) s.accounts.users.push_back(d);
  }
  for (const Group& d : {Group{"root", 0, {}}, Group{"tty", 5, {}}, Group{"staff", 50, {}},
                         Group{"nonroot", kNonrootId, {}}, Group{"nobody", kNobodyId, {}}}) {
    bool taken = std::any_of(p.groups.begin(), p.groups.end(),
                             [&](const LocatedGroup& g) {
                               return g.group.name == d.name || g.group.gid == d.gid;
                             }) ||
                 std::any_of(p.users.begin(), p.users.end(),
                             [&](const LocatedUser& u) { return u.user.name == d.name; });
    if (!taken) s.accounts.groups.push_back(d);
  }
  for (LocatedUser& u : p.users) s.accounts.users.push_back(std::move(u.user));
  for (LocatedGroup& g : p.groups) {
    for (size_t i = 0; i < g.group.members.size(); ++i) {
      const std::string& m = g.group.members[i];
      bool known = std::any_of(s.accounts.users.begin(), s.accounts.users.end(),
                               [&](const User& u) { return u.name == m; });
      if (!known)
        return ErrAt(g.member_pos[i],
                     fmt::format("{}.members[{}]: \"{}\" is not a user", g.field, i, m));
    }
    s.accounts.groups.push_back(g.group);
  }
  // Every primary gid gets a group named after its user, as useradd does, or
  // `id` and `ls -l` show bare numbers.
  for (const User& u : s.accounts.users) {
    auto& groups = s.accounts.groups;
    if (std::any_of(groups.begin(), groups.end(), [&](const Group& g) { return g.gid == u.gid; }))
      continue;
    for (const LocatedGroup& g : p.groups)
      if (g.group.name == u.name)
        return ErrAt(g.gid_pos, fmt::format("{}.gid: group \"{}\" has gid {}, but user \"{}\" has "
                                            "gid {}, which no group has",
                                            g.field, g.group.name, g.group.gid, u.name, u.gid));
    groups.push_back({u.name, u.gid, {}});
  }
  if (p.run_as) TRY(RunAsOf(p.run_as->first, p.run_as->second, s.accounts));

  s.environment = std::move(p.environment);
  s.environment.try_emplace("PATH", kDefaultPath);
  s.entrypoint = p.entrypoint.value_or(std::vector<std::string>{});
  s.cmd = p.cmd.value_or(std::vector<std::string>{});
  s.workdir = p.workdir.value_or("");
  s.paths = std::move(p.paths);
  s.labels = std::move(p.labels);
  s.annotations = std::move(p.annotations);
  if (p.layering) s.layering = *p.layering;
  s.drop_docs = p.drop_docs.value_or(true);
  s.drop_man = p.drop_man.value_or(true);
  s.drop_locales = p.drop_locales.value_or(true);
  return s;
}

// Follows includes depth first. A file reached twice through different
// includes (a diamond) is merged once, where it is first reached; a file that
// includes itself, directly or not, is an error.
class Loader {
 public:
  Result<Partial> Load(const std::string& text, const std::string& name) {
    Partial self = TRY(ParseOne(text, name));
    std::string id = Identity(name);
    stack_.push_back({id, name});
    done_.insert(id);
    Partial acc;
    for (auto& [inc, pos] : self.includes) {
      std::string path = inc[0] == '/' || name.rfind('/') == std::string::npos
                             ? fs::Clean(inc)
                             : fs::Clean(fs::Join(name.substr(0, name.rfind('/')), inc));
      std::string inc_id = Identity(path);
      auto on_stack = std::find_if(stack_.begin(), stack_.end(),
                                   [&](const auto& f) { return f.first == inc_id; });
      if (on_stack != stack_.end()) {
        std::vector<std::string> chain;
        for (auto it = on_stack; it != stack_.end(); ++it) chain.push_back(it->second);
        chain.push_back(path);
        return ErrAt(pos, fmt::format("include cycle: {}", strings::Join(chain, " -> ")));
      }
      if (done_.count(inc_id)) continue;
      auto content = fs::ReadFile(path);
      if (!content)
        return ErrAt(pos, fmt::format("include {}: {}", inc, content.error().message()));
      Merge(acc, TRY(Load(*content, path)));
      included_.push_back(path);
    }
    stack_.pop_back();
    Merge(acc, std::move(self));
    return acc;
  }
  std::vector<std::string> TakeIncluded() { return std::move(included_); }

 private:
  static Result<Partial> ParseOne(const std::string& text, const std::string& name) {
    try {
      std::vector<YAML::Node> docs = YAML::LoadAll(text);
      if (docs.size() > 1)
        return ErrAt(PosOf(name, docs[1].Mark()),
                     "a husk.yaml holds one YAML document; found a second");
      return FileParser(name).Parse(docs.empty() ? YAML::Node() : docs[0]);
    } catch (const YAML::Exception& e) {
      return ErrAt(PosOf(name, e.mark), e.msg);
    }
  }
  // The same file reached by two spellings of its path is one file.
  static std::string Identity(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (!real) return fs::Absolute(path);
    std::string out(real);
    ::free(real);
    return out;
  }

  std::vector<std::pair<std::string, std::string>> stack_;  // identity, name as shown
  std::set<std::string> done_;
  std::vector<std::string> included_;
};

}  // namespace

Result<BuildSpec> ParseBuildSpec(const std::string& yaml_text, const std::string& source_name) {
  Loader loader;
  Partial p = TRY(loader.Load(yaml_text, source_name));
  return Finalize(std::move(p), source_name, loader.TakeIncluded());
}

Result<BuildSpec> LoadBuildSpec(const std::string& path) {
  std::string text = TRY(fs::ReadFile(path));
  return ParseBuildSpec(text, path);
}

}  // namespace husk::build
