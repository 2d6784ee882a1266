#include "registry/registries_conf.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"

namespace husk::registry {

namespace {

struct Parsed {
  RegistriesConf conf;
  bool has_search = false;  // the document set unqualified-search-registries
};

// Typed access to a document's values; errors point at file:line:column.
class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  Error At(const toml::node& n, std::string_view msg) const {
    const auto& b = n.source().begin;
    return Err("{}:{}:{}: {}", source_, b.line, b.column, msg);
  }

  Result<std::string> String(const toml::table& t, std::string_view key, std::string_view ctx) {
    const toml::node* n = t.get(key);
    if (!n) return std::string();
    if (!n->is_string()) return At(*n, fmt::format("{}{}: want a string", ctx, key));
    return std::string(*n->value<std::string>());
  }

  Result<bool> Bool(const toml::table& t, std::string_view key, std::string_view ctx) {
    const toml::node* n = t.get(key);
    if (!n) return false;
    if (!n->is_boolean()) return At(*n, fmt::format("{}{}: want true or false", ctx, key));
    return *n->value<bool>();
  }

  Result<std::vector<std::string>> Strings(const toml::table& t, std::string_view key,
                                           std::string_view ctx) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) return At(*n, fmt::format("{}{}: want an array of strings", ctx, key));
    for (const auto& e : *a) {
      if (!e.is_string()) return At(e, fmt::format("{}{}: want an array of strings", ctx, key));
      out.push_back(*e.value<std::string>());
    }
    return out;
  }

  // A location or prefix as podman accepts it: no URL scheme, no trailing '/'.
  Result<std::string> Location(const toml::table& t, std::string_view key, std::string_view ctx) {
    std::string v = TRY(String(t, key, ctx));
    while (!v.empty() && v.back() == '/') v.pop_back();
    if (v.find("://") != std::string::npos) {
      return At(*t.get(key),
                fmt::format("{}{} \"{}\": URL schemes are not supported", ctx, key, v));
    }
    return v;
  }

 private:
  const std::string& source_;
};

// The version 1 format ([registries.search] registries = [...], and .insecure,
// .block) still found on older systems.
Status ParseV1(const toml::table& v1, Reader& r, Parsed& p) {
  if (const toml::table* search = v1["search"].as_table()) {
    p.conf.unqualified_search_registries =
        TRY(r.Strings(*search, "registries", "registries.search."));
    p.has_search = true;
  }
  for (const char* kind : {"insecure", "block"}) {
    const toml::table* t = v1[kind].as_table();
    if (!t) continue;
    for (auto& host : TRY(r.Strings(*t, "registries", fmt::format("registries.{}.", kind)))) {
      RegistryRule rule;
      rule.prefix = rule.location = host;
      (std::string_view(kind) == "insecure" ? rule.insecure : rule.blocked) = true;
      p.conf.registries.push_back(std::move(rule));
    }
  }
  return Ok();
}

Result<Parsed> Parse(std::string_view text, const std::string& source) {
  toml::table doc;
  // toml++ reports syntax errors by exception; none may leave this function.
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Err("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
               e.description());
  } catch (const std::exception& e) {
    return Err("{}: {}", source, e.what());
  }
  Reader r(source);
  Parsed p;
  if (const toml::table* v1 = doc["registries"].as_table()) {
    if (doc.contains("registry") || doc.contains("unqualified-search-registries")) {
      return r.At(*v1, "mixing the version 1 [registries] table with version 2 keys");
    }
    TRY(ParseV1(*v1, r, p));
    return p;
  }
  p.has_search = doc.contains("unqualified-search-registries");
  p.conf.unqualified_search_registries = TRY(r.Strings(doc, "unqualified-search-registries", ""));
  const toml::node* regs = doc.get("registry");
  if (!regs) return p;
  const toml::array* arr = regs->as_array();
  if (!arr) return r.At(*regs, "registry: want [[registry]] tables");
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::node& n = *arr->get(i);
    const toml::table* t = n.as_table();
    if (!t) return r.At(n, "registry: want [[registry]] tables");
    std::string ctx = "registry.";
    RegistryRule rule;
    rule.prefix = TRY(r.Location(*t, "prefix", ctx));
    rule.location = TRY(r.Location(*t, "location", ctx));
    rule.insecure = TRY(r.Bool(*t, "insecure", ctx));
    rule.blocked = TRY(r.Bool(*t, "blocked", ctx));
    if (rule.prefix.empty()) rule.prefix = rule.location;
    if (rule.prefix.empty()) return r.At(n, "[[registry]] needs a location or a prefix");
    if (strings::StartsWith(rule.prefix, "*.") && rule.prefix.find('/') != std::string::npos) {
      return r.At(n, fmt::format("registry.prefix \"{}\": a wildcard prefix names a host only",
                                 rule.prefix));
    }
    if (rule.location.empty() && !strings::StartsWith(rule.prefix, "*.")) {
      rule.location = rule.prefix;
    }
    if (const toml::node* mn = t->get("mirror")) {
      const toml::array* ma = mn->as_array();
      if (!ma) return r.At(*mn, "registry.mirror: want [[registry.mirror]] tables");
      for (const auto& m : *ma) {
        const toml::table* mt = m.as_table();
        if (!mt) return r.At(m, "registry.mirror: want [[registry.mirror]] tables");
        Mirror mirror;
        mirror.location = TRY(r.Location(*mt, "location", "registry.mirror."));
        mirror.insecure = TRY(r.Bool(*mt, "insecure", "registry.mirror."));
        if (mirror.location.empty()) return r.At(m, "[[registry.mirror]] needs a location");
        rule.mirrors.push_back(std::move(mirror));
      }
    }
    p.conf.registries.push_back(std::move(rule));
  }
  return p;
}

