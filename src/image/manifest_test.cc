#include "image/manifest.h"

#include <gtest/gtest.h>

namespace husk::image {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');

std::string OciManifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kD1 + R"(","size":10},
    "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         kD2 + R"(","size":20}],"annotations":{"a":"b"}})";
}

TEST(Manifest, ParsesAndRoundTrips) {
  auto m = ParseManifest(OciManifest());
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->config.digest.str(), kD1);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 20);
  EXPECT_EQ(m->annotations.at("a"), "b");
  auto again = ParseManifest(ManifestJson(*m));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(ManifestJson(*again), ManifestJson(*m));
  EXPECT_EQ(*ClassifyManifest(OciManifest(), ""), DocKind::kManifest);
}

TEST(Manifest, ErrorsNameTheField) {
  auto no_size = ParseManifest(R"({"schemaVersion":2,"config":{"mediaType":"x","digest":")" + kD1 +
                               R"("},"layers":[]})");
  ASSERT_FALSE(no_size.ok());
  EXPECT_NE(no_size.error().message().find("config: \"size\""), std::string::npos);
  auto bad_digest = ParseManifest(
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]})");
  ASSERT_FALSE(bad_digest.ok());
  EXPECT_NE(bad_digest.error().message().find("sha256:zz"), std::string::npos);
  EXPECT_FALSE(ParseManifest("{not json").ok());
  auto s1 = ClassifyManifest(R"({"schemaVersion":1})", std::string(media::kDockerSchema1Signed));
  ASSERT_FALSE(s1.ok());
  EXPECT_NE(s1.error().message().find("schema 1"), std::string::npos);
  auto unknown = ClassifyManifest(R"({"mediaType":"application/x-foo"})", "");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("application/x-foo"), std::string::npos);
}

TEST(Manifest, IndexPlatformSelection) {
  std::string idx_json =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kD1 +
      R"(","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      kD2 + R"(","size":1,"platform":{"os":"linux","architecture":"amd64"}}]})";
  EXPECT_EQ(*ClassifyManifest(idx_json, ""), DocKind::kIndex);
  auto idx = ParseIndex(idx_json);
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(SelectPlatform(*idx, *ParsePlatform("linux/amd64"))->digest.str(), kD2);
  EXPECT_EQ(SelectPlatform(*idx, *ParsePlatform("linux/arm64"))->digest.str(), kD1);
  EXPECT_EQ(SelectPlatform(*idx, *ParsePlatform("linux/arm64/v8"))->digest.str(), kD1);
  auto none = SelectPlatform(*idx, *ParsePlatform("linux/s390x"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("linux/amd64"), std::string::npos);
  EXPECT_FALSE(ParsePlatform("linux").ok());
}

TEST(Manifest, ConfigAndChainIds) {
  auto c = ParseImageConfig(R"({"architecture":"amd64","os":"linux","config":{"Env":["A=1"],
    "Entrypoint":["/bin/sh"],"Cmd":["-c","true"],"WorkingDir":"/w","User":"65532",
    "ExposedPorts":{"80/tcp":{}},"Labels":{"k":"v"}},"rootfs":{"type":"layers","diff_ids":[")" +
                            kD1 + "\",\"" + kD2 + "\"]}}");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->config.entrypoint[0], "/bin/sh");
  EXPECT_EQ(c->config.exposed_ports[0], "80/tcp");
  EXPECT_EQ(c->config.labels.at("k"), "v");
  auto chain = ChainIds(c->diff_ids);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0].str(), kD1);
  EXPECT_EQ(chain[1], Sha256Of(kD1 + " " + kD2));
  EXPECT_FALSE(ParseImageConfig(R"({"config":{}})").ok());
}

TEST(Manifest, LayerMediaTypes) {
  EXPECT_EQ(*LayerCompressionOf(media::kDockerLayerGzip), LayerCompression::kGzip);
  EXPECT_EQ(*LayerCompressionOf(media::kOciLayerZstd), LayerCompression::kZstd);
  EXPECT_EQ(*LayerCompressionOf(media::kOciLayer), LayerCompression::kNone);
  auto bad = LayerCompressionOf("application/vnd.oci.image.layer.v1.tar+encrypted");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("+encrypted"), std::string::npos);
}

}  // namespace
}  // namespace husk::image
