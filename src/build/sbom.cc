#include "build/sbom.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/time.h"
#include "build/assemble_internal.h"
#include "debian/deb822.h"
#include "digest/digest.h"

namespace husk::build {

namespace {

using Json = nlohmann::ordered_json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 3986 unreserved characters stay; everything else is %XX.
std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

// Debian's short names (DEP-5 and common use) that have an SPDX identifier.
const std::map<std::string, std::string>& SpdxIds() {
  static const std::map<std::string, std::string> kIds = [] {
    std::map<std::string, std::string> m = {
        {"agpl-3", "AGPL-3.0-only"},
        {"agpl-3+", "AGPL-3.0-or-later"},
        {"apache-2", "Apache-2.0"},
        {"apache-2.0", "Apache-2.0"},
        {"artistic", "Artistic-1.0-Perl"},
        {"artistic-1", "Artistic-1.0"},
        {"artistic-2", "Artistic-2.0"},
        {"artistic-2.0", "Artistic-2.0"},
        {"bsd-2-clause", "BSD-2-Clause"},
        {"bsd-3-clause", "BSD-3-Clause"},
        {"bsd-4-clause", "BSD-4-Clause"},
        {"bsl-1.0", "BSL-1.0"},
        {"cc0", "CC0-1.0"},
        {"cc0-1.0", "CC0-1.0"},
        {"cc-by-4.0", "CC-BY-4.0"},
        {"cc-by-sa-4.0", "CC-BY-SA-4.0"},
        {"curl", "curl"},
        {"expat", "MIT"},
        {"mit", "MIT"},
        {"gfdl-1.2", "GFDL-1.2-only"},
        {"gfdl-1.2+", "GFDL-1.2-or-later"},
        {"gfdl-1.3", "GFDL-1.3-only"},
        {"gfdl-1.3+", "GFDL-1.3-or-later"},
        {"isc", "ISC"},
        {"mpl-1.1", "MPL-1.1"},
        {"mpl-2.0", "MPL-2.0"},
        {"openssl", "OpenSSL"},
        {"psf-2", "PSF-2.0"},
        {"python-2.0", "Python-2.0"},
        {"unicode-dfs-2016", "Unicode-DFS-2016"},
        {"x11", "X11"},
        {"zlib", "Zlib"},
        {"0bsd", "0BSD"},
        {"wtfpl", "WTFPL"},
        {"ftl", "FTL"},
        {"libpng", "Libpng"},
        {"ofl-1.1", "OFL-1.1"},
        {"bzip2-1.0.6", "bzip2-1.0.6"},
        {"latex2e", "Latex2e"},
        {"bsd-4-clause-uc", "BSD-4-Clause-UC"},
        {"gfdl-niv-1.3", "GFDL-1.3-no-invariants-only"},
        {"gfdl-niv-1.3+", "GFDL-1.3-no-invariants-or-later"},
        {"gfdl-niv-1.2", "GFDL-1.2-no-invariants-only"},
        {"gfdl-niv-1.2+", "GFDL-1.2-no-invariants-or-later"},
    };
    // GPL, LGPL and friends: "-N" is only, "-N+" or later, for every version.
    for (const char* fam : {"gpl", "lgpl"}) {
      for (const char* v : {"1", "2", "2.0", "2.1", "3", "3.0"}) {
        std::string base = fam;
        std::string ver = v;
        if (base == "gpl" && ver == "2.1") continue;
        if (base == "lgpl" && ver == "1") continue;
        std::string spdx_ver = ver.find('.') == std::string::npos ? ver + ".0" : ver;
        std::string up = base == "gpl" ? "GPL-" : "LGPL-";
        m[base + "-" + ver] = up + spdx_ver + "-only";
        m[base + "-" + ver + "+"] = up + spdx_ver + "-or-later";
      }
    }
    return m;
  }();
  return kIds;
}

// LicenseRef- idstring: letters, digits, '.' and '-'.
std::string LicenseRef(std::string_view name) {
  std::string out = "LicenseRef-";
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '.' || c == '-')
      out.push_back(static_cast<char>(c));
    else if (c == '+')
      out += "-plus";
    else if (out.back() != '-')
      out.push_back('-');
  }
  while (out.back() == '-') out.pop_back();
  return out;
}

