#include "build/deb.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "build/assemble.h"
#include "build/deb_test_util.h"

namespace husk::build {
namespace {

using testutil::BuildDeb;
using testutil::DebSpec;
using testutil::ReadAll;
using testutil::TempDir;

std::string Link(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? "<not a link>" : std::string(buf, static_cast<size_t>(n));
}

mode_t Mode(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 ? st.st_mode : 0;
}

DebSpec Tool(const std::string& compression) {
  DebSpec s;
  s.name = "tool";
  s.version = "1:2.0+dfsg-1";
  s.compression = compression;
  s.extra_control = "Source: tool-src (2.0+dfsg-0)\nDepends: libc6 (>= 2.36)\n";
  s.files["/bin/tool"] = {"#!/bin/sh\necho tool\n", 0755};
  s.files["/etc/tool.conf"] = {"x=1\n"};
  s.files["/usr/lib/tool/plugin.so"] = {"plugin"};
  s.files["/usr/lib/tool/static.a"] = {"archive"};
  s.files["/usr/lib/tool/sub/deep.so"] = {"deep"};
  s.files["/usr/share/doc/tool/copyright"] = {"Format: x\n\nFiles: *\nLicense: GPL-2+\n"};
  s.files["/usr/share/doc/tool/README"] = {"readme"};
  s.files["/usr/share/man/man1/tool.1.gz"] = {"man"};
  s.symlinks["/usr/bin/tool-alias"] = "tool";
  s.dirs.push_back("/var/lib/tool");
  s.conffiles.push_back("/etc/tool.conf");
  return s;
}

TEST(GlobMatch, ChiselSemantics) {
  EXPECT_TRUE(GlobMatch("/usr/bin/python3*", "/usr/bin/python3.11"));
  EXPECT_FALSE(GlobMatch("/usr/bin/*", "/usr/bin/sub/x"));
  EXPECT_TRUE(GlobMatch("/usr/lib/**", "/usr/lib/a/b/c.so"));
  EXPECT_TRUE(GlobMatch("/usr/lib/**.so", "/usr/lib/a/b/c.so"));
  EXPECT_FALSE(GlobMatch("/usr/lib/**.so", "/usr/lib/a/b/c.a"));
  EXPECT_TRUE(GlobMatch("/usr/**/x", "/usr/a/b/x"));
  EXPECT_TRUE(GlobMatch("/usr/lib/?.so", "/usr/lib/a.so"));
  EXPECT_FALSE(GlobMatch("/usr/lib/?.so", "/usr/lib/ab.so"));
  EXPECT_FALSE(GlobMatch("/usr/?", "/usr//"));
  EXPECT_TRUE(GlobMatch("/etc/ssl/", "/etc/ssl/"));
  EXPECT_FALSE(GlobMatch("/etc/ssl", "/etc/ssl/certs"));
  EXPECT_TRUE(GlobMatch("*", "abc"));
  EXPECT_FALSE(GlobMatch("*", "/abc"));
}

TEST(ReadDeb, ControlMd5sumsConffilesXzAndZstd) {
  if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
  TempDir tmp;
  for (std::string comp : {"xz", "zstd", "gzip", "none"}) {
    SCOPED_TRACE(comp);
    std::string deb = BuildDeb(tmp, Tool(comp));
    ASSERT_FALSE(deb.empty());
    auto c = ReadDeb(deb);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->name(), "tool");
    EXPECT_EQ(c->version(), "1:2.0+dfsg-1");
    EXPECT_EQ(c->architecture(), "amd64");
    EXPECT_EQ(c->Get("source"), "tool-src (2.0+dfsg-0)");
    EXPECT_EQ(c->Get("Depends"), "libc6 (>= 2.36)");
    EXPECT_NE(c->control.find("Description: test package tool\n a longer\n"), std::string::npos);
    EXPECT_NE(c->md5sums.find("  bin/tool\n"), std::string::npos) << c->md5sums;
    EXPECT_NE(c->md5sums.find("  usr/share/doc/tool/copyright\n"), std::string::npos);
    EXPECT_EQ(c->conffiles, std::vector<std::string>{"/etc/tool.conf"});
  }
}

TEST(ReadDeb, RefusesWhatIsNotADeb) {
  TempDir tmp;
  std::string junk = tmp / "junk.deb";
  ASSERT_TRUE(fs::WriteFile(junk, "hello").ok());
  auto r = ReadDeb(junk);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("junk.deb"), std::string::npos) << r.error().message();

