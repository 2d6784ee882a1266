#include "build/sbom.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "build/assemble.h"
#include "build/deb_test_util.h"

namespace husk::build {
namespace {

using Json = nlohmann::json;

constexpr char kCopyright[] =
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    "Upstream-Name: glibc\n"
    "\n"
    "Files: *\n"
    "Copyright: 1991-2023 Free Software Foundation, Inc.\n"
    "License: LGPL-2.1+\n"
    "\n"
    "Files: posix/*\n"
    "License: GPL-2+ or Artistic\n"
    "\n"
    "Files: other/*\n"
    "License: lgpl-2.1+\n"
    "\n"
    "Files: debian/*\n"
    "License: GPL-2+ with OpenSSL exception\n"
    "\n"
    "License: LGPL-2.1+\n"
    " This library is free software; you can redistribute it and/or\n"
    " License: not a field, part of the text\n"
    "\n"
    "License: public-domain\n";

SbomInput Sample() {
  SbomInput in;
  in.image_name = "localhost/app:latest";
  in.created = 1700000000;
  in.tool_version = "0.1.0";
  SbomPackage libc;
  libc.name = "libc6";
  libc.version = "2.36-9+deb12u10";
  libc.architecture = "amd64";
  libc.source = "glibc";
  libc.maintainer = "GNU Libc Maintainers <debian-glibc@lists.debian.org>";
  libc.license = LicenseFromCopyright(kCopyright);
  libc.sha256 = std::string(64, 'a');
  SbomPackage tz;
  tz.name = "tzdata";
  tz.version = "1:2024a-0+deb12u1";
  tz.architecture = "all";
  tz.license = "public-domain";
  tz.sha256 = std::string(64, 'b');
  tz.sliced = true;
  tz.files = {"/usr/share/zoneinfo/UTC"};
  SbomPackage base;
  base.name = "base-files";
  base.version = "12.4+deb12u5";
  base.architecture = "amd64";
  // Deliberately out of order: the output sorts.
  in.packages = {tz, libc, base};
  return in;
}

TEST(Sbom, PackageUrl) {
  SbomPackage p{"libstdc++6", "1:12.2.0-14+deb12u1", "amd64", "gcc-12", "12.2.0-14+deb12u1"};
  EXPECT_EQ(PackageUrl(p, "debian-12"),
            "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14%2Bdeb12u1?arch=amd64&distro=debian-12"
            "&upstream=gcc-12%4012.2.0-14%2Bdeb12u1");
  SbomPackage q{"bash", "5.2.15-2+b7", "amd64", "bash", "5.2.15-2"};
  EXPECT_EQ(PackageUrl(q, "debian-12"),
            "pkg:deb/debian/bash@5.2.15-2%2Bb7?arch=amd64&distro=debian-12");
}

TEST(Sbom, LicenseFromCopyright) {
  EXPECT_EQ(LicenseFromCopyright(kCopyright),
            "LGPL-2.1+ AND (GPL-2+ OR Artistic) AND GPL-2+ with OpenSSL exception AND "
            "public-domain");
  EXPECT_EQ(LicenseFromCopyright("This is free software.\n"), "");
  // Free-form files: the common-licenses texts they point to.
  EXPECT_EQ(LicenseFromCopyright("under the LGPL, see /usr/share/common-licenses/LGPL-2.1.\n"
                                 "and /usr/share/common-licenses/GPL-2, "
                                 "/usr/share/common-licenses/LGPL-2.1\n"),
            "LGPL-2.1 AND GPL-2");
  // Names of an AND-only field fold into the others.
  EXPECT_EQ(LicenseFromCopyright("License: BSD-4-clause-UC and MIT-like\n\nLicense: MIT-like\n"),
            "BSD-4-clause-UC AND MIT-like");
  EXPECT_EQ(LicenseFromCopyright("License: GPL-2 or GPL-3\n"), "GPL-2 OR GPL-3");
  std::vector<std::string> refs;
  EXPECT_EQ(SpdxLicenseExpression(LicenseFromCopyright(kCopyright), &refs),
            "LGPL-2.1-or-later AND (GPL-2.0-or-later OR Artistic-1.0-Perl) AND "
            "LicenseRef-GPL-2-plus-with-OpenSSL-exception AND LicenseRef-public-domain");
  EXPECT_EQ(refs, (std::vector<std::string>{"GPL-2+ with OpenSSL exception", "public-domain"}));
  EXPECT_EQ(SpdxLicenseExpression("Expat AND BSD-3-clause AND GPL-3", nullptr),
            "MIT AND BSD-3-Clause AND GPL-3.0-only");
}

TEST(Sbom, DistroFromOsRelease) {
  EXPECT_EQ(DistroFromOsRelease("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
                                "VERSION_ID=\"12\"\n"),
            "debian-12");
  EXPECT_EQ(DistroFromOsRelease("ID=debian\nVERSION_CODENAME=trixie\n"), "debian-trixie");
}

TEST(Sbom, Spdx) {
  SbomInput in = Sample();
  std::string text = SpdxJson(in);
  EXPECT_EQ(text, SpdxJson(in));  // deterministic
  Json doc = Json::parse(text);
  EXPECT_EQ(doc["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(doc["dataLicense"], "CC0-1.0");
  EXPECT_EQ(doc["SPDXID"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(doc["name"], "localhost/app:latest");
  EXPECT_EQ(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(doc["creationInfo"]["creators"][0], "Tool: husk-0.1.0");
  std::string ns = doc["documentNamespace"];
  EXPECT_TRUE(strings::StartsWith(ns, "https://spdx.org/spdxdocs/husk/localhost-app-latest-"))
      << ns;

  auto& pkgs = doc["packages"];
  ASSERT_EQ(pkgs.size(), 4u);
  EXPECT_EQ(pkgs[0]["primaryPackagePurpose"], "CONTAINER");
  EXPECT_EQ(pkgs[1]["name"], "base-files");
  EXPECT_EQ(pkgs[2]["name"], "libc6");
  EXPECT_EQ(pkgs[3]["name"], "tzdata");
  auto& libc = pkgs[2];
  std::string id = libc["SPDXID"];
  EXPECT_TRUE(strings::StartsWith(id, "SPDXRef-Package-deb-libc6-")) << id;
  EXPECT_EQ(libc["versionInfo"], "2.36-9+deb12u10");
  EXPECT_EQ(libc["supplier"], "Person: GNU Libc Maintainers (debian-glibc@lists.debian.org)");
  EXPECT_EQ(libc["sourceInfo"], "built package from: glibc 2.36-9+deb12u10");
  EXPECT_EQ(libc["checksums"][0]["algorithm"], "SHA256");
  EXPECT_EQ(libc["externalRefs"][0]["referenceCategory"], "PACKAGE-MANAGER");
  EXPECT_EQ(libc["externalRefs"][0]["referenceType"], "purl");
  EXPECT_EQ(libc["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12&upstream=glibc");
  EXPECT_NE(std::string(libc["licenseDeclared"]).find("LGPL-2.1-or-later"), std::string::npos);
  EXPECT_EQ(pkgs[1]["licenseDeclared"], "NOASSERTION");
  EXPECT_EQ(pkgs[3]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/tzdata@1%3A2024a-0%2Bdeb12u1?arch=all&distro=debian-12");
  EXPECT_NE(std::string(pkgs[3]["comment"]).find("/usr/share/zoneinfo/UTC"), std::string::npos);

  // Every LicenseRef used is declared.
  std::set<std::string> declared;
  for (auto& e : doc["hasExtractedLicensingInfos"]) declared.insert(e["licenseId"]);
  EXPECT_EQ(declared, (std::set<std::string>{"LicenseRef-GPL-2-plus-with-OpenSSL-exception",
                                             "LicenseRef-public-domain"}));

  auto& rel = doc["relationships"];
  ASSERT_EQ(rel.size(), 4u);
  EXPECT_EQ(rel[0]["spdxElementId"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(rel[0]["relationshipType"], "DESCRIBES");
  EXPECT_EQ(rel[0]["relatedSpdxElement"], pkgs[0]["SPDXID"]);
  EXPECT_EQ(rel[2]["relationshipType"], "CONTAINS");
  EXPECT_EQ(rel[2]["relatedSpdxElement"], id);

  // The namespace follows the content.
  in.packages[0].version = "2";
  EXPECT_NE(Json::parse(SpdxJson(in))["documentNamespace"], ns);
}

TEST(Sbom, CycloneDx) {
  SbomInput in = Sample();
  std::string text = CycloneDxJson(in);
  EXPECT_EQ(text, CycloneDxJson(in));
  Json bom = Json::parse(text);
  EXPECT_EQ(bom["bomFormat"], "CycloneDX");
  EXPECT_EQ(bom["specVersion"], "1.5");
  EXPECT_EQ(bom["version"], 1);
  std::string serial = bom["serialNumber"];
  ASSERT_EQ(serial.size(), 45u) << serial;
  EXPECT_TRUE(strings::StartsWith(serial, "urn:uuid:"));
  EXPECT_EQ(serial[23], '5');  // version nibble
  EXPECT_EQ(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(bom["metadata"]["component"]["type"], "container");
  EXPECT_EQ(bom["metadata"]["tools"]["components"][0]["name"], "husk");

  auto& comps = bom["components"];
  ASSERT_EQ(comps.size(), 3u);
  auto& libc = comps[1];
  EXPECT_EQ(libc["type"], "library");
  EXPECT_EQ(libc["name"], "libc6");
  EXPECT_EQ(libc["purl"], libc["bom-ref"]);
  EXPECT_EQ(libc["purl"],
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12&upstream=glibc");
  EXPECT_EQ(libc["hashes"][0]["alg"], "SHA-256");
  // An OR among the licences: one SPDX expression.
  ASSERT_EQ(libc["licenses"].size(), 1u);
  EXPECT_TRUE(libc["licenses"][0].contains("expression"));
  auto& tz = comps[2];
  ASSERT_EQ(tz["licenses"].size(), 1u);
  EXPECT_EQ(tz["licenses"][0]["license"]["name"], "public-domain");
  EXPECT_EQ(tz["evidence"]["occurrences"][0]["location"], "/usr/share/zoneinfo/UTC");
  EXPECT_FALSE(comps[0].contains("licenses"));
  EXPECT_EQ(bom["dependencies"][0]["ref"], "image");
  EXPECT_EQ(bom["dependencies"][0]["dependsOn"].size(), 3u);
}

TEST(Sbom, PackagesFromTree) {
  if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
  testutil::TempDir tmp;
  std::string root = tmp / "root";
  ASSERT_TRUE(PrepareRoot(root, "amd64").ok());
  testutil::DebSpec s;
  s.name = "tool";
  s.version = "1.0+x-1";
  s.extra_control = "Source: toolsrc (1.0-1)\n";
  s.files["/usr/share/doc/tool/copyright"] = {"Files: *\nLicense: Expat\n"};
  s.files["/usr/bin/tool"] = {"x", 0755};
  s.files["/usr/bin/other"] = {"y", 0755};
  InstalledPackage p;
  p.deb_path = BuildDeb(tmp, s);
  ASSERT_FALSE(p.deb_path.empty());
  p.contents = *ReadDeb(p.deb_path);
  ExtractFilter f;
  f.keep = {"/usr/bin/tool"};
  p.files = ExtractDebData(p.deb_path, root, f)->files;
  p.sliced = true;
  auto pkgs = SbomPackages(root, {p});
  ASSERT_TRUE(pkgs.ok()) << pkgs.error().message();
  ASSERT_EQ(pkgs->size(), 1u);
  const auto& sp = pkgs->front();
  EXPECT_EQ(sp.name, "tool");
  EXPECT_EQ(sp.version, "1.0+x-1");
  EXPECT_EQ(sp.source, "toolsrc");
  EXPECT_EQ(sp.source_version, "1.0-1");
  EXPECT_EQ(sp.license, "Expat");
  EXPECT_EQ(sp.maintainer, "Test Maintainers <test@example.org>");
  EXPECT_EQ(sp.sha256, Sha256File(p.deb_path)->hex());
  EXPECT_EQ(sp.files, (std::vector<std::string>{"/usr/bin/tool", "/usr/share/doc/tool/copyright"}));
}

}  // namespace
}  // namespace husk::build