// The parts of a licence string: names (several words, "with" exceptions
// included), the operators AND and OR, and parentheses.
std::vector<std::string> LicenseTokens(std::string_view s) {
  std::vector<std::string> out;
  std::string name;
  auto flush = [&] {
    if (!name.empty()) out.push_back(name);
    name.clear();
  };
  std::string word;
  auto word_done = [&] {
    if (word.empty()) return;
    std::string w = Lower(word);
    if (w == "and" || w == "or") {
      flush();
      out.push_back(w == "and" ? "AND" : "OR");
    } else {
      if (!name.empty()) name.push_back(' ');
      name += word;
    }
    word.clear();
  };
  for (char c : s) {
    if (c == '(' || c == ')') {
      word_done();
      flush();
      out.emplace_back(1, c);
    } else if (c == ' ' || c == '\t' || c == ',') {
      word_done();
    } else {
      word.push_back(c);
    }
  }
  word_done();
  flush();
  return out;
}

bool IsOperator(const std::string& t) {
  return t == "AND" || t == "OR" || t == "(" || t == ")";
}

std::string SpdxSupplier(std::string_view maintainer) {
  if (maintainer.empty()) return "NOASSERTION";
  // "Name <mail>" is written "Name (mail)" in SPDX.
  std::string m(maintainer);
  size_t lt = m.find('<');
  size_t gt = m.find('>', lt == std::string::npos ? 0 : lt);
  if (lt != std::string::npos && gt != std::string::npos)
    m = std::string(strings::Trim(m.substr(0, lt))) + " (" + m.substr(lt + 1, gt - lt - 1) + ")";
  return "Person: " + m;
}

// A UUID-shaped string (version 5 bits set) from a digest, for identifiers
// that must look unique but must also be reproducible.
std::string UuidFrom(const Digest& d) {
  std::string h = d.hex().substr(0, 32);
  h[12] = '5';
  h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::vector<const SbomPackage*> Sorted(const SbomInput& in) {
  std::vector<const SbomPackage*> out;
  for (const auto& p : in.packages) out.push_back(&p);
  std::sort(out.begin(), out.end(), [](const SbomPackage* a, const SbomPackage* b) {
    if (a->name != b->name) return a->name < b->name;
    if (a->architecture != b->architecture) return a->architecture < b->architecture;
    return a->version < b->version;
  });
  return out;
}

std::string Created(const SbomInput& in) {
  return time::Rfc3339Nano(timespec{static_cast<time_t>(in.created), 0});
}

std::string SpdxId(const SbomPackage& p) {
  std::string name;
  for (unsigned char c : p.name) name.push_back(std::isalnum(c) || c == '.' ? c : '-');
  std::string key = p.name + "\n" + p.version + "\n" + p.architecture;
  return "SPDXRef-Package-deb-" + name + "-" + Sha256Of(key).hex().substr(0, 16);
}

}  // namespace

std::string PackageUrl(const SbomPackage& p, std::string_view distro) {
  std::string out =
      "pkg:deb/debian/" + PercentEncode(Lower(p.name)) + "@" + PercentEncode(p.version);
  out += "?arch=" + PercentEncode(p.architecture);
  if (!distro.empty()) out += "&distro=" + PercentEncode(distro);
  if (!p.source.empty() && p.source != p.name) {
    std::string up = p.source;
    if (!p.source_version.empty() && p.source_version != p.version) up += "@" + p.source_version;
    out += "&upstream=" + PercentEncode(up);
  }
  return out;
}

