#include "debian/release.h"

#include <gtest/gtest.h>

#include "debian/test_apt_lists.h"
#include "digest/digest.h"

namespace husk::debian {
namespace {

const std::string kPackagesText = "Package: x\nVersion: 1\nArchitecture: all\n";

std::string ReleaseText() {
  std::string sha = Sha256Of(kPackagesText).hex();
  return "Origin: Debian\n"
         "Label: Debian-Security\n"
         "Suite: oldstable-security\n"
         "Codename: bookworm-security\n"
         "Date: Sat, 10 Aug 2024 09:15:40 UTC\n"
         "Valid-Until: Sat, 17 Aug 2024 09:15:40 UTC\n"
         "Acquire-By-Hash: yes\n"
         "Architectures: amd64 arm64\n"
         "Components: updates/main updates/contrib\n"
         "MD5Sum:\n"
         " 0123456789abcdef0123456789abcdef 40 main/binary-amd64/Packages\n"
         "SHA256:\n"
         " " +
         sha + " " + std::to_string(kPackagesText.size()) +
         " updates/main/binary-amd64/Packages\n"
         " " +
         std::string(64, 'b') + "     7 updates/main/binary-amd64/Packages.xz\n";
}

TEST(Release, ParsesTheFieldsAndTheSha256List) {
  auto r = ParseRelease(ReleaseText());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->suite, "oldstable-security");
  EXPECT_EQ(r->codename, "bookworm-security");
  EXPECT_EQ(r->date_unix, 1723281340);
  ASSERT_TRUE(r->valid_until_unix);
  EXPECT_EQ(*r->valid_until_unix, 1723281340 + 7 * 86400);
  std::vector<std::string> archs = {"amd64", "arm64"};
  EXPECT_EQ(r->architectures, archs);
  EXPECT_EQ(r->components.size(), 2u);
  EXPECT_TRUE(r->acquire_by_hash);
  ASSERT_EQ(r->files.size(), 2u);  // the MD5Sum list is ignored
  const ReleaseEntry* xz = r->FindPackages("updates/main", "amd64");
  ASSERT_NE(xz, nullptr);
  EXPECT_EQ(xz->path, "updates/main/binary-amd64/Packages.xz");
  EXPECT_EQ(xz->size, 7u);
  EXPECT_EQ(r->FetchPath(*xz), "updates/main/binary-amd64/by-hash/SHA256/" + std::string(64, 'b'));
  EXPECT_EQ(r->FindPackages("main", "amd64"), nullptr);
  EXPECT_EQ(r->Find("nope"), nullptr);
}

TEST(Release, VerifyEntry) {
  auto r = ParseRelease(ReleaseText());
  ASSERT_TRUE(r.ok());
  const ReleaseEntry* e = r->Find("updates/main/binary-amd64/Packages");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(VerifyEntry(*e, kPackagesText).ok());
  std::string tampered = kPackagesText;
  tampered[0] = 'p';
  EXPECT_EQ(VerifyEntry(*e, tampered).error().message(),
            "updates/main/binary-amd64/Packages: sha256 " + Sha256Of(tampered).hex() +
                " does not match the Release file's " + e->sha256);
  EXPECT_EQ(VerifyEntry(*e, "short").error().message(),
            "updates/main/binary-amd64/Packages: size 5 does not match the Release file's " +
                std::to_string(kPackagesText.size()));
}

TEST(Release, ValidUntil) {
  auto r = ParseRelease(ReleaseText());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->CheckValidUntil(*r->valid_until_unix).ok());
  EXPECT_EQ(r->CheckValidUntil(*r->valid_until_unix + 3 * 86400).error().message(),
            "Release file of oldstable-security expired at Sat, 17 Aug 2024 09:15:40 UTC (3 days "
            "ago)");
}

TEST(Release, Dates) {
  EXPECT_EQ(*ParseReleaseDate("Thu, 01 Jan 1970 00:00:00 UTC"), 0);
  EXPECT_EQ(*ParseReleaseDate("1 Jan 1970 01:00:00 +0100"), 0);
  EXPECT_EQ(*ParseReleaseDate("Thu, 01 Jan 1970 00:00:00 -0030"), 1800);
  EXPECT_EQ(ParseReleaseDate("yesterday").error().message(),
            "invalid date \"yesterday\": want \"Day, DD Mon YYYY HH:MM:SS UTC\"");
  EXPECT_EQ(ParseReleaseDate("Thu, 01 Jan 1970 00:00:00 CEST").error().message(),
            "invalid date \"Thu, 01 Jan 1970 00:00:00 CEST\": unknown time zone \"CEST\"");
}