  std::string ar = tmp / "wrong.deb";
  ASSERT_TRUE(fs::WriteFile(ar, testutil::ArArchive({{"hello.txt", "x"}})).ok());
  r = ReadDeb(ar);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "wrong.deb: not a Debian package: first member is \"hello.txt\"");

  r = ReadDeb(tmp / "missing.deb");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
}

TEST(ExtractDebData, WholePackageThroughUsrmerge) {
  if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
  TempDir tmp;
  std::string deb = BuildDeb(tmp, Tool("zstd"));
  std::string root = tmp / "root";
  ASSERT_TRUE(PrepareRoot(root, "amd64").ok());
  auto files = ExtractDebData(deb, root);
  ASSERT_TRUE(files.ok()) << files.error().message();
  EXPECT_EQ(files->files,
            (std::vector<std::string>{
                "/bin/tool", "/etc/tool.conf", "/usr/bin/tool-alias", "/usr/lib/tool/plugin.so",
                "/usr/lib/tool/static.a", "/usr/lib/tool/sub/deep.so", "/usr/share/doc/tool/README",
                "/usr/share/doc/tool/copyright", "/usr/share/man/man1/tool.1.gz"}));
  // Where each entry landed: /bin/tool in usr/bin; the /bin link, merged
  // through, is not the package's; directories are.
  std::set<std::string> landed(files->landed.begin(), files->landed.end());
  EXPECT_EQ(landed.size(), files->landed.size());
  for (const char* p : {"usr/bin/tool", "usr/bin/tool-alias", "etc", "etc/tool.conf",
                        "usr/lib/tool", "usr/lib/tool/sub/deep.so", "var", "var/lib/tool"})
    EXPECT_TRUE(landed.count(p)) << p;
  EXPECT_FALSE(landed.count("bin"));
  EXPECT_FALSE(landed.count("bin/tool"));
  // /bin is still the usrmerge link, and the package's /bin/tool is in /usr/bin.
  EXPECT_EQ(Link(root + "/bin"), "usr/bin");
  EXPECT_EQ(Mode(root + "/usr/bin/tool"), S_IFREG | 0755);
  EXPECT_EQ(ReadAll(root + "/usr/bin/tool"), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(Link(root + "/usr/bin/tool-alias"), "tool");
  EXPECT_TRUE(S_ISDIR(Mode(root + "/var/lib/tool")));
  EXPECT_EQ(Mode(root + "/usr/lib/tool"), S_IFDIR | 0755);
  // No staging directory is left behind.
  auto names = fs::ListDir(root);
  ASSERT_TRUE(names.ok());
  for (const auto& n : *names) EXPECT_EQ(n.find(".husk-unpack"), std::string::npos) << n;

  // A second package replaces a file of the first (the later one wins).
  DebSpec other;
  other.name = "other";
  other.files["/usr/bin/tool"] = {"replaced\n", 0755};
  std::string deb2 = BuildDeb(tmp, other);
  ASSERT_TRUE(ExtractDebData(deb2, root).ok());
  EXPECT_EQ(ReadAll(root + "/usr/bin/tool"), "replaced\n");
}

TEST(ExtractDebData, SliceKeepAndDropGlobs) {
  if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
  TempDir tmp;
  std::string deb = BuildDeb(tmp, Tool("xz"));
  std::string root = tmp / "root";
  ASSERT_TRUE(PrepareRoot(root, "amd64").ok());
  ExtractFilter f;
  f.keep = {"/usr/lib/tool/**", "/bin/tool*", "/var/lib/tool"};
  f.drop = {"/usr/lib/tool/*.a", "/usr/lib/tool/sub"};
  auto files = ExtractDebData(deb, root, f);
  ASSERT_TRUE(files.ok()) << files.error().message();
  EXPECT_EQ(files->files, (std::vector<std::string>{"/bin/tool", "/usr/lib/tool/plugin.so",
                                                    "/usr/share/doc/tool/copyright"}));
  // Sliced away: not landed either; the parents of what is kept are.
  EXPECT_EQ(files->landed,
            (std::vector<std::string>{"usr/bin/tool", "usr", "usr/lib", "usr/lib/tool",
                                      "usr/lib/tool/plugin.so", "usr/share", "usr/share/doc",
                                      "usr/share/doc/tool", "usr/share/doc/tool/copyright", "var",
                                      "var/lib", "var/lib/tool"}));
  EXPECT_TRUE(fs::Exists(root + "/usr/bin/tool"));
  EXPECT_TRUE(fs::Exists(root + "/usr/lib/tool/plugin.so"));
  EXPECT_FALSE(fs::Exists(root + "/usr/lib/tool/static.a"));
  EXPECT_FALSE(fs::Exists(root + "/usr/lib/tool/sub"));  // dropped with its subtree
  EXPECT_FALSE(fs::Exists(root + "/etc/tool.conf"));
  EXPECT_FALSE(fs::Exists(root + "/usr/bin/tool-alias"));
  EXPECT_FALSE(fs::Exists(root + "/usr/share/doc/tool/README"));
  EXPECT_FALSE(fs::Exists(root + "/usr/share/man"));
  EXPECT_TRUE(S_ISDIR(Mode(root + "/var/lib/tool")));  // a directory kept by name

  // A keep naming a directory keeps the directory, not what is in it.
  std::string root2 = tmp / "root2";
  ASSERT_TRUE(PrepareRoot(root2, "amd64").ok());
  ExtractFilter only_dir;
  only_dir.keep = {"/usr/lib/tool/"};
  only_dir.keep_copyright = false;
  files = ExtractDebData(deb, root2, only_dir);
  ASSERT_TRUE(files.ok()) << files.error().message();
  EXPECT_TRUE(files->files.empty());
  EXPECT_TRUE(S_ISDIR(Mode(root2 + "/usr/lib/tool")));
  EXPECT_EQ(*fs::ListDir(root2 + "/usr/lib/tool"), std::vector<std::string>{});
  EXPECT_FALSE(fs::Exists(root2 + "/usr/share/doc/tool"));
}

TEST(ExtractDebData, RefusesEscapingMembers) {
  TempDir tmp;
  std::string control = archive::testutil::TarBuilder()
                            .File("./control", "Package: evil\nVersion: 1\nArchitecture: all\n")
                            .Finish();
  for (std::string bad : {"../escaped", "./usr/../../escaped"}) {
    SCOPED_TRACE(bad);
    std::string data =
        archive::testutil::TarBuilder().Dir("./").File("./ok", "fine").File(bad, "gotcha").Finish();
    std::string deb = tmp / "evil.deb";
    ASSERT_TRUE(fs::WriteFile(deb, testutil::ArArchive({{"debian-binary", "2.0\n"},
                                                        {"control.tar", control},
                                                        {"data.tar", data}}))
                    .ok());
    auto c = ReadDeb(deb);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->name(), "evil");
    std::string root = tmp.Sub("root");
    auto r = ExtractDebData(deb, root);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("escapes"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("evil.deb"), std::string::npos) << r.error().message();
    EXPECT_FALSE(fs::Exists(tmp / "escaped"));
    EXPECT_EQ(*fs::ListDir(root), std::vector<std::string>{});  // staging removed
    ASSERT_TRUE(fs::RemoveAll(root).ok());
  }
}

