#include "engine/referrers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace husk::engine {
namespace {

image::Descriptor Subject() {
  image::Descriptor d;
  d.media_type = "application/vnd.oci.image.manifest.v1+json";
  d.digest = Sha256Of("manifest");
  d.size = 1234;
  d.annotations["ignored"] = "only mediaType, digest and size go into subject";
  return d;
}

TEST(ReferrersTest, ArtifactManifestHasSubjectEmptyConfigAndOneBlob) {
  Artifact a;
  a.artifact_type = "application/spdx+json";
  a.data = R"({"spdxVersion":"SPDX-2.3"})";
  a.annotations["org.opencontainers.image.created"] = "2024-01-01T00:00:00Z";
  auto j = nlohmann::json::parse(ArtifactManifestJson(a, Subject()));
  EXPECT_EQ(j["schemaVersion"], 2);
  EXPECT_EQ(j["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(j["artifactType"], "application/spdx+json");
  EXPECT_EQ(j["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
  // sha256 of "{}", the empty descriptor's digest in image-spec 1.1.
  EXPECT_EQ(j["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(j["config"]["size"], 2);
  ASSERT_EQ(j["layers"].size(), 1u);
  EXPECT_EQ(j["layers"][0]["mediaType"], "application/spdx+json");
  EXPECT_EQ(j["layers"][0]["digest"], Sha256Of(a.data).str());
  EXPECT_EQ(j["layers"][0]["size"], a.data.size());
  EXPECT_EQ(j["subject"]["digest"], Subject().digest.str());
  EXPECT_EQ(j["subject"]["size"], 1234);
  EXPECT_FALSE(j["subject"].contains("annotations"));
  EXPECT_EQ(j["annotations"]["org.opencontainers.image.created"], "2024-01-01T00:00:00Z");
  // The same input, the same bytes (pushing again must not make a new artifact).
  EXPECT_EQ(ArtifactManifestJson(a, Subject()), ArtifactManifestJson(a, Subject()));
}

TEST(ReferrersTest, TagSchemaNamesTheSubjectDigest) {
  Digest d = Sha256Of("x");
  EXPECT_EQ(ReferrersTag(d), "sha256-" + d.hex());
}

}  // namespace
}  // namespace husk::engine
