#include "archive/tar_writer.h"

#include <gtest/gtest.h>

#include <set>

#include "archive/archive_file.h"
#include "archive/test_util.h"
#include "archive/unpack.h"
#include "base/strings.h"

namespace husk::archive {
namespace {

using testutil::ListTar;
using testutil::ListTree;
using testutil::Sh;
using testutil::TempDir;

void SetTimes(const std::string& path, time_t t) {
  timespec ts[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// A tree with every kind of entry a layer carries.
void MakeSampleTree(const std::string& root) {
  bool as_root = ::geteuid() == 0;
  std::string script = fmt::format(
      "set -e; cd {}; mkdir -p bin etc/ssl lib/deep/er tmp ro empty;"
      "printf '#!/bin/sh\\necho hi\\n' > bin/tool; chmod 4755 bin/tool;"
      "ln bin/tool bin/tool-a; ln bin/tool lib/tool-b; ln -s ../bin/tool lib/rel;"
      "ln -s /does/not/exist etc/dangling; : > etc/empty; chmod 600 etc/empty;"
      "head -c 3000000 /dev/urandom > lib/big; echo secret > ro/file; chmod 400 ro/file;"
      "chmod 1777 tmp; chmod 2755 lib/deep; mkfifo etc/fifo; printf 'caf\\351' > \"$(printf "
      "'caf\\351')\"; touch lib/deep/er/$(printf 'n%.0s' $(seq 150))",
      root);
  ASSERT_EQ(Sh(script).first, 0);
  ASSERT_EQ(::lsetxattr((root + "/etc/empty").c_str(), "user.comment", "a note", 6, 0), 0);
  ASSERT_EQ(::lsetxattr((root + "/lib").c_str(), "user.dir", "on a dir", 8, 0), 0);
  if (as_root) {
    ASSERT_EQ(::mknod((root + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(::lchown((root + "/bin/tool").c_str(), 1234, 5678), 0);
    ASSERT_EQ(::lchown((root + "/lib/rel").c_str(), 42, 43), 0);
    ASSERT_EQ(::chmod((root + "/bin/tool").c_str(), 04755), 0);  // chown cleared setuid
    std::string cap(
        "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    ASSERT_EQ(
        ::setxattr((root + "/bin/tool").c_str(), "security.capability", cap.data(), cap.size(), 0),
        0);
  }
  ASSERT_EQ(::chmod((root + "/ro").c_str(), 0555), 0);
  // Whole seconds: tar keeps nothing finer.
  auto all = Sh("cd " + root + " && find . -depth").second;
  time_t t = 1700000000;
  for (const auto& line : strings::Split(all, '\n'))
    if (!line.empty()) SetTimes(root + "/" + line, t++);
}

Result<LayerBlob> WriteLayer(const std::string& dir, const std::string& out,
                             LayerWriteOptions o = {}) {
  UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return ErrnoErr("open {}", out);
  return WriteLayerFromDir(dir, fd.get(), o);
}

Result<UnpackStats> UnpackFile(const std::string& path, const std::string& dir,
                               Whiteouts w = Whiteouts::kOverlay) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  FdReader in(fd.get(), path);
  UnpackOptions o;
  o.whiteouts = w;
  return UnpackLayer(in, dir, o);
}

TEST(TarWriter, RoundTripKeepsTheTree) {
  TempDir t;
  std::string src = t.Sub("src");
  MakeSampleTree(src);
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    SCOPED_TRACE(CompressionName(c));
    std::string blob_path = t / "layer";
    LayerWriteOptions o;
    o.compression = c;
    auto blob = WriteLayer(src, blob_path, o);
    ASSERT_TRUE(blob.ok()) << blob.error().message();
    EXPECT_EQ(blob->media_type, LayerMediaType(c));
    auto file_digest = Sha256File(blob_path);
    ASSERT_TRUE(file_digest.ok());
    EXPECT_EQ(blob->digest, *file_digest);
    struct stat st;
    ASSERT_EQ(::stat(blob_path.c_str(), &st), 0);
    EXPECT_EQ(blob->size, static_cast<uint64_t>(st.st_size));

    std::string dst = t.Sub(fmt::format("dst-{}", CompressionName(c)));
    auto stats = UnpackFile(blob_path, dst);
    ASSERT_TRUE(stats.ok()) << stats.error().message();
    EXPECT_EQ(stats->diff_id, blob->diff_id);
    EXPECT_EQ(stats->compression, c);
    // The target's own root is not in a layer; everything below it is.
    auto want = ListTree(src), got = ListTree(dst);
    EXPECT_EQ(got, want);
    struct stat a, b, d;
    ASSERT_EQ(::stat((dst + "/bin/tool").c_str(), &a), 0);
    ASSERT_EQ(::stat((dst + "/lib/tool-b").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_nlink, 3u);
    ASSERT_EQ(::stat((dst + "/ro").c_str(), &d), 0);
    EXPECT_EQ(d.st_mode & 07777, 0555u);
  }
}

TEST(TarWriter, DiffIdIsTheDigestOfGzipDecompressedOutput) {
  TempDir t;
  std::string src = t.Sub("src");
  MakeSampleTree(src);
  auto blob = WriteLayer(src, t / "layer.tgz");
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  auto [rc, tar] = Sh("gzip -dc " + (t / "layer.tgz"));
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(blob->diff_id, Sha256Of(tar));
  // GNU tar reads it, with no complaint.
  EXPECT_EQ(Sh("tar -tzf " + (t / "layer.tgz") + " >/dev/null 2>&1").first, 0);
  auto names = ListTar(tar);
  ASSERT_FALSE(names.empty());
  // Raw bytes, not valid UTF-8, survive as they are.
  EXPECT_NE(std::find(names.begin(), names.end(), "f caf\xe9"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "h bin/tool-a => bin/tool"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "h lib/tool-b => bin/tool"), names.end());
}

TEST(TarWriter, IncludeWritesOnlyTheEntriesItAccepts) {
  TempDir t;
  std::string src = t.Sub("src");
  MakeSampleTree(src);
  LayerWriteOptions o;
  o.compression = Compression::kNone;
  // lib/tool-b shares its inode with bin/tool, which this layer leaves out:
  // it carries the data itself instead of linking to a name the layer lacks.
  std::set<std::string> want = {"lib", "lib/tool-b", "lib/rel", "lib/deep", "lib/deep/er"};
  o.include = [&](const std::string& rel) { return want.count(rel) > 0; };
  auto blob = WriteLayer(src, t / "layer.tar", o);
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  EXPECT_EQ(ListTar(testutil::ReadAll(t / "layer.tar")),
            (std::vector<std::string>{"d lib/", "d lib/deep/", "d lib/deep/er/",
                                      "l lib/rel -> ../bin/tool", "f lib/tool-b"}));
  // Both names in: the second links to the first, as in a whole-tree layer.
  want = {"bin", "bin/tool", "lib", "lib/tool-b"};
  blob = WriteLayer(src, t / "layer2.tar", o);
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  EXPECT_EQ(
      ListTar(testutil::ReadAll(t / "layer2.tar")),
      (std::vector<std::string>{"d bin/", "f bin/tool", "d lib/", "h lib/tool-b => bin/tool"}));
}

TEST(TarWriter, SameTreeSameBytes) {
  TempDir t;
  std::string src = t.Sub("src");
  MakeSampleTree(src);
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    LayerWriteOptions o;
    o.compression = c;
    auto a = WriteLayer(src, t / "a", o);
    auto b = WriteLayer(src, t / "b", o);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->digest, b->digest);
    // A copy made in another order, with other inode numbers, writes the same layer.
    std::string copy = t.Sub(fmt::format("copy-{}", CompressionName(c)));
    ASSERT_TRUE(UnpackFile(t / "a", copy).ok());
    auto c2 = WriteLayer(copy, t / "c", o);
    ASSERT_TRUE(c2.ok());
    EXPECT_EQ(c2->digest, a->digest) << CompressionName(c);
    EXPECT_EQ(c2->diff_id, a->diff_id);
  }
}

TEST(TarWriter, SourceDateEpochSetsEveryMtime) {
  TempDir t;
  std::string src = t.Sub("src");
  MakeSampleTree(src);
  LayerWriteOptions o;
  o.mtime = 1234567890;
  auto blob = WriteLayer(src, t / "layer", o);
  ASSERT_TRUE(blob.ok());
  std::string dst = t.Sub("dst");
  ASSERT_TRUE(UnpackFile(t / "layer", dst).ok());
  auto out = Sh("cd " + dst + " && find . -mindepth 1 -printf '%Ts\\n' | sort -u").second;
  EXPECT_EQ(out, "1234567890\n");
}

TEST(TarWriter, OverlayWhiteoutsAreWrittenAsWhFiles) {
  if (::geteuid() != 0) GTEST_SKIP() << "mknod and trusted.* xattrs need root";
  TempDir t;
  std::string src = t.Sub("src");
  ASSERT_EQ(Sh("mkdir -p " + src + "/op/kept " + src + "/d").first, 0);
  ASSERT_EQ(::mknod((src + "/d/gone").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::setxattr((src + "/op").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  auto blob = WriteLayer(src, t / "layer.tar", LayerWriteOptions{Compression::kNone});
  ASSERT_TRUE(blob.ok()) << blob.error().message();
  auto names = ListTar(testutil::ReadAll(t / "layer.tar"));
  std::vector<std::string> want{"d d/", "f d/.wh.gone", "d op/", "f op/.wh..wh..opq", "d op/kept/"};
  EXPECT_EQ(names, want);
  // And back: unpacked for overlayfs, the same device and xattr.
  std::string dst = t.Sub("dst");
  ASSERT_TRUE(UnpackFile(t / "layer.tar", dst).ok());
  EXPECT_EQ(ListTree(dst, false), ListTree(src, false));
}

TEST(TarArchiveWriter, WritesMembersDeterministically) {
  TempDir t;
  ASSERT_TRUE(fs::WriteFile(t / "blob", std::string(100000, 'b')).ok());
  std::string out[2];
  for (int i = 0; i < 2; i++) {
    std::string path = t / fmt::format("out{}.tar", i);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    TarArchiveWriter w(fd.get());
    ASSERT_TRUE(w.AddDir("blobs/sha256").ok());
    ASSERT_TRUE(w.AddFileFromPath("blobs/sha256/abc", t / "blob").ok());
    ASSERT_TRUE(w.AddFile("index.json", "{}\n").ok());
    ASSERT_TRUE(w.AddSymlink("latest", "blobs/sha256/abc").ok());
    ASSERT_TRUE(w.Finish().ok());
    EXPECT_FALSE(w.AddFile("late", "").ok());
    out[i] = testutil::ReadAll(path);
  }
  EXPECT_TRUE(out[0] == out[1]);
  auto [rc, listing] = Sh("tar --numeric-owner --utc -tvf " + (t / "out0.tar"));
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(listing,
            "drwxr-xr-x 0/0               0 1970-01-01 00:00 blobs/sha256/\n"
            "-rw-r--r-- 0/0          100000 1970-01-01 00:00 blobs/sha256/abc\n"
            "-rw-r--r-- 0/0               3 1970-01-01 00:00 index.json\n"
            "lrwxrwxrwx 0/0               0 1970-01-01 00:00 latest -> blobs/sha256/abc\n");
  std::string dst = t.Sub("dst");
  auto st = ExtractArchive(t / "out0.tar", dst);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->entries, 4u);
  EXPECT_EQ(testutil::ReadAll(dst + "/latest"), std::string(100000, 'b'));
}

}  // namespace
}  // namespace husk::archive