std::string LicenseFromCopyright(std::string_view text) {
  std::vector<std::string> exprs;
  // Case-insensitively: "LGPL-2.1+" and "lgpl-2.1+" are one licence.
  auto add = [&](const std::string& e) {
    auto same = [&](const std::string& x) { return Lower(x) == Lower(e); };
    if (!e.empty() && std::none_of(exprs.begin(), exprs.end(), same)) exprs.push_back(e);
  };
  for (const auto& line : strings::Split(text, '\n')) {
    // Fields start at the beginning of a line; continuation lines (the
    // licence texts) start with a blank.
    if (line.size() < 8 ||
        !debian::FieldNameEquals(std::string_view(line).substr(0, 8), "License:"))
      continue;
    auto tokens = LicenseTokens(strings::Trim(std::string_view(line).substr(8)));
    if (std::find(tokens.begin(), tokens.end(), "OR") == tokens.end()) {
      // Only ANDs: each licence on its own, so that repeats fold.
      for (const auto& t : tokens)
        if (!IsOperator(t)) add(t);
      continue;
    }
    std::string e = strings::Join(tokens, " ");
    std::string tidy;  // "( a )" back to "(a)"
    for (size_t i = 0; i < e.size(); i++) {
      if (e[i] == ' ' && ((i > 0 && e[i - 1] == '(') || (i + 1 < e.size() && e[i + 1] == ')')))
        continue;
      tidy.push_back(e[i]);
    }
    add(tidy);
  }
  if (exprs.empty()) {
    // Free-form copyright files (glibc's, gcc's) point to the licence texts
    // Debian ships: "/usr/share/common-licenses/LGPL-2.1".
    constexpr std::string_view kCommon = "/usr/share/common-licenses/";
    for (size_t at = text.find(kCommon); at != std::string_view::npos;
         at = text.find(kCommon, at + 1)) {
      size_t b = at + kCommon.size(), e = b;
      while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) ||
                                 std::string_view(".+-_").find(text[e]) != std::string_view::npos))
        e++;
      std::string name(text.substr(b, e - b));
      while (!name.empty() && name.back() == '.') name.pop_back();
      add(name);
    }
  }
  if (exprs.size() > 1) {
    for (auto& e : exprs)
      if (e.find(" OR ") != std::string::npos) e = "(" + e + ")";
  }
  return strings::Join(exprs, " AND ");
}

std::string SpdxLicenseExpression(std::string_view debian, std::vector<std::string>* refs) {
  std::string out;
  for (const auto& t : LicenseTokens(debian)) {
    std::string piece;
    if (IsOperator(t)) {
      piece = t;
    } else {
      auto it = SpdxIds().find(Lower(t));
      if (it != SpdxIds().end()) {
        piece = it->second;
      } else {
        piece = LicenseRef(t);
        if (refs && std::find(refs->begin(), refs->end(), t) == refs->end()) refs->push_back(t);
      }
    }
    if (!out.empty() && out.back() != '(' && piece != ")") out.push_back(' ');
    out += piece;
  }
  return out;
}

