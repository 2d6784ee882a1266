#include "archive/archive_file.h"

#include <gtest/gtest.h>

#include "archive/test_util.h"

namespace husk::archive {
namespace {

using testutil::Sh;
using testutil::TarBuilder;
using testutil::TempDir;

std::string Save(const TempDir& t, const std::string& tar) {
  std::string p = t / "archive.tar";
  EXPECT_TRUE(fs::WriteFile(p, tar).ok());
  return p;
}

TEST(ExtractArchive, ExtractsFilesDirsAndInsideLinks) {
  TempDir t;
  std::string tar = TarBuilder()
                        .Dir("blobs/sha256")
                        .File("blobs/sha256/aaa", "layer", 04755)
                        .File("./manifest.json", "[]")
                        .Symlink("blobs/sha256/bbb", "aaa")
                        .Symlink("top", "blobs/sha256/../sha256/aaa")
                        .Hardlink("copy", "blobs/sha256/aaa")
                        .Finish();
  std::string dst = t.Sub("dst");
  auto st = ExtractArchive(Save(t, tar), dst);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->entries, 6u);
  EXPECT_EQ(testutil::ReadAll(dst + "/blobs/sha256/bbb"), "layer");
  EXPECT_EQ(testutil::ReadAll(dst + "/top"), "layer");
  EXPECT_EQ(testutil::ReadAll(dst + "/copy"), "layer");
  EXPECT_EQ(testutil::ReadAll(dst + "/manifest.json"), "[]");
  struct stat s;
  ASSERT_EQ(::stat((dst + "/blobs/sha256/aaa").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0755u);  // no setuid from an archive
}

TEST(ExtractArchive, AcceptsCompressedArchives) {
  TempDir t;
  std::string p = Save(t, TarBuilder().File("index.json", "{}").Finish());
  ASSERT_EQ(Sh("gzip " + p).first, 0);
  std::string dst = t.Sub("dst");
  auto st = ExtractArchive(p + ".gz", dst);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(testutil::ReadAll(dst + "/index.json"), "{}");
}

TEST(ExtractArchive, RefusesEscapesNamingTheMember) {
  struct Case {
    std::string tar, member, want;
  } cases[] = {
      {TarBuilder().File("../evil", "x").Finish(), "../evil", "escapes the destination"},
      {TarBuilder().Symlink("abs", "/etc/passwd").Finish(), "abs", "leaves the destination"},
      {TarBuilder().Symlink("d/up", "../../evil").Finish(), "d/up", "leaves the destination"},
      {TarBuilder().Hardlink("h", "../../etc/passwd").Finish(), "h", "escapes the destination"},
      {TarBuilder().Node("null", AE_IFCHR, makedev(1, 3)).Finish(), "null", "unsupported"},
  };
  for (const auto& c : cases) {
    TempDir t;
    std::string dst = t.Sub("dst");
    std::string path = Save(t, c.tar);
    auto st = ExtractArchive(path, dst);
    ASSERT_FALSE(st.ok()) << c.member;
    EXPECT_EQ(
        st.error().message().rfind(fmt::format("{}: archive entry \"{}\": ", path, c.member), 0),
        0u)
        << st.error().message();
    EXPECT_NE(st.error().message().find(c.want), std::string::npos) << st.error().message();
    EXPECT_FALSE(fs::Exists(t / "evil"));
    EXPECT_TRUE(fs::ListDir(dst)->empty()) << c.member;
  }
}

TEST(ReadArchiveMember, ReadsOneMemberByCleanedName) {
  TempDir t;
  std::string p = Save(
      t, TarBuilder().File("a", std::string(5000, 'a')).File("./manifest.json", "[1]").Finish());
  auto m = ReadArchiveMember(p, "manifest.json");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(*m, "[1]");
  auto missing = ReadArchiveMember(p, "index.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  auto big = ReadArchiveMember(p, "a", 100);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("larger than 100 bytes"), std::string::npos)
      << big.error().message();
}

}  // namespace
}  // namespace husk::archive