// How many characters of name the prefix matches, or -1. A plain prefix must end
// at a component boundary ("example.com/foo" does not match "example.com/foobar");
// "*.example.com" matches the host part "a.example.com" (not "example.com").
long MatchLength(std::string_view name, std::string_view prefix) {
  if (strings::StartsWith(prefix, "*.")) {
    std::string_view host = name.substr(0, name.find('/'));
    std::string_view suffix = prefix.substr(1);  // ".example.com"
    if (host.size() > suffix.size() && host.substr(host.size() - suffix.size()) == suffix) {
      return static_cast<long>(host.size());
    }
    return -1;
  }
  if (!strings::StartsWith(name, prefix)) return -1;
  if (name.size() == prefix.size()) return static_cast<long>(prefix.size());
  char next = name[prefix.size()];
  if (next == '/' || next == ':' || next == '@') return static_cast<long>(prefix.size());
  return -1;
}

Endpoint Split(std::string_view rewritten, bool insecure, bool mirror) {
  Endpoint e;
  auto slash = rewritten.find('/');
  e.host = std::string(rewritten.substr(0, slash));
  if (slash != std::string_view::npos) e.repo = std::string(rewritten.substr(slash + 1));
  e.insecure = insecure;
  e.mirror = mirror;
  return e;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

void AddDropIns(const std::string& dir, std::vector<std::string>& out) {
  auto names = fs::ListDir(dir);
  if (!names) return;
  for (const auto& n : *names) {
    if (n.size() > 5 && n.substr(n.size() - 5) == ".conf") out.push_back(dir + "/" + n);
  }
}

}  // namespace

const RegistryRule* RegistriesConf::Find(std::string_view name) const {
  const RegistryRule* best = nullptr;
  size_t best_len = 0;
  for (const auto& r : registries) {
    // As podman does: the longest prefix *string* wins; the first of equals.
    if (MatchLength(name, r.prefix) >= 0 && r.prefix.size() > best_len) {
      best = &r;
      best_len = r.prefix.size();
    }
  }
  return best;
}

Result<std::vector<Endpoint>> RegistriesConf::Endpoints(std::string_view host,
                                                        std::string_view repo) const {
  std::string name = std::string(host) + "/" + std::string(repo);
  const RegistryRule* rule = Find(name);
  if (!rule) return std::vector<Endpoint>{Split(name, false, false)};
  if (rule->blocked) {
    return Err("{}: registry {} is blocked in registries.conf", name, rule->prefix);
  }
  std::string rest = name.substr(static_cast<size_t>(MatchLength(name, rule->prefix)));
  std::vector<Endpoint> out;
  for (const auto& m : rule->mirrors) out.push_back(Split(m.location + rest, m.insecure, true));
  out.push_back(
      Split(rule->location.empty() ? name : rule->location + rest, rule->insecure, false));
  return out;
}

Result<RegistriesConf> ParseRegistriesConf(std::string_view text, const std::string& source) {
  auto p = TRY(Parse(text, source));
  return std::move(p.conf);
}

std::vector<std::string> RegistriesConfPaths() {
  std::vector<std::string> out;
  std::string home = Env("HOME");
  std::string user_dir = home.empty() ? std::string() : home + "/.config/containers";
  std::string env = Env("CONTAINERS_REGISTRIES_CONF");
  if (!env.empty()) {
    out.push_back(env);
  } else if (!user_dir.empty() && fs::Exists(user_dir + "/registries.conf")) {
    out.push_back(user_dir + "/registries.conf");
  } else {
    out.push_back("/etc/containers/registries.conf");
  }
  AddDropIns("/etc/containers/registries.conf.d", out);
  if (!user_dir.empty()) AddDropIns(user_dir + "/registries.conf.d", out);
  return out;
}

Result<RegistriesConf> LoadRegistriesConf() {
  return LoadRegistriesConfFrom(RegistriesConfPaths());
}

Result<RegistriesConf> LoadRegistriesConfFrom(const std::vector<std::string>& paths) {
  RegistriesConf conf;
  for (const auto& path : paths) {
    if (!fs::Exists(path)) continue;
    auto text = TRY(fs::ReadFile(path));
    auto p = TRY(Parse(text, path));
    if (p.has_search) conf.unqualified_search_registries = p.conf.unqualified_search_registries;
    for (auto& rule : p.conf.registries) {
      auto same = std::find_if(conf.registries.begin(), conf.registries.end(),
                               [&](const RegistryRule& r) { return r.prefix == rule.prefix; });
      if (same != conf.registries.end()) {
        *same = std::move(rule);
      } else {
        conf.registries.push_back(std::move(rule));
      }
    }
  }
  return conf;
}

}  // namespace husk::registry
