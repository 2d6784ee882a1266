#include "debian/index.h"

#include <chrono>

#include <gtest/gtest.h>

#include "debian/test_apt_lists.h"

namespace husk::debian {
namespace {

const char* kMain = R"(Package: libc6
Source: glibc
Version: 2.36-9+deb12u4
Installed-Size: 12996
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Breaks: hurd (<< 1:0.9.git20220301-2), nscd (<< 2.36)
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
Priority: optional
Section: libs
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb
Size: 2757936
SHA256: 0000000000000000000000000000000000000000000000000000000000000001

Package: mawk
Version: 1.3.4.20200120-3.1
Architecture: amd64
Multi-Arch: foreign
Provides: awk
Pre-Depends: libc6 (>= 2.34)
Priority: required
Essential: no

Package: python3-yaml
Source: pyyaml (6.0-3)
Version: 6.0-3+b2
Architecture: amd64
Provides: python3.11-yaml, python3-yaml-abi (= 6)

Package: libc6
Version: 2.36-9+deb12u4
Architecture: i386

Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Essential: yes
)";

const char* kSecurity = R"(Package: libc6
Source: glibc
Version: 2.36-9+deb12u7
Architecture: amd64
Multi-Arch: same

Package: mawk
Version: 1.3.4.20200120-3
Architecture: amd64
Provides: awk, mawk-old
)";

PackageIndex Index() {
  PackageIndex idx;
  EXPECT_TRUE(idx.AddPackagesFile(kMain, "main").ok());
  EXPECT_TRUE(idx.AddPackagesFile(kSecurity, "security").ok());
  return idx;
}

TEST(Index, ParsesTheFields) {
  PackageIndex idx = Index();
  const Package* mawk = idx.Find("mawk", "amd64");
  ASSERT_NE(mawk, nullptr);
  EXPECT_EQ(mawk->multi_arch, MultiArch::kForeign);
  EXPECT_EQ(mawk->priority, "required");
  EXPECT_FALSE(mawk->essential);
  EXPECT_EQ(mawk->source, "mawk");  // no Source: the binary's own name and version
  EXPECT_EQ(mawk->source_version, "1.3.4.20200120-3.1");
  ASSERT_EQ(mawk->pre_depends.size(), 1u);
  EXPECT_EQ(mawk->pre_depends[0][0].String(), "libc6 (>= 2.34)");

  auto main = ParseDeb822(kMain);
  ASSERT_TRUE(main.ok());
  auto libc = ParsePackage((*main)[0]);
  ASSERT_TRUE(libc.ok()) << libc.error().message();
  EXPECT_EQ(libc->source, "glibc");
  EXPECT_EQ(libc->source_version, "2.36-9+deb12u4");
  EXPECT_EQ(libc->installed_size, 12996u);
  EXPECT_EQ(libc->size, 2757936u);
  EXPECT_EQ(libc->filename, "pool/main/g/glibc/libc6_2.36-9+deb12u4_amd64.deb");
  EXPECT_EQ(libc->description, "GNU C Library: Shared libraries");
  EXPECT_EQ(libc->section, "libs");
  EXPECT_EQ(libc->multi_arch, MultiArch::kSame);
  EXPECT_EQ(FormatRelations(libc->breaks), "hurd (<< 1:0.9.git20220301-2), nscd (<< 2.36)");
  EXPECT_EQ(libc->recommends.size(), 1u);

  const Package* yaml = idx.Find("python3-yaml", "amd64");
  ASSERT_NE(yaml, nullptr);
  EXPECT_EQ(yaml->source, "pyyaml");
  EXPECT_EQ(yaml->source_version, "6.0-3");
}

TEST(Index, SuitesMergeToTheHighestVersion) {
  PackageIndex idx = Index();
  EXPECT_EQ(idx.size(), 5u);
  // Security's libc6 is newer and replaces main's; its mawk is older and does not.
  EXPECT_EQ(idx.Find("libc6", "amd64")->version, "2.36-9+deb12u7");
  EXPECT_EQ(idx.Find("mawk", "amd64")->version, "1.3.4.20200120-3.1");
  EXPECT_EQ(idx.Find("libc6", "i386")->version, "2.36-9+deb12u4");
  // The loser's Provides are gone with it.
  EXPECT_TRUE(idx.Providers("mawk-old", "amd64").empty());
  // Order of loading does not matter.
  PackageIndex reversed;
  ASSERT_TRUE(reversed.AddPackagesFile(kSecurity, "security").ok());
  ASSERT_TRUE(reversed.AddPackagesFile(kMain, "main").ok());
  EXPECT_EQ(reversed.Find("libc6", "amd64")->version, "2.36-9+deb12u7");
  EXPECT_EQ(reversed.Find("mawk", "amd64")->version, "1.3.4.20200120-3.1");
  EXPECT_TRUE(reversed.Providers("mawk-old", "amd64").empty());
}

