#include "debian/index.h"

#include <algorithm>

#include "base/strings.h"

namespace husk::debian {
namespace {

bool IsHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<uint64_t> ParseCount(std::string_view field, std::string_view value) {
  auto n = strings::ParseUint(value);
  if (!n) return Err("{}: \"{}\" is not a number", field, value);
  return static_cast<uint64_t>(*n);
}

// Sorting providers and candidates: deterministic whatever order files came in.
bool HigherFirst(const Package* a, const Package* b) {
  if (int c = CompareVersions(a->version, b->version)) return c > 0;
  return a->architecture != "all" && b->architecture == "all";
}

bool InstallsOn(const Package& p, std::string_view arch) {
  return p.architecture == arch || p.architecture == "all";
}

}  // namespace

std::string_view MultiArchString(MultiArch m) {
  switch (m) {
    case MultiArch::kNo:
      return "no";
    case MultiArch::kSame:
      return "same";
    case MultiArch::kForeign:
      return "foreign";
    case MultiArch::kAllowed:
      return "allowed";
  }
  return "?";
}

namespace {

Result<Package> ParseStanza(const Paragraph& para) {
  Package p;
  std::string_view source;
  // One pass over the fields: a Packages file has ~60,000 stanzas and looking
  // each wanted field up separately would scan every stanza twenty times.
  for (const Field& f : para.fields()) {
    std::string_view n = f.name, v = f.value;
    auto is = [&](std::string_view want) { return FieldNameEquals(n, want); };
    auto relations = [&](RelationList* out) -> Status {
      *out = TRY_CTX(ParseRelations(v), "{}", n);
      return Ok();
    };
    if (is("Package")) {
      p.name = std::string(v);
    } else if (is("Version")) {
      p.version = std::string(v);
    } else if (is("Architecture")) {
      p.architecture = std::string(v);
    } else if (is("Multi-Arch")) {
      if (v == "same") {
        p.multi_arch = MultiArch::kSame;
      } else if (v == "foreign") {
        p.multi_arch = MultiArch::kForeign;
      } else if (v == "allowed") {
        p.multi_arch = MultiArch::kAllowed;
      } else if (v != "no") {
        return Err("Multi-Arch: unknown value \"{}\"", v);
      }
    } else if (is("Essential")) {
      if (v != "yes" && v != "no") return Err("Essential: \"{}\" is neither yes nor no", v);
      p.essential = v == "yes";
    } else if (is("Priority")) {
      p.priority = std::string(v);
    } else if (is("Section")) {
      p.section = std::string(v);
    } else if (is("Source")) {
      source = v;
    } else if (is("Depends")) {
      TRY(relations(&p.depends));
    } else if (is("Pre-Depends")) {
      TRY(relations(&p.pre_depends));
    } else if (is("Recommends")) {
      TRY(relations(&p.recommends));
    } else if (is("Conflicts")) {
      TRY(relations(&p.conflicts));
    } else if (is("Breaks")) {
      TRY(relations(&p.breaks));
    } else if (is("Provides")) {
      p.provides = TRY_CTX(ParseProvides(v), "Provides");
    } else if (is("Filename")) {
      p.filename = std::string(v);
    } else if (is("Size")) {
      p.size = TRY(ParseCount("Size", v));
    } else if (is("Installed-Size")) {
      p.installed_size = TRY(ParseCount("Installed-Size", v));
    } else if (is("SHA256")) {
      if (v.size() != 64 || !IsHex(v)) return Err("SHA256: \"{}\" is not 64 lowercase hex", v);
      p.sha256 = std::string(v);
    } else if (is("Description")) {
      p.description = std::string(FirstLine(v));
    }
  }
  if (p.name.empty()) return Err("stanza without a Package field");
  if (p.version.empty()) return Err("no Version field");
  if (p.architecture.empty()) return Err("no Architecture field");
  if (auto v = ParseVersion(p.version); !v) return std::move(v).error().wrap("Version");
  if (source.empty()) {
    p.source = p.name;
    p.source_version = p.version;
  } else if (auto paren = source.find('('); paren != std::string_view::npos) {
    size_t close = source.find(')', paren);
    if (close == std::string_view::npos) return Err("Source: unterminated '(' in \"{}\"", source);
    p.source = std::string(strings::Trim(source.substr(0, paren)));
    p.source_version = std::string(strings::Trim(source.substr(paren + 1, close - paren - 1)));
  } else {
    p.source = std::string(source);
    p.source_version = p.version;
  }
  return p;
}

}  // namespace

Result<Package> ParsePackage(const Paragraph& para) {
  auto p = ParseStanza(para);
  if (!p.ok() && para.Has("Package"))
    return std::move(p).error().wrap(fmt::format("package {}", para.Get("Package")));
  return p;
}

Status PackageIndex::AddPackagesFile(std::string_view text, std::string_view origin) {
  Deb822Reader reader(text);
  Paragraph para;
  for (;;) {
    bool more = TRY_CTX(reader.Next(&para), "{}", origin);
    if (!more) return Ok();
    auto pkg = ParsePackage(para);
    if (!pkg) return std::move(pkg).error().wrap(fmt::format("{}: line {}", origin, para.line()));
    Add(std::move(*pkg));
  }
}

void PackageIndex::Add(Package p) {
  if (auto it = by_name_.find(p.name); it != by_name_.end()) {
    for (uint32_t slot : it->second) {
      Package& old = *packages_[slot];
      if (old.architecture != p.architecture) continue;
      if (CompareVersions(p.version, old.version) <= 0) return;
      Unlink(slot);
      old = std::move(p);
      Link(slot);
      return;
    }
  }
  auto slot = static_cast<uint32_t>(packages_.size());
  packages_.push_back(std::make_unique<Package>(std::move(p)));
  Link(slot);
}

void PackageIndex::Link(uint32_t slot) {
  const Package& p = *packages_[slot];
  by_name_[p.name].push_back(slot);
  for (const Relation& r : p.provides) {
    auto& v = provides_[r.name];
    // A package may list the same virtual twice (with different versions).
    if (v.empty() || v.back() != slot) v.push_back(slot);
  }
}

void PackageIndex::Unlink(uint32_t slot) {
  const Package& p = *packages_[slot];
  auto drop = [&](NameMap& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) return;
    std::erase(it->second, slot);
    if (it->second.empty()) m.erase(it);
  };
  drop(by_name_, p.name);
  for (const Relation& r : p.provides) drop(provides_, r.name);
}