std::string SpdxJson(const SbomInput& in) {
  Json doc;
  doc["spdxVersion"] = "SPDX-2.3";
  doc["dataLicense"] = "CC0-1.0";
  doc["SPDXID"] = "SPDXRef-DOCUMENT";
  doc["name"] = in.image_name;
  doc["documentNamespace"] = "";
  Json creators =
      Json::array({in.tool_version.empty() ? "Tool: husk" : "Tool: husk-" + in.tool_version});
  doc["creationInfo"] = {{"creators", creators}, {"created", Created(in)}};

  const std::string image_id = "SPDXRef-DocumentRoot-Image";
  Json image = {{"name", in.image_name},
                {"SPDXID", image_id},
                {"versionInfo", in.image_digest},
                {"supplier", "NOASSERTION"},
                {"downloadLocation", "NOASSERTION"},
                {"filesAnalyzed", false}};
  if (auto d = Digest::Parse(in.image_digest); d.ok())
    image["checksums"] = Json::array({{{"algorithm", "SHA256"}, {"checksumValue", d->hex()}}});
  image["licenseConcluded"] = "NOASSERTION";
  image["licenseDeclared"] = "NOASSERTION";
  image["copyrightText"] = "NOASSERTION";
  image["primaryPackagePurpose"] = "CONTAINER";

  Json packages = Json::array({image});
  Json relationships = Json::array({{{"spdxElementId", "SPDXRef-DOCUMENT"},
                                     {"relationshipType", "DESCRIBES"},
                                     {"relatedSpdxElement", image_id}}});
  std::vector<std::string> refs;
  for (const SbomPackage* p : Sorted(in)) {
    Json j;
    std::string id = SpdxId(*p);
    j["name"] = p->name;
    j["SPDXID"] = id;
    j["versionInfo"] = p->version;
    j["supplier"] = SpdxSupplier(p->maintainer);
    j["downloadLocation"] = "NOASSERTION";
    j["filesAnalyzed"] = false;
    if (!p->sha256.empty())
      j["checksums"] = Json::array({{{"algorithm", "SHA256"}, {"checksumValue", p->sha256}}});
    std::string src = p->source.empty() ? p->name : p->source;
    std::string src_ver = p->source_version.empty() ? p->version : p->source_version;
    j["sourceInfo"] = fmt::format("built package from: {} {}", src, src_ver);
    j["licenseConcluded"] = "NOASSERTION";
    j["licenseDeclared"] =
        p->license.empty() ? "NOASSERTION" : SpdxLicenseExpression(p->license, &refs);
    j["copyrightText"] = "NOASSERTION";
    if (p->sliced)
      j["comment"] = "sliced: only these files are installed:\n" + strings::Join(p->files, "\n");
    j["externalRefs"] = Json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                                      {"referenceType", "purl"},
                                      {"referenceLocator", PackageUrl(*p, in.distro)}}});
    packages.push_back(std::move(j));
    relationships.push_back({{"spdxElementId", image_id},
                             {"relationshipType", "CONTAINS"},
                             {"relatedSpdxElement", id}});
  }
  std::sort(refs.begin(), refs.end());
  if (!refs.empty()) {
    Json infos = Json::array();
    for (const auto& r : refs)
      infos.push_back({{"licenseId", LicenseRef(r)},
                       {"name", r},
                       {"extractedText", "Debian copyright file licence short name: " + r}});
    doc["hasExtractedLicensingInfos"] = std::move(infos);
  }
  doc["packages"] = std::move(packages);
  doc["relationships"] = std::move(relationships);

  std::string name;
  for (unsigned char c : in.image_name) name.push_back(std::isalnum(c) || c == '.' ? c : '-');
  // spdx.org/spdxdocs is the spec's suggestion for tools without a namespace of their own.
  doc["documentNamespace"] =
      "https://spdx.org/spdxdocs/husk/" + name + "-" + UuidFrom(Sha256Of(doc.dump()));
  return doc.dump(2) + "\n";
}

std::string CycloneDxJson(const SbomInput& in) {
  Json bom;
  bom["bomFormat"] = "CycloneDX";
  bom["specVersion"] = "1.5";
  bom["serialNumber"] = "";
  bom["version"] = 1;
  Json tool = {{"type", "application"}, {"name", "husk"}};
  if (!in.tool_version.empty()) tool["version"] = in.tool_version;
  Json image = {{"bom-ref", "image"}, {"type", "container"}, {"name", in.image_name}};
  if (in.image_digest != "unknown") image["version"] = in.image_digest;
  bom["metadata"] = {{"timestamp", Created(in)},
                     {"tools", {{"components", Json::array({tool})}}},
                     {"component", image}};
  Json components = Json::array();
  Json depends = Json::array();
  for (const SbomPackage* p : Sorted(in)) {
    std::string purl = PackageUrl(*p, in.distro);
    Json c = {{"bom-ref", purl}, {"type", "library"}};
    if (!p->maintainer.empty()) c["publisher"] = p->maintainer;
    c["name"] = p->name;
    c["version"] = p->version;
    if (!p->sha256.empty())
      c["hashes"] = Json::array({{{"alg", "SHA-256"}, {"content", p->sha256}}});
    if (!p->license.empty()) {
      Json licenses = Json::array();
      auto tokens = LicenseTokens(p->license);
      bool plain = std::none_of(tokens.begin(), tokens.end(),
                                [](const std::string& t) { return t == "OR"; });
      if (plain) {
        // Only ANDs: one entry per licence, by SPDX id where there is one.
        std::set<std::string> seen;
        for (const auto& t : tokens) {
          if (IsOperator(t) || !seen.insert(t).second) continue;
          auto it = SpdxIds().find(Lower(t));
          licenses.push_back(it != SpdxIds().end() ? Json{{"license", {{"id", it->second}}}}
                                                   : Json{{"license", {{"name", t}}}});
        }
      } else {
        licenses.push_back({{"expression", SpdxLicenseExpression(p->license, nullptr)}});
      }
      c["licenses"] = std::move(licenses);
    }
    c["purl"] = purl;
    Json props = Json::array({{{"name", "husk:deb:architecture"}, {"value", p->architecture}}});
    if (!p->source.empty() && p->source != p->name)
      props.push_back({{"name", "husk:deb:source"}, {"value", p->source}});
    if (!p->source_version.empty() && p->source_version != p->version)
      props.push_back({{"name", "husk:deb:source-version"}, {"value", p->source_version}});
    if (p->sliced) props.push_back({{"name", "husk:sliced"}, {"value", "true"}});
    c["properties"] = std::move(props);
    if (p->sliced) {
      Json occ = Json::array();
      for (const auto& f : p->files) occ.push_back({{"location", f}});
      c["evidence"] = {{"occurrences", std::move(occ)}};
    }
    components.push_back(std::move(c));
    depends.push_back(purl);
  }
  bom["components"] = std::move(components);
  bom["dependencies"] = Json::array({{{"ref", "image"}, {"dependsOn", std::move(depends)}}});
  bom["serialNumber"] = "urn:uuid:" + UuidFrom(Sha256Of(bom.dump()));
  return bom.dump(2) + "\n";
}