TEST(Release, Errors) {
  auto with = [](std::string from, std::string to) {
    std::string t = ReleaseText();
    t.replace(t.find(from), from.size(), to);
    return ParseRelease(t);
  };
  EXPECT_EQ(with("Date: Sat,", "Date: Sun,,").error().message(),
            "line 5: Date: invalid date \"Sun,, 10 Aug 2024 09:15:40 UTC\": want \"Day, DD Mon "
            "YYYY HH:MM:SS UTC\"");
  EXPECT_EQ(with("Acquire-By-Hash: yes", "Acquire-By-Hash: maybe").error().message(),
            "line 7: Acquire-By-Hash: \"maybe\" is neither yes nor no");
  EXPECT_EQ(with("     7 updates", " seven updates").error().message(),
            "line 14: SHA256 entry for updates/main/binary-amd64/Packages.xz: size \"seven\" is "
            "not a number");
  EXPECT_EQ(with(std::string(64, 'b'), "xyz").error().message(),
            "line 14: SHA256 entry for updates/main/binary-amd64/Packages.xz: \"xyz\" is not 64 "
            "lowercase hex");
  EXPECT_EQ(with("SHA256:", "SHA512:").error().message(),
            "Release file has no SHA256 list (MD5Sum/SHA1-only archives are refused)");
  EXPECT_EQ(
      ParseRelease("Suite: x\nDate: Thu, 01 Jan 1970 00:00:00 UTC\n\nA: b\n").error().message(),
      "line 4: Release file has more than one paragraph");
  EXPECT_EQ(ParseRelease("Origin: x\n").error().message(),
            "Release file has neither Suite nor Codename");
}

TEST(Release, StripClearsign) {
  const std::string signed_text =
      "\n"
      "-----BEGIN PGP SIGNED MESSAGE-----\n"
      "Hash: SHA256\n"
      "\n"
      "Suite: stable\n"
      "- -----not armor\n"
      "Codename: bookworm\n"
      "-----BEGIN PGP SIGNATURE-----\n"
      "\n"
      "iQIzBAEBCAAdFiEE\n"
      "=AfjX\n"
      "-----END PGP SIGNATURE-----\n"
      "\n";
  auto body = StripClearsign(signed_text);
  ASSERT_TRUE(body.ok()) << body.error().message();
  EXPECT_EQ(*body, "Suite: stable\n-----not armor\nCodename: bookworm\n");

  auto err = [](const std::string& s) { return StripClearsign(s).error().message(); };
  EXPECT_EQ(err("Suite: x\n"), "line 1: content before \"-----BEGIN PGP SIGNED MESSAGE-----\"");
  EXPECT_EQ(err(""), "not a cleartext-signed message (no \"-----BEGIN PGP SIGNED MESSAGE-----\")");
  EXPECT_EQ(err("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n"),
            "signed message without a signature block");
  EXPECT_EQ(err("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: b\n"
                "-----BEGIN PGP SIGNATURE-----\nabc\n"),
            "unterminated signature block (no \"-----END PGP SIGNATURE-----\")");
  EXPECT_EQ(err("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n-bad\n"),
            "line 4: line starting with '-' is not dash-escaped");
  EXPECT_EQ(err("-----BEGIN PGP SIGNED MESSAGE-----\nHash\n\n"),
            "line 2: malformed armor header \"Hash\"");
  // A second message after the first would let an attacker smuggle an unsigned Release.
  EXPECT_EQ(err(signed_text + "Suite: evil\n"), "line 14: content after the signature");
}

TEST(Release, RealInReleaseMatchesItsPackagesFile) {
  auto inrelease = testing::ReadAptList("dists_bookworm_InRelease");
  auto packages = testing::ReadAptList("dists_bookworm_main_binary-amd64_Packages");
  if (!inrelease || !packages) GTEST_SKIP() << "no bookworm lists in /var/lib/apt/lists";
  auto body = StripClearsign(*inrelease);
  ASSERT_TRUE(body.ok()) << body.error().message();
  auto r = ParseRelease(*body);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->codename, "bookworm");
  EXPECT_TRUE(r->acquire_by_hash);
  EXPECT_GT(r->files.size(), 100u);
  const ReleaseEntry* xz = r->FindPackages("main", "amd64");
  ASSERT_NE(xz, nullptr);
  EXPECT_EQ(xz->path, "main/binary-amd64/Packages.xz");
  const ReleaseEntry* plain = r->Find("main/binary-amd64/Packages");
  ASSERT_NE(plain, nullptr);
  // apt keeps the list it verified, so it must still match the Release file.
  EXPECT_TRUE(VerifyEntry(*plain, *packages).ok())
      << VerifyEntry(*plain, *packages).error().message();
}

}  // namespace
}  // namespace husk::debian