TEST(ExtractDebData, SymlinkedParentsStayInsideTheRoot) {
  TempDir tmp;
  std::string control = archive::testutil::TarBuilder()
                            .File("./control", "Package: evil\nVersion: 1\nArchitecture: all\n")
                            .Finish();
  // First package: an absolute symlink to the host's /tmp dir of the test.
  std::string outside = tmp.Sub("outside");
  std::string d1 = archive::testutil::TarBuilder().Symlink("./etc", outside).Finish();
  std::string d2 = archive::testutil::TarBuilder().File("./etc/planted", "x").Finish();
  std::string root = tmp.Sub("root");
  int i = 0;
  for (const auto& data : {d1, d2}) {
    std::string deb = tmp / fmt::format("p{}.deb", i++);
    ASSERT_TRUE(fs::WriteFile(deb, testutil::ArArchive({{"debian-binary", "2.0\n"},
                                                        {"control.tar", control},
                                                        {"data.tar", data}}))
                    .ok());
    auto r = ExtractDebData(deb, root);
    // The second package's /etc resolves inside the root, where the link's
    // target does not exist: it replaces the dangling link with a directory.
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  EXPECT_FALSE(fs::Exists(outside + "/planted"));
  EXPECT_TRUE(fs::IsDir(root + "/etc"));
  EXPECT_EQ(ReadAll(root + "/etc/planted"), "x");
}

TEST(ExtractDebData, RefusesBzip2) {
  TempDir tmp;
  std::string control = archive::testutil::TarBuilder()
                            .File("./control", "Package: old\nVersion: 1\nArchitecture: all\n")
                            .Finish();
  std::string deb = tmp / "old.deb";
  ASSERT_TRUE(fs::WriteFile(deb, testutil::ArArchive({{"debian-binary", "2.0\n"},
                                                      {"control.tar", control},
                                                      {"data.tar.bz2", "BZh9"}}))
                  .ok());
  auto r = ExtractDebData(deb, tmp.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "extract old.deb: data.tar.bz2: unsupported compression (gzip, xz and zstd are)");
}

}  // namespace
}  // namespace husk::build
