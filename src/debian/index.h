// Binary package indexes: the stanzas of one or more Packages files (several
// suites and components), merged so that each name+architecture keeps its
// highest version, and looked up by name or by a virtual name they Provide.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "debian/deb822.h"
#include "debian/relations.h"

namespace husk::debian {

enum class MultiArch : uint8_t { kNo, kSame, kForeign, kAllowed };
std::string_view MultiArchString(MultiArch m);

struct Package {
  std::string name;
  std::string version;
  std::string architecture;  // "amd64", "all", ...
  MultiArch multi_arch = MultiArch::kNo;
  bool essential = false;
  std::string priority;
  std::string section;
  // From "Source: name (version)"; both default to the binary's own, as dpkg
  // reads an absent Source field or one without a version.
  std::string source;
  std::string source_version;
  RelationList depends;
  RelationList pre_depends;
  RelationList recommends;
  RelationList conflicts;
  RelationList breaks;
  std::vector<Relation> provides;
  std::string filename;  // pool path relative to the archive root
  uint64_t size = 0;
  std::string sha256;           // lowercase hex
  std::string description;      // the synopsis (first line)
  uint64_t installed_size = 0;  // KiB, as dpkg counts
  // Which index the stanza came from, for the loader's own bookkeeping (husk
  // build: 1 + the suite's position); 0 when unknown. PackageIndex ignores it.
  uint32_t origin = 0;

  // "name version arch", for messages.
  std::string Id() const { return name + " " + version + " " + architecture; }
};

// One Packages stanza; errors name the package and the field.
Result<Package> ParsePackage(const Paragraph& p);

// A package that satisfies a virtual name through its Provides entry.
struct Provider {
  const Package* package;
  const Relation* provides;  // the entry; its version is empty when unversioned
};

class PackageIndex {
 public:
  PackageIndex() = default;
  PackageIndex(PackageIndex&&) = default;
  PackageIndex& operator=(PackageIndex&&) = default;

  // Adds every stanza of a Packages file. `origin` names the file in errors
  // ("bookworm/main/binary-amd64/Packages: line 120: ...").
  Status AddPackagesFile(std::string_view text, std::string_view origin);
  // Adds one package: for a name+architecture already present the higher
  // version stays (the first one added on a tie).
  void Add(Package p);

  size_t size() const { return packages_.size(); }
  // The package of exactly this name and architecture, or null.
  const Package* Find(std::string_view name, std::string_view arch) const;
  // Packages called `name` that install on `arch`: built for it or for "all",
  // highest version first, then `arch` before "all".
  std::vector<const Package*> Lookup(std::string_view name, std::string_view arch) const;
  // Packages on `arch` (or "all") providing `virtual_name`, ordered by name,
  // then highest version.
  std::vector<Provider> Providers(std::string_view virtual_name, std::string_view arch) const;
  // Every Essential: yes package on `arch` or "all", ordered by name.
  std::vector<const Package*> Essential(std::string_view arch) const;
  // Every package, in the order first added (for listing and tests).
  std::vector<const Package*> All() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameMap = std::unordered_map<std::string, std::vector<uint32_t>, Hash, std::equal_to<>>;

  void Link(uint32_t slot);
  void Unlink(uint32_t slot);

  // Slots are stable: a higher version replaces the package in place, so a
  // pointer handed out stays valid (and then shows the new version).
  std::vector<std::unique_ptr<Package>> packages_;
  NameMap by_name_;   // name -> slots (one per architecture)
  NameMap provides_;  // virtual name -> slots of providers
};

}  // namespace husk::debian
