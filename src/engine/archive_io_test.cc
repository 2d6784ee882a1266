#include "engine/archive_io.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "archive/compress.h"
#include "archive/test_util.h"
#include "base/fs.h"

namespace husk::engine {
namespace {

using archive::testutil::ListTar;
using archive::testutil::ReadAll;
using archive::testutil::TarBuilder;
using archive::testutil::TempDir;

TEST(DockerManifestJson, DockerForm) {
  std::vector<DockerArchiveEntry> e{{"abc.json", {"busybox:latest", "x/y:1"}, {"d1/layer.tar"}},
                                    {"def.json", {}, {}}};
  EXPECT_EQ(DockerManifestJson(e),
            R"([{"Config":"abc.json","RepoTags":["busybox:latest","x/y:1"],)"
            R"("Layers":["d1/layer.tar"]},{"Config":"def.json","RepoTags":null,"Layers":[]}])"
            "\n");
  auto back = ParseDockerManifestJson(DockerManifestJson(e));
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].repo_tags, e[0].repo_tags);
  EXPECT_EQ((*back)[0].layers, e[0].layers);
  EXPECT_TRUE((*back)[1].repo_tags.empty());
}

TEST(DockerManifestJson, RefusesMembersOutside) {
  for (auto bad : {R"([{"Config":"../x.json","Layers":[]}])",
                   R"([{"Config":"c.json","Layers":["/etc/passwd"]}])",
                   R"([{"Config":"c.json","Layers":["a/../../b"]}])"}) {
    auto r = ParseDockerManifestJson(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("manifest.json[0]"), std::string::npos);
  }
  auto ok = ParseDockerManifestJson(R"([{"Config":"./c.json","Layers":["a/./b/../l.tar"]}])");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)[0].config, "c.json");
  EXPECT_EQ((*ok)[0].layers[0], "a/l.tar");
}

TEST(LayoutEntryName, Rules) {
  Digest id = Sha256Of("config");
  std::string fallback = "localhost/" + id.short_hex();
  image::Descriptor d;
  EXPECT_EQ(LayoutEntryName(d, id), fallback + ":latest");
  d.annotations["org.opencontainers.image.ref.name"] = "1.0";
  EXPECT_EQ(LayoutEntryName(d, id), fallback + ":1.0");
  d.annotations["org.opencontainers.image.ref.name"] = "busybox:1";
  EXPECT_EQ(LayoutEntryName(d, id), "docker.io/library/busybox:1");
  d.annotations["org.opencontainers.image.ref.name"] = "Not A Name";
  EXPECT_EQ(LayoutEntryName(d, id), fallback + ":latest");
  d.annotations["io.containerd.image.name"] = "localhost/husk-busybox:latest";
  EXPECT_EQ(LayoutEntryName(d, id), "localhost/husk-busybox:latest");
}

// A store holding one small image: a gzip layer with one file.
class ArchiveIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(tmp_ / "store");
    ASSERT_TRUE(s.ok()) << s.error().message();
    src_ = std::make_unique<store::Store>(std::move(*s));
    std::string tar = TarBuilder().Dir("etc").File("etc/hello", "hello world\n").Finish();
    archive::StringWriter gz;
    auto w = archive::NewCompressWriter(archive::Compression::kGzip, gz);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(tar.data(), tar.size()).ok());
    ASSERT_TRUE((*w)->Finish().ok());
    diff_id_ = Sha256Of(tar);
    auto layer = src_->PutBlob(gz.str());
    ASSERT_TRUE(layer.ok());
    std::string config =
        fmt::format(R"({{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},)"
                    R"("rootfs":{{"type":"layers","diff_ids":["{}"]}}}})",
                    diff_id_.str());
    id_ = *src_->PutBlob(config);
    image::Manifest m;
    m.media_type = std::string(image::media::kOciManifest);
    m.config = {std::string(image::media::kOciConfig), id_, static_cast<int64_t>(config.size())};
    m.layers.push_back(
        {std::string(image::media::kOciLayerGzip), *layer, static_cast<int64_t>(gz.str().size())});
    manifest_ = *src_->PutBlob(image::ManifestJson(m));
    ASSERT_TRUE(src_->PutImage({kName, manifest_, m.media_type, ""}).ok());
  }

  std::unique_ptr<store::Store> NewStore(const std::string& name) {
    auto s = store::Store::Open(tmp_ / name);
    EXPECT_TRUE(s.ok());
    return std::make_unique<store::Store>(std::move(*s));
  }

  static constexpr const char* kName = "localhost/test/img:1";
  TempDir tmp_;
  std::unique_ptr<store::Store> src_;
  Digest diff_id_, id_, manifest_;
};

TEST_F(ArchiveIoTest, OciArchiveRoundTripKeepsDigests) {
  auto out = tmp_ / "img.tar";
  auto s = SaveArchive(*src_, {kName}, ArchiveFormat::kOciArchive, out);
  ASSERT_TRUE(s.ok()) << s.error().message();
  auto members = ListTar(ReadAll(out));
  EXPECT_EQ(members.front(), "d blobs/");
  EXPECT_EQ(members[members.size() - 2], "f index.json");
  EXPECT_EQ(members.back(), "f oci-layout");
  EXPECT_EQ(members.size(), 2u + 3u + 2u);
  // No temp file is left beside it.
  EXPECT_EQ(fs::ListDir(tmp_.path())->size(), 2u);

  auto dst = NewStore("dst");
  auto loaded = LoadArchive(*dst, out);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].name, kName);
  EXPECT_EQ((*loaded)[0].manifest, manifest_);
  EXPECT_EQ((*loaded)[0].id, id_);
  auto img = dst->Resolve(kName);
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_TRUE(dst->FindLayer(diff_id_).has_value());
  // The scratch directory is gone.
  EXPECT_TRUE(fs::ListDir(dst->root() + "/tmp")->empty());
}