const Package* PackageIndex::Find(std::string_view name, std::string_view arch) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return nullptr;
  for (uint32_t slot : it->second)
    if (packages_[slot]->architecture == arch) return packages_[slot].get();
  return nullptr;
}

std::vector<const Package*> PackageIndex::Lookup(std::string_view name,
                                                 std::string_view arch) const {
  std::vector<const Package*> out;
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return out;
  for (uint32_t slot : it->second)
    if (InstallsOn(*packages_[slot], arch)) out.push_back(packages_[slot].get());
  std::sort(out.begin(), out.end(), HigherFirst);
  return out;
}

std::vector<Provider> PackageIndex::Providers(std::string_view virtual_name,
                                              std::string_view arch) const {
  std::vector<Provider> out;
  auto it = provides_.find(virtual_name);
  if (it == provides_.end()) return out;
  for (uint32_t slot : it->second) {
    const Package& p = *packages_[slot];
    if (!InstallsOn(p, arch)) continue;
    for (const Relation& r : p.provides)
      if (r.name == virtual_name) out.push_back(Provider{&p, &r});
  }
  std::sort(out.begin(), out.end(), [](const Provider& a, const Provider& b) {
    if (a.package->name != b.package->name) return a.package->name < b.package->name;
    if (a.package != b.package) return HigherFirst(a.package, b.package);
    return CompareVersions(a.provides->version, b.provides->version) > 0;
  });
  return out;
}

std::vector<const Package*> PackageIndex::Essential(std::string_view arch) const {
  std::vector<const Package*> out;
  for (const auto& p : packages_)
    if (p->essential && InstallsOn(*p, arch)) out.push_back(p.get());
  std::sort(out.begin(), out.end(), [](const Package* a, const Package* b) {
    if (a->name != b->name) return a->name < b->name;
    return HigherFirst(a, b);
  });
  return out;
}

std::vector<const Package*> PackageIndex::All() const {
  std::vector<const Package*> out;
  out.reserve(packages_.size());
  for (const auto& p : packages_) out.push_back(p.get());
  return out;
}

}  // namespace husk::debian
