#include "image/reference.h"

#include <gtest/gtest.h>

namespace husk::image {
namespace {

struct Case {
  const char* in;
  const char* full;
  const char* familiar;
};

TEST(Reference, NormalisesTheDockerWay) {
  const Case cases[] = {
      {"debian", "docker.io/library/debian:latest", "debian:latest"},
      {"debian:12", "docker.io/library/debian:12", "debian:12"},
      {"library/debian:12", "docker.io/library/debian:12", "debian:12"},
      {"docker.io/debian", "docker.io/library/debian:latest", "debian:latest"},
      {"index.docker.io/library/debian", "docker.io/library/debian:latest", "debian:latest"},
      {"bitnami/redis:7", "docker.io/bitnami/redis:7", "bitnami/redis:7"},
      {"127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y:tag"},
      {"localhost/app", "localhost/app:latest", "localhost/app:latest"},
      {"quay.io/a/b-c__d.e", "quay.io/a/b-c__d.e:latest", "quay.io/a/b-c__d.e:latest"},
      {"host:5000/x", "host:5000/x:latest", "host:5000/x:latest"},
  };
  for (auto& c : cases) {
    auto r = ParseReference(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message();
    EXPECT_EQ(r->String(), c.full) << c.in;
    EXPECT_EQ(r->Familiar(), c.familiar) << c.in;
  }
}

TEST(Reference, Digests) {
  const std::string d = "sha256:" + std::string(64, 'a');
  auto r = ParseReference("debian@" + d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->ManifestRef(), d);
  EXPECT_EQ(r->String(), "docker.io/library/debian@" + d);
  auto both = ParseReference("127.0.0.1:5000/x:1@" + d);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->tag, "1");
  EXPECT_EQ(both->ManifestRef(), d);
  EXPECT_EQ(r->ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(both->ApiHost(), "127.0.0.1:5000");
}

TEST(Reference, RejectsWithReason) {
  for (const char* bad :
       {"", "Debian", "debian:", "debian:-x", "a//b", "debian@sha256:12", "x/-y", "debian:a b"}) {
    auto r = ParseReference(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("invalid image name"), std::string::npos);
    }
  }
  EXPECT_NE(ParseReference("Debian").error().message().find("lowercase"), std::string::npos);
}

TEST(Reference, IdPrefixes) {
  EXPECT_TRUE(LooksLikeIdPrefix("3f2a1c"));
  EXPECT_TRUE(LooksLikeIdPrefix("sha256:" + std::string(64, 'b')));
  EXPECT_FALSE(LooksLikeIdPrefix("abc"));
  EXPECT_FALSE(LooksLikeIdPrefix("debian"));
}

}  // namespace
}  // namespace husk::image