TEST(Index, LookupByNameAndArchitecture) {
  PackageIndex idx = Index();
  auto libc = idx.Lookup("libc6", "amd64");
  ASSERT_EQ(libc.size(), 1u);
  EXPECT_EQ(libc[0]->architecture, "amd64");
  ASSERT_EQ(idx.Lookup("libc6", "i386").size(), 1u);
  EXPECT_EQ(idx.Lookup("tzdata", "arm64").size(), 1u);  // "all" installs everywhere
  EXPECT_TRUE(idx.Lookup("mawk", "i386").empty());
  EXPECT_TRUE(idx.Lookup("nope", "amd64").empty());
  EXPECT_EQ(idx.Find("tzdata", "amd64"), nullptr);  // Find is exact
  auto essential = idx.Essential("amd64");
  ASSERT_EQ(essential.size(), 1u);
  EXPECT_EQ(essential[0]->name, "tzdata");
}

TEST(Index, Providers) {
  PackageIndex idx = Index();
  auto awk = idx.Providers("awk", "amd64");
  ASSERT_EQ(awk.size(), 1u);
  EXPECT_EQ(awk[0].package->name, "mawk");
  EXPECT_FALSE(awk[0].provides->op);
  auto abi = idx.Providers("python3-yaml-abi", "amd64");
  ASSERT_EQ(abi.size(), 1u);
  EXPECT_EQ(abi[0].provides->version, "6");
  EXPECT_TRUE(idx.Providers("awk", "i386").empty());
}

TEST(Index, ErrorsNameTheFileLineAndPackage) {
  auto add = [](const char* text) {
    PackageIndex idx;
    Status s = idx.AddPackagesFile(text, "main/Packages");
    return s.ok() ? std::string() : s.error().message();
  };
  EXPECT_EQ(add("Package: a\nVersion: 1\n"),
            "main/Packages: line 1: package a: no Architecture field");
  EXPECT_EQ(add("Version: 1\nArchitecture: all\n"),
            "main/Packages: line 1: stanza without a Package field");
  EXPECT_EQ(
      add("Package: a\nVersion: 1\nArchitecture: all\n\nPackage: b\nVersion: x\n"
          "Architecture: all\n"),
      "main/Packages: line 5: package b: Version: invalid version \"x\": upstream version does "
      "not start with a digit");
  EXPECT_EQ(add("Package: a\nVersion: 1\nArchitecture: all\nDepends: b (>= )\n"),
            "main/Packages: line 1: package a: Depends: invalid relation \"b (>= )\": missing "
            "version after the operator");
  EXPECT_EQ(add("Package: a\nVersion: 1\nArchitecture: all\nMulti-Arch: sometimes\n"),
            "main/Packages: line 1: package a: Multi-Arch: unknown value \"sometimes\"");
  EXPECT_EQ(add("Package: a\nVersion: 1\nArchitecture: all\nSize: big\n"),
            "main/Packages: line 1: package a: Size: \"big\" is not a number");
  EXPECT_EQ(add("Package: a\nVersion: 1\nArchitecture: all\n\n x\n"),
            "main/Packages: line 5: continuation line without a field before it");
}

TEST(Index, LoadsTheRealBookwormIndex) {
  auto text = testing::ReadAptList("dists_bookworm_main_binary-amd64_Packages");
  if (!text) GTEST_SKIP() << "no bookworm main Packages in /var/lib/apt/lists";
  auto t0 = std::chrono::steady_clock::now();
  PackageIndex idx;
  Status s = idx.AddPackagesFile(*text, "bookworm/main");
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(s.ok()) << s.error().message();
  RecordProperty("load_ms", static_cast<int>(ms.count()));
  EXPECT_GT(idx.size(), 50000u);
  const Package* bash = idx.Find("bash", "amd64");
  ASSERT_NE(bash, nullptr);
  EXPECT_TRUE(bash->essential);
  EXPECT_EQ(bash->multi_arch, MultiArch::kForeign);
  EXPECT_EQ(bash->sha256.size(), 64u);
  EXPECT_FALSE(idx.Providers("mail-transport-agent", "amd64").empty());
  // Every Essential package of bookworm.
  EXPECT_GE(idx.Essential("amd64").size(), 15u);
}

}  // namespace
}  // namespace husk::debian
