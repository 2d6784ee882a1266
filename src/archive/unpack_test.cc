#include "archive/unpack.h"

#include <gtest/gtest.h>

#include <chrono>

#include "archive/test_util.h"

namespace husk::archive {
namespace {

using testutil::ListTree;
using testutil::Sh;
using testutil::TarBuilder;
using testutil::TempDir;

Result<UnpackStats> Unpack(const std::string& tar, const std::string& dir,
                           Whiteouts w = Whiteouts::kOverlay) {
  StringReader src(tar);
  UnpackOptions o;
  o.whiteouts = w;
  return UnpackLayer(src, dir, o);
}

std::string Gzip(const std::string& data) {
  TempDir t;
  EXPECT_TRUE(fs::WriteFile(t / "in", data).ok());
  return Sh("gzip -c " + (t / "in")).second;
}

std::string Type(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "missing";
  if (S_ISREG(st.st_mode)) return "file";
  if (S_ISDIR(st.st_mode)) return "dir";
  if (S_ISLNK(st.st_mode)) return "symlink";
  if (S_ISCHR(st.st_mode)) return fmt::format("chr {}:{}", major(st.st_rdev), minor(st.st_rdev));
  return "other";
}

TEST(Unpack, DiffIdIsTheDigestOfTheUncompressedStream) {
  std::string tar = TarBuilder().Dir("etc").File("etc/hostname", "box\n").Finish();
  // Trailing zero blocks beyond the end marker belong to the stream too.
  tar += std::string(10240, '\0');
  std::string gz = Gzip(tar);
  TempDir t;
  auto st = Unpack(gz, t.Sub("root"));
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->compression, Compression::kGzip);
  EXPECT_EQ(st->diff_id, Sha256Of(tar));
  EXPECT_EQ(st->tar_bytes, tar.size());
  EXPECT_EQ(st->entries, 2u);
  EXPECT_EQ(testutil::ReadAll(t / "root/etc/hostname"), "box\n");
}

TEST(Unpack, EmptyStreamIsAnEmptyLayerButGarbageIsAnError) {
  TempDir t;
  auto st = Unpack("", t.Sub("root"));
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->entries, 0u);
  EXPECT_EQ(st->diff_id, Sha256Of(""));
  st = Unpack(std::string(3000, 'x'), t.Sub("root2"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "read tar: not a tar archive (nor gzip, zstd or xz compressed)");
}

TEST(Unpack, TruncatedLayerIsAnError) {
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>(i * 31);
  std::string gz = Gzip(TarBuilder().File("big", big).Finish());
  TempDir t;
  auto st = Unpack(gz.substr(0, gz.size() / 2), t.Sub("root"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("truncated"), std::string::npos) << st.error().message();
}

TEST(Unpack, DotDotEscapesAreRefusedNamingTheEntry) {
  for (const char* name : {"../evil", "a/../../evil", "./../evil"}) {
    TempDir t;
    auto st = Unpack(TarBuilder().File("ok", "1").File(name, "pwned").Finish(), t.Sub("root"));
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_EQ(st.error().message(), fmt::format("layer entry \"{}\": escapes the layer", name));
    EXPECT_FALSE(fs::Exists(t / "evil")) << name;
  }
}

TEST(Unpack, AbsoluteNamesAndHarmlessDotDotStayInside) {
  TempDir t;
  std::string root = t.Sub("root");
  auto st = Unpack(TarBuilder().File("/abs/evil", "1").File("x/../y", "2").Finish(), root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(testutil::ReadAll(root + "/abs/evil"), "1");
  EXPECT_EQ(testutil::ReadAll(root + "/y"), "2");
}

TEST(Unpack, WritesThroughSymlinksLandInsideTheTarget) {
  TempDir t;
  std::string root = t.Sub("root");
  // A name no other test or host file uses: "tmp/<temp dir's name>-escape".
  std::string unique = "tmp/" + t.path().substr(t.path().rfind('/') + 1) + "-escape";
  std::string tar = TarBuilder()
                        .Symlink("link", "/")
                        .File("link/" + unique, "via absolute link")
                        .Symlink("up", "../../../..")
                        .File("up/" + unique + "2", "via relative link")
                        .Symlink("final", "/" + unique + "3")
                        .File("final", "replaces the link")
                        .Finish();
  auto st = Unpack(tar, root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_FALSE(fs::Exists("/" + unique));
  EXPECT_FALSE(fs::Exists("/" + unique + "2"));
  EXPECT_FALSE(fs::Exists("/" + unique + "3"));
  EXPECT_EQ(testutil::ReadAll(root + "/" + unique), "via absolute link");
  EXPECT_EQ(testutil::ReadAll(root + "/" + unique + "2"), "via relative link");
  EXPECT_EQ(Type(root + "/final"), "file");
  EXPECT_EQ(Type(root + "/link"), "symlink");
}

TEST(Unpack, HardlinksOutsideTheLayerAreRefused) {
  struct stat before;
  ASSERT_EQ(::stat("/etc/passwd", &before), 0);
  struct Case {
    std::string tar, entry, want;
  } cases[] = {
      {TarBuilder().Hardlink("h", "../../etc/passwd").Finish(), "h", "escapes the layer"},
      {TarBuilder().Hardlink("h", "/etc/passwd").Finish(), "h", "does not exist"},
      {TarBuilder().Symlink("l", "/etc").Hardlink("l2", "l/passwd").Finish(), "l2",
       "does not exist"},
  };
  for (const auto& c : cases) {
    TempDir t;
    auto st = Unpack(c.tar, t.Sub("root"));
    ASSERT_FALSE(st.ok()) << c.entry;
    EXPECT_EQ(st.error().message().rfind(fmt::format("layer entry \"{}\": ", c.entry), 0), 0u)
        << st.error().message();
    EXPECT_NE(st.error().message().find(c.want), std::string::npos) << st.error().message();
  }
  struct stat after;
  ASSERT_EQ(::stat("/etc/passwd", &after), 0);
  EXPECT_EQ(after.st_nlink, before.st_nlink);
}

TEST(Unpack, HardlinksInsideShareTheInode) {
  TempDir t;
  std::string root = t.Sub("root");
  auto st = Unpack(TarBuilder().Dir("d").File("d/a", "data").Hardlink("b", "d/a").Finish(), root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  struct stat a, b;
  ASSERT_EQ(::stat((root + "/d/a").c_str(), &a), 0);
  ASSERT_EQ(::stat((root + "/b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
}

TEST(Unpack, LaterEntriesReplaceEarlierOnes) {
  TempDir t;
  std::string root = t.Sub("root");
  std::string tar = TarBuilder()
                        .File("x", "file")
                        .Dir("x")  // dir over file
                        .Dir("d")
                        .File("d/kept", "1")
                        .Dir("d", 0700)  // dir over dir merges, new mode wins
                        .Dir("y")
                        .File("y/child", "2")
                        .File("y", "file over dir")
                        .Symlink("s", "target")
                        .File("s", "file over symlink")
                        .File("f", "old")
                        .File("f", "new")
                        .Finish();
  auto st = Unpack(tar, root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(Type(root + "/x"), "dir");
  EXPECT_EQ(testutil::ReadAll(root + "/d/kept"), "1");
  struct stat d;
  ASSERT_EQ(::stat((root + "/d").c_str(), &d), 0);
  EXPECT_EQ(d.st_mode & 07777, 0700u);
  EXPECT_EQ(testutil::ReadAll(root + "/y"), "file over dir");
  EXPECT_EQ(testutil::ReadAll(root + "/s"), "file over symlink");
  EXPECT_EQ(testutil::ReadAll(root + "/f"), "new");
}

TEST(Unpack, ModesOwnersXattrsAndTimes) {
  TempDir t;
  std::string root = t.Sub("root");
  bool as_root = ::geteuid() == 0;
  std::string cap(
      "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
      20);  // cap_net_bind_service, effective
  std::map<std::string, std::string> xattrs{{"user.note", "hello"}};
  if (as_root) xattrs["security.capability"] = cap;
  xattrs["trusted.overlay.redirect"] = "/elsewhere";  // never taken from a layer
  TarBuilder b;
  b.Dir("ro", 0555).File("ro/f", "x", 0444).Dir("tmp", 01777).File("suid", "x", 04755, xattrs);
  auto st = Unpack(b.Finish(), root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_GE(st->xattrs_skipped, 1u);
  auto mode = [&](const std::string& p) {
    struct stat s;
    ::lstat((root + "/" + p).c_str(), &s);
    return s.st_mode & 07777;
  };
  EXPECT_EQ(mode("ro"), 0555u);
  EXPECT_EQ(mode("ro/f"), 0444u);
  EXPECT_EQ(mode("tmp"), 01777u);
  EXPECT_EQ(mode("suid"), 04755u);
  struct stat s;
  ASSERT_EQ(::stat((root + "/ro").c_str(), &s), 0);
  EXPECT_EQ(s.st_mtim.tv_sec, 1600000000);  // set after ro/f was created in it
  char v[64];
  std::string suid = root + "/suid";
  ssize_t n = ::lgetxattr(suid.c_str(), "user.note", v, sizeof v);
  if (n >= 0) {  // absent only where the file system has no user.* xattrs
    EXPECT_EQ(std::string(v, static_cast<size_t>(n)), "hello");
  }
  EXPECT_LT(::lgetxattr(suid.c_str(), "trusted.overlay.redirect", v, sizeof v), 0);
  if (as_root) {
    n = ::lgetxattr(suid.c_str(), "security.capability", v, sizeof v);
    ASSERT_EQ(n, 20);
    EXPECT_EQ(std::string(v, 20), cap);
  }
}

TEST(Unpack, OverlayWhiteoutsBecomeDevicesAndOpaqueXattrs) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod and trusted.* xattrs need root";
  TempDir t;
  std::string root = t.Sub("root");
  std::string tar = TarBuilder()
                        .Dir("a")
                        .File("a/keep", "1")
                        .File(".wh.gone", "")
                        .File("a/.wh.x", "")
                        .File("b/.wh..wh..opq", "")   // b has no entry of its own
                        .File("a/.wh..wh..plnk", "")  // aufs bookkeeping: ignored
                        .Finish();
  auto st = Unpack(tar, root);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(Type(root + "/gone"), "chr 0:0");
  EXPECT_EQ(Type(root + "/a/x"), "chr 0:0");
  EXPECT_EQ(Type(root + "/a/.wh..wh..plnk"), "missing");
  EXPECT_EQ(Type(root + "/.wh.gone"), "missing");
  char v[4];
  ssize_t n = ::getxattr((root + "/b").c_str(), "trusted.overlay.opaque", v, sizeof v);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_EQ(fs::ListDir(root + "/b")->size(), 0u);
}

TEST(Unpack, ApplyWhiteoutsDeleteAndOpaqueClearsOlderContent) {
  TempDir t;
  std::string root = t.Sub("root");
  std::string base = TarBuilder()
                         .Dir("a")
                         .File("a/old1", "1")
                         .Dir("a/sub")
                         .File("a/sub/deep", "2")
                         .Dir("b")
                         .File("b/z", "3")
                         .File("b/stays", "4")
                         .File("c", "5")
                         .Dir("d/sub")
                         .File("d/sub/old", "6")
                         .File("d/other", "7")
                         .Dir("e")
                         .File("e/old", "8")
                         .Finish();
  ASSERT_TRUE(Unpack(base, root, Whiteouts::kApply).ok());
  std::string layer = TarBuilder()
                          .File("a/.wh..wh..opq", "")
                          .File("a/new", "n")
                          .File(".wh.c", "")
                          .File("b/.wh.z", "")
                          .File("d/sub/new", "n")  // before the marker: still kept
                          .File("d/.wh..wh..opq", "")
                          .File(".wh.nonexistent", "")
                          .File("nope/.wh.x", "")
                          .File(".wh.e", "")
                          .File("e/fresh", "f")  // e re-created after its whiteout
                          .Finish();
  auto st = Unpack(layer, root, Whiteouts::kApply);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(*fs::ListDir(root + "/a"), std::vector<std::string>{"new"});
  EXPECT_EQ(Type(root + "/c"), "missing");
  EXPECT_EQ(*fs::ListDir(root + "/b"), std::vector<std::string>{"stays"});
  EXPECT_EQ(*fs::ListDir(root + "/d"), std::vector<std::string>{"sub"});
  EXPECT_EQ(*fs::ListDir(root + "/d/sub"), std::vector<std::string>{"new"});
  EXPECT_EQ(*fs::ListDir(root + "/e"), std::vector<std::string>{"fresh"});
  EXPECT_EQ(Type(root + "/nope"), "missing");
  EXPECT_EQ(Type(root + "/.wh.c"), "missing");
}

// GNU tar is the reference for what unpacking a tarball means.
TEST(Unpack, MatchesGnuTar) {
  if (Sh("tar --version").first != 0) GTEST_SKIP() << "no tar";
  TempDir t;
  std::string src = t.Sub("src");
  std::string script = fmt::format(
      "set -e; cd {}; mkdir -p usr/bin etc/ssl/certs 'sp ace' ro; echo hi > usr/bin/tool;"
      "chmod 4755 usr/bin/tool; ln usr/bin/tool usr/bin/tool2; ln -s ../bin/tool usr/tool;"
      "ln -s /nonexistent/abs dangling; printf 'x%.0s' $(seq 300) > etc/big;"
      "touch 'sp ace/f i le'; mkdir -p $(printf 'd%.0s' $(seq 120))/$(printf 'e%.0s' $(seq 120));"
      "touch $(printf 'd%.0s' $(seq 120))/$(printf 'e%.0s' $(seq 120))/long; echo r > ro/f;"
      "chmod 444 ro/f; chmod 555 ro; chmod 1777 etc/ssl; touch -h -d @1500000000 dangling;"
      "find . -exec touch -h -d @1600000000 {{}} +",
      src);
  ASSERT_EQ(Sh(script).first, 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(Sh("chown -h 123:456 " + src + "/usr/tool").first, 0);
  }
  std::string tgz = t / "x.tgz";
  ASSERT_EQ(Sh(fmt::format("tar -czf {} -C {} .", tgz, src)).first, 0);
  std::string theirs = t.Sub("theirs"), ours = t.Sub("ours");
  ASSERT_EQ(Sh(fmt::format("tar -xpzf {} -C {}", tgz, theirs)).first, 0);
  UniqueFd fd(::open(tgz.c_str(), O_RDONLY | O_CLOEXEC));
  FdReader in(fd.get(), tgz);
  auto st = UnpackLayer(in, ours);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->diff_id, Sha256Of(Sh("gzip -dc " + tgz).second));
  auto listing = [](const std::string& dir) {
    return Sh(fmt::format("cd {} && find . -printf '%p %y %m %U %G %s %l %Ts %n\\n' | sort", dir))
        .second;
  };
  EXPECT_EQ(listing(ours), listing(theirs));
  EXPECT_EQ(Sh(fmt::format("diff -r --no-dereference {} {}", theirs, ours)).first, 0);
  EXPECT_EQ(ListTree(ours), ListTree(theirs));
}

// Not a test: times unpacking $HUSK_BENCH_LAYER into a fresh directory under
// $HUSK_BENCH_DIR (default /tmp). Run with --gtest_also_run_disabled_tests.
TEST(Unpack, DISABLED_Benchmark) {
  const char* layer = ::getenv("HUSK_BENCH_LAYER");
  if (!layer) GTEST_SKIP() << "set HUSK_BENCH_LAYER";
  const char* base = ::getenv("HUSK_BENCH_DIR");
  std::string dir = fmt::format("{}/husk-bench-{}", base ? base : "/tmp", ::getpid());
  ASSERT_TRUE(fs::MkdirAll(dir).ok());
  UniqueFd fd(::open(layer, O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  FdReader in(fd.get(), layer);
  auto t0 = std::chrono::steady_clock::now();
  auto st = UnpackLayer(in, dir);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::printf("unpacked %lu entries, %lu tar bytes in %.3f s (%s)\n",
              static_cast<unsigned long>(st->entries), static_cast<unsigned long>(st->tar_bytes), s,
              st->diff_id.str().c_str());
  EXPECT_TRUE(fs::RemoveAll(dir).ok());
}

}  // namespace
}  // namespace husk::archive