std::string DistroFromOsRelease(std::string_view text) {
  std::string id, version, codename;
  for (const auto& line : strings::Split(text, '\n')) {
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key(strings::Trim(line.substr(0, eq)));
    std::string value(strings::Trim(line.substr(eq + 1)));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front())
      value = value.substr(1, value.size() - 2);
    if (key == "ID") id = value;
    if (key == "VERSION_ID") version = value;
    if (key == "VERSION_CODENAME") codename = value;
  }
  if (id.empty()) id = "debian";
  if (!version.empty()) return id + "-" + version;
  if (!codename.empty()) return id + "-" + codename;
  return id;
}

Result<std::vector<SbomPackage>> SbomPackages(const std::string& root_dir,
                                              const std::vector<InstalledPackage>& pkgs) {
  auto root = TRY(internal::RootFs::Open(root_dir).wrap("sbom"));
  std::vector<SbomPackage> out;
  for (const auto& ip : pkgs) {
    SbomPackage p;
    const DebContents& c = ip.contents;
    p.name = ip.pkg ? ip.pkg->name : std::string(c.name());
    p.version = ip.pkg ? ip.pkg->version : std::string(c.version());
    p.architecture = ip.pkg ? ip.pkg->architecture : std::string(c.architecture());
    if (ip.pkg) {
      p.source = ip.pkg->source;
      p.source_version = ip.pkg->source_version;
    } else if (auto src = strings::Trim(c.Get("Source")); !src.empty()) {
      // "Source: glibc (2.36-9)": the version only when it differs.
      size_t paren = src.find('(');
      p.source = strings::Trim(src.substr(0, paren));
      if (paren != std::string_view::npos)
        p.source_version = strings::Trim(src.substr(paren + 1, src.find(')') - paren - 1));
    }
    p.maintainer = std::string(strings::Trim(debian::FirstLine(c.Get("Maintainer"))));
    if (ip.pkg && !ip.pkg->sha256.empty()) {
      p.sha256 = ip.pkg->sha256;
    } else {
      auto d = TRY_CTX(Sha256File(ip.deb_path), "sbom: {}", p.name);
      p.sha256 = d.hex();
    }
    std::string copyright = "/usr/share/doc/" + p.name + "/copyright";
    if (auto st = TRY(root.Stat(copyright)); st && S_ISREG(st->st_mode))
      p.license = LicenseFromCopyright(TRY_CTX(root.ReadFile(copyright), "sbom: {}", p.name));
    p.sliced = ip.sliced;
    if (ip.sliced) {
      for (const auto& f : ip.files)
        if (TRY(root.Lstat(f))) p.files.push_back(f);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace husk::build
