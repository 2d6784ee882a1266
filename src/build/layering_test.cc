#include "build/layering.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "build/assemble.h"
#include "build/deb_test_util.h"
#include "build/image_writer.h"
#include "store/store.h"

namespace husk::build {
namespace {

using testutil::BuildDeb;
using testutil::DebSpec;
using testutil::TempDir;

// A libc-like package (the largest), a data package, an app that replaces
// one of libc's files, a tiny one, and one whose every file assembly drops.
DebSpec Libc() {
  DebSpec s;
  s.name = "libc";
  s.files["/lib/x86_64-linux-gnu/libc.so.6"] = {std::string(6000, 'c')};
  s.files["/etc/shared.conf"] = {"libc's\n"};
  s.files["/usr/share/doc/libc/copyright"] = {"License: LGPL-2.1+\n"};
  s.files["/usr/share/doc/libc/changelog.gz"] = {"dropped"};
  s.files["/usr/share/man/man1/ldd.1.gz"] = {"dropped"};
  s.dirs = {"/var/lib/shared", "/var/lib/libc-only"};
  return s;
}

DebSpec Data() {
  DebSpec s;
  s.name = "data";
  s.arch = "all";
  s.files["/usr/share/data/a.dat"] = {std::string(3000, 'd')};
  s.files["/etc/data.conf"] = {"chmodded by paths:\n"};
  s.symlinks["/usr/share/data/b.dat"] = "a.dat";
  s.dirs = {"/var/lib/shared"};
  return s;
}

DebSpec App() {
  DebSpec s;
  s.name = "app";
  s.files["/usr/bin/app"] = {"#!/bin/sh\necho app\n", 0755};
  s.files["/etc/shared.conf"] = {"app's\n"};
  return s;
}

DebSpec Tiny() {
  DebSpec s;
  s.name = "tiny";
  s.files["/bin/tiny"] = {"t", 0755};
  return s;
}

DebSpec DocsOnly() {
  DebSpec s;
  s.name = "docs-only";
  s.arch = "all";
  s.files["/usr/share/doc/docs-only/README"] = {"dropped"};
  return s;
}

constexpr char kSpec[] = R"(contents:
  repositories: [{url: "http://deb.debian.org/debian", suites: [bookworm]}]
paths:
  - {path: /etc/data.conf, type: permissions, permissions: 0o600}
  - {path: /etc/motd, type: file, content: "hi\n"}
layering: {strategy: by-package}
)";

// A tree as husk build makes it: packages extracted in order, their entries
// recorded, then assembled.
struct Tree {
  std::string root;
  PackageEntries recorded;
  BuildSpec spec;
};

Tree MakeTree(const TempDir& tmp, const std::string& name, const std::vector<DebSpec>& debs,
              const std::string& yaml = kSpec) {
  Tree t;
  t.root = tmp / name;
  auto spec = ParseBuildSpec(yaml, "t.yaml");
  EXPECT_TRUE(spec.ok()) << spec.error().message();
  t.spec = *spec;
  EXPECT_TRUE(PrepareRoot(t.root, "amd64").ok());
  std::vector<InstalledPackage> pkgs;
  for (const auto& d : debs) {
    InstalledPackage p;
    p.deb_path = tmp / (d.name + ".deb");
    if (!fs::Exists(p.deb_path)) {
      EXPECT_EQ(::rename(BuildDeb(tmp, d).c_str(), p.deb_path.c_str()), 0);
    }
    p.contents = *ReadDeb(p.deb_path);
    auto data = ExtractDebData(p.deb_path, t.root);
    EXPECT_TRUE(data.ok()) << data.error().message();
    p.files = data->files;
    p.landed = data->landed;
    pkgs.push_back(std::move(p));
  }
  auto rec = RecordPackageEntries(t.root, pkgs);
  EXPECT_TRUE(rec.ok()) << rec.error().message();
  t.recorded = std::move(*rec);
  auto st = AssembleTree(t.root, t.spec, pkgs);
  EXPECT_TRUE(st.ok()) << st.error().message();
  return t;
}

std::vector<TreeLayer> Plan(const Tree& t, int max_layers) {
  auto layers = PlanLayers(t.root, t.recorded, max_layers);
  EXPECT_TRUE(layers.ok()) << layers.error().message();
  return layers.ok() ? *layers : std::vector<TreeLayer>{};
}

bool Has(const TreeLayer& l, const std::string& rel) {
  return std::binary_search(l.paths.begin(), l.paths.end(), rel);
}

std::vector<std::string> Comments(const std::vector<TreeLayer>& layers) {
  std::vector<std::string> out;
  for (const auto& l : layers) out.push_back(l.comment);
  return out;
}

// Every entry of the tree, relative, with whether it is a directory.
std::map<std::string, bool> TreeEntries(const std::string& root) {
  std::map<std::string, bool> out;
  auto [rc, text] = testutil::Sh("cd '" + root + "' && find . -mindepth 1 -printf '%y %P\\n'");
  EXPECT_EQ(rc, 0);
  for (const auto& line : strings::Split(text, '\n'))
    if (line.size() > 2) out[line.substr(2)] = line[0] == 'd';
  return out;
}

class LayeringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
  }
  TempDir tmp_;
};