TEST_F(ArchiveIoTest, SaveIsDeterministic) {
  ASSERT_TRUE(SaveArchive(*src_, {kName}, ArchiveFormat::kDockerArchive, tmp_ / "a.tar").ok());
  ASSERT_TRUE(SaveArchive(*src_, {kName}, ArchiveFormat::kDockerArchive, tmp_ / "b.tar").ok());
  EXPECT_EQ(ReadAll(tmp_ / "a.tar"), ReadAll(tmp_ / "b.tar"));
}

TEST_F(ArchiveIoTest, DockerArchiveHasUncompressedLayersAndKeepsTheId) {
  auto out = tmp_ / "docker.tar";
  auto s = SaveArchive(*src_, {kName, id_.hex()}, ArchiveFormat::kDockerArchive, out);
  ASSERT_TRUE(s.ok()) << s.error().message();
  auto x = tmp_.Sub("x");
  ASSERT_EQ(archive::testutil::Sh("tar -C " + x + " -xf " + out).first, 0);
  EXPECT_EQ(ReadAll(x + "/" + id_.hex() + ".json"), *src_->ReadBlob(id_));
  EXPECT_EQ(Sha256Of(ReadAll(x + "/" + diff_id_.hex() + "/layer.tar")), diff_id_);
  auto entries = ParseDockerManifestJson(ReadAll(x + "/manifest.json"));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);  // the image named twice is one entry
  EXPECT_EQ((*entries)[0].repo_tags, std::vector<std::string>{"localhost/test/img:1"});
  EXPECT_EQ(ReadAll(x + "/repositories"),
            fmt::format("{{\"localhost/test/img\":{{\"1\":\"{}\"}}}}\n", diff_id_.hex()));

  auto dst = NewStore("dst");
  auto loaded = LoadArchive(*dst, out);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].id, id_);
  auto img = dst->Resolve(kName);
  ASSERT_TRUE(img.ok()) << img.error().message();
  EXPECT_EQ(img->manifest.media_type, image::media::kDockerManifest);
  ASSERT_EQ(img->manifest.layers.size(), 1u);
  EXPECT_EQ(img->manifest.layers[0].media_type, "application/vnd.docker.image.rootfs.diff.tar");
  EXPECT_EQ(img->manifest.layers[0].digest, diff_id_);
  EXPECT_TRUE(dst->FindLayer(diff_id_).has_value());
}

TEST_F(ArchiveIoTest, TamperedLayoutIsRefusedWithoutRecords) {
  auto dir = tmp_ / "layout";
  auto s = ExportLayout(*src_, kName, dir);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(ReadAll(dir + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  auto layer = src_->Resolve(kName)->manifest.layers[0].digest;
  auto blob = dir + "/blobs/sha256/" + layer.hex();
  // Same size, other content: only the digest can tell.
  std::string data = ReadAll(blob);
  data[data.size() - 1] ^= 1;
  ASSERT_TRUE(fs::WriteFile(blob, data).ok());

  auto dst = NewStore("dst");
  auto r = ImportLayout(*dst, dir, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("blob " + layer.str() + ": content does not match"),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(dst->ListImages()->empty());
  // The source store has the blob: the damaged file is still reported.
  auto again = ImportLayout(*src_, dir, "localhost/other:1");
  ASSERT_FALSE(again.ok());
  EXPECT_FALSE(src_->FindImage("localhost/other:1")->has_value());
}

TEST_F(ArchiveIoTest, ExportWantsAnEmptyDirAndImportTakesAName) {
  auto dir = tmp_.Sub("full");
  ASSERT_TRUE(fs::WriteFile(dir + "/x", "x").ok());
  auto s = ExportLayout(*src_, kName, dir);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("is not empty"), std::string::npos);

  auto empty = tmp_.Sub("empty");
  ASSERT_TRUE(ExportLayout(*src_, kName, empty).ok());
  auto dst = NewStore("dst");
  auto r = ImportLayout(*dst, empty, "renamed:2");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ((*r)[0].name, "docker.io/library/renamed:2");
  EXPECT_EQ((*r)[0].manifest, manifest_);
}

TEST_F(ArchiveIoTest, EscapingMemberIsRefused) {
  auto out = tmp_ / "evil.tar";
  ASSERT_TRUE(fs::WriteFile(out, TarBuilder().File("../x", "x").Finish()).ok());
  auto dst = NewStore("dst");
  auto r = LoadArchive(*dst, out);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("escapes"), std::string::npos) << r.error().message();
  EXPECT_FALSE(fs::Exists(tmp_ / "x"));
  EXPECT_FALSE(fs::Exists(dst->root() + "/tmp/x"));
}

}  // namespace
}  // namespace husk::engine
