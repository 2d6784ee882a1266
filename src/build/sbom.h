// SBOMs of a built image: SPDX 2.3 and CycloneDX 1.5 JSON listing its Debian
// packages, in the shapes Syft and Trivy write and read (the purl is what
// scanners match vulnerabilities on).
//
// Output is deterministic: packages sorted by name and architecture, keys in a
// fixed order, the time from SOURCE_DATE_EPOCH, and the SPDX document
// namespace and CycloneDX serial number derived from a SHA-256 of the rest of
// the document instead of a random UUID. The same packages give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/deb.h"

namespace husk::build {

struct SbomPackage {
  std::string name;
  std::string version;
  std::string architecture;
  std::string source;          // the source package; "" when it is the binary's name
  std::string source_version;  // "" when it is the binary's version
  std::string maintainer;      // "Name <email>"; "" when unknown
  // Debian licence short names, as LicenseFromCopyright gives them; "" when
  // unknown (NOASSERTION).
  std::string license;
  std::string sha256;  // of the .deb, lowercase hex
  bool sliced = false;
  std::vector<std::string> files;  // the files a sliced package kept
};

struct SbomInput {
  std::string image_name;                // "localhost/app:latest"
  std::string image_digest = "unknown";  // the SBOM lives inside the image it describes
  int64_t created = 0;                   // SOURCE_DATE_EPOCH, seconds
  std::string distro = "debian-12";      // the purls' distro qualifier
  std::string tool_version;              // husk's version; "" leaves it out
  std::vector<SbomPackage> packages;
};

std::string SpdxJson(const SbomInput& in);
std::string CycloneDxJson(const SbomInput& in);

// pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=DISTRO[&upstream=SRC[@SRCVER]],
// qualifiers in the sorted order the purl spec asks for, the version
// percent-encoded (':' -> %3A, '+' -> %2B).
std::string PackageUrl(const SbomPackage& p, std::string_view distro);

// The licences of a DEP-5 (machine-readable) copyright file: the first line of
// every License field, de-duplicated in order of appearance, "and"/"or" within
// one made "AND"/"OR" (parenthesised when there are several), joined with
// " AND ". "" when there are none (free-form copyright files).
std::string LicenseFromCopyright(std::string_view text);

// A licence string of LicenseFromCopyright as an SPDX license expression:
// Debian names mapped to SPDX identifiers (GPL-2+ -> GPL-2.0-or-later, Expat
// -> MIT, ...), others to LicenseRef-<name>, which are added to `refs`.
std::string SpdxLicenseExpression(std::string_view debian, std::vector<std::string>* refs);

// "debian-12" from an os-release file (ID and VERSION_ID; the codename when
// there is no version, as on sid).
std::string DistroFromOsRelease(std::string_view text);

// The SBOM entries of the packages installed in root: versions from their
// index entries (or control files), licences from the copyright files in the
// tree, the .deb's SHA-256 (the index's, else computed), and for sliced
// packages the files still in the tree.
Result<std::vector<SbomPackage>> SbomPackages(const std::string& root,
                                              const std::vector<InstalledPackage>& pkgs);

}  // namespace husk::build