TEST_F(LayeringTest, EachPackageItsLayerGeneratedFilesLast) {
  Tree t = MakeTree(tmp_, "root", {Libc(), Data(), App(), Tiny(), DocsOnly()});
  auto layers = Plan(t, 8);
  // docs-only has nothing left after the docs are dropped: no layer.
  ASSERT_EQ(Comments(layers),
            (std::vector<std::string>{"libc 1.0-1", "data 1.0-1", "app 1.0-1", "tiny 1.0-1",
                                      "files written by husk build"}));
  const auto &libc = layers[0], &data = layers[1], &app = layers[2], &tiny = layers[3],
             &gen = layers[4];
  // Through usrmerge's links, with their parents; the links themselves are generated.
  EXPECT_TRUE(Has(libc, "usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(Has(libc, "usr/lib/x86_64-linux-gnu"));
  EXPECT_TRUE(Has(libc, "usr/lib"));
  EXPECT_TRUE(Has(libc, "usr"));
  EXPECT_TRUE(Has(tiny, "usr/bin/tiny"));
  EXPECT_FALSE(Has(tiny, "bin"));
  EXPECT_TRUE(Has(gen, "bin"));
  EXPECT_TRUE(Has(gen, "lib64"));
  // The later package's copy wins, and only it is in a layer.
  EXPECT_FALSE(Has(libc, "etc/shared.conf"));
  EXPECT_TRUE(Has(app, "etc/shared.conf"));
  // A directory two packages ship is in both layers; one only libc ships, in libc's.
  EXPECT_TRUE(Has(libc, "var/lib/shared"));
  EXPECT_TRUE(Has(data, "var/lib/shared"));
  EXPECT_TRUE(Has(libc, "var/lib/libc-only"));
  EXPECT_FALSE(Has(gen, "var/lib/libc-only"));
  // Kept copyright in the package's layer; what assembly dropped nowhere.
  EXPECT_TRUE(Has(libc, "usr/share/doc/libc/copyright"));
  for (const auto& l : layers) {
    EXPECT_FALSE(Has(l, "usr/share/doc/libc/changelog.gz")) << l.comment;
    EXPECT_FALSE(Has(l, "usr/share/man")) << l.comment;
    EXPECT_FALSE(Has(l, "usr/share/doc/docs-only")) << l.comment;
  }
  // A package file `paths:` changed, and what assembly wrote, are generated.
  EXPECT_TRUE(Has(data, "usr/share/data/a.dat"));
  EXPECT_TRUE(Has(data, "usr/share/data/b.dat"));
  EXPECT_FALSE(Has(data, "etc/data.conf"));
  for (const char* p : {"etc/data.conf", "etc/motd", "etc/passwd", "etc/group",
                        "var/lib/dpkg/status.d/libc", "var/lib/dpkg/status.d/app.md5sums", "tmp"})
    EXPECT_TRUE(Has(gen, p)) << p;
  EXPECT_FALSE(Has(gen, "usr/bin/app"));

  // Every non-directory of the tree in exactly one layer, every directory in
  // at least one, every layer's parents in it, nothing that is not in the tree.
  auto entries = TreeEntries(t.root);
  std::map<std::string, int> count;
  for (const auto& l : layers) {
    EXPECT_TRUE(std::is_sorted(l.paths.begin(), l.paths.end()));
    for (const auto& p : l.paths) {
      count[p]++;
      EXPECT_TRUE(entries.count(p)) << p << " in " << l.comment;
      if (p.rfind('/') != std::string::npos) {
        EXPECT_TRUE(Has(l, p.substr(0, p.rfind('/')))) << p << " in " << l.comment;
      }
    }
  }
  for (const auto& [p, dir] : entries) {
    if (dir) {
      EXPECT_GE(count[p], 1) << p;
    } else {
      EXPECT_EQ(count[p], 1) << p;
    }
  }
  // Package layers carry their own files' time, the generated layer the image's.
  for (size_t i = 0; i + 1 < layers.size(); i++) EXPECT_TRUE(layers[i].mtime) << i;
  EXPECT_FALSE(gen.mtime);
}

TEST_F(LayeringTest, OverBudgetTheLargestKeepTheirLayers) {
  Tree t = MakeTree(tmp_, "root", {Libc(), Data(), App(), Tiny(), DocsOnly()});
  EXPECT_EQ(Comments(Plan(t, 5)),
            (std::vector<std::string>{"libc 1.0-1", "data 1.0-1", "app 1.0-1", "tiny 1.0-1",
                                      "files written by husk build"}));
  EXPECT_EQ(Comments(Plan(t, 4)),
            (std::vector<std::string>{"libc 1.0-1", "data 1.0-1", "app 1.0-1, tiny 1.0-1",
                                      "files written by husk build"}));
  auto three = Plan(t, 3);
  EXPECT_EQ(Comments(three),
            (std::vector<std::string>{"libc 1.0-1", "data 1.0-1, app 1.0-1, tiny 1.0-1",
                                      "files written by husk build"}));
  ASSERT_EQ(three.size(), 3u);
  EXPECT_TRUE(Has(three[1], "usr/share/data/a.dat"));
  EXPECT_TRUE(Has(three[1], "usr/bin/tiny"));
  EXPECT_TRUE(Has(three[1], "etc/shared.conf"));
  EXPECT_EQ(Comments(Plan(t, 2)),
            (std::vector<std::string>{"libc 1.0-1, data 1.0-1, app 1.0-1, tiny 1.0-1",
                                      "files written by husk build"}));
  // One layer: the whole tree, as strategy single has it.
  auto one = Plan(t, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(one[0].paths.empty());
  EXPECT_FALSE(one[0].mtime);
  EXPECT_EQ(one[0].comment, "");
}

TEST_F(LayeringTest, NoPackagesIsOneLayer) {
  Tree t = MakeTree(tmp_, "root", {}, "layering: {strategy: by-package}\n");
  auto layers = Plan(t, 8);
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_TRUE(layers[0].paths.empty());
}

// The layers written and unpacked one on top of the other give the tree back.
class LayeredImageTest : public LayeringTest {
 protected:
  Result<WrittenImage> Write(const Tree& t, const std::string& store_dir,
                             const std::vector<TreeLayer>& layers) {
    auto st = TRY(store::Store::Open(tmp_ / store_dir));
    ImageWriteOptions o;
    o.name = "localhost/t:1";
    o.architecture = "amd64";
    o.epoch = 1700000000;
    return WriteImage(st, t.root, t.spec, o, layers);
  }

  std::vector<Digest> Blobs(const std::string& store_dir) {
    auto st = store::Store::Open(tmp_ / store_dir);
    EXPECT_TRUE(st.ok());
    auto img = st->Resolve("localhost/t:1");
    EXPECT_TRUE(img.ok()) << img.error().message();
    std::vector<Digest> out;
    for (const auto& l : img->manifest.layers) out.push_back(l.digest);
    return out;
  }
};

TEST_F(LayeredImageTest, MergedViewIsTheTreeAndDigestsAreStable) {
  Tree t = MakeTree(tmp_, "root", {Libc(), Data(), App(), Tiny(), DocsOnly()});
  auto layers = Plan(t, 8);
  auto w = Write(t, "s1", layers);
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(w->layers, 5);
  auto blobs = Blobs("s1");
  ASSERT_EQ(blobs.size(), 5u);

  auto st = store::Store::Open(tmp_ / "s1");
  ASSERT_TRUE(st.ok());
  std::string flat = tmp_ / "flat";
  ASSERT_TRUE(fs::MkdirAll(flat, 0755).ok());
  ASSERT_TRUE(st->FlattenInto(blobs, flat).ok());
  EXPECT_EQ(archive::testutil::ListTree(flat, false), archive::testutil::ListTree(t.root, false));
  auto img = st->Resolve("localhost/t:1");
  ASSERT_TRUE(img.ok());
  EXPECT_NE(img->config_bytes.find(R"("comment":"libc 1.0-1")"), std::string::npos);
  EXPECT_EQ(img->config.diff_ids.size(), 5u);

  // The same tree and plan in another store: the same digests.
  auto again = Write(t, "s2", Plan(t, 8));
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->manifest, w->manifest);

  // max-layers 1 is strategy single, byte for byte.
  auto one = Write(t, "s3", Plan(t, 1));
  auto single = Write(t, "s4", {TreeLayer{}});
  ASSERT_TRUE(one.ok() && single.ok());
  EXPECT_EQ(one->manifest, single->manifest);
  EXPECT_EQ(one->layers, 1);
}

TEST_F(LayeredImageTest, ImagesSharingAPackageShareItsLayer) {
  // Other packages beside it, other accounts: libc's layer is the same.
  Tree a = MakeTree(tmp_, "a", {Libc(), Tiny()}, "layering: {strategy: by-package}\n");
  Tree b = MakeTree(tmp_, "b", {Libc(), Data()},
                    "layering: {strategy: by-package}\n"
                    "accounts: {users: [{name: app, uid: 1000}], run-as: app}\n");
  ASSERT_TRUE(Write(a, "sa", Plan(a, 8)).ok());
  ASSERT_TRUE(Write(b, "sb", Plan(b, 8)).ok());
  auto la = Blobs("sa"), lb = Blobs("sb");
  ASSERT_EQ(la.size(), 3u);
  ASSERT_EQ(lb.size(), 3u);
  EXPECT_EQ(la[0], lb[0]);  // libc
  EXPECT_NE(la[1], lb[1]);  // tiny, data
  EXPECT_NE(la[2], lb[2]);  // the generated files differ
}

}  // namespace
}  // namespace husk::build
