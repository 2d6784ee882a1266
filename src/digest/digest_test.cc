#include "digest/digest.h"

#include <gtest/gtest.h>

namespace husk {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(Sha256Of("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.bytes(), 3u);
  EXPECT_EQ(h.Final().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, ParseAcceptsOnlyWellFormedSha256) {
  auto ok =
      Digest::Parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->short_hex(), "e3b0c44298fc");
  EXPECT_FALSE(Digest::Parse("e3b0c442").ok());
  EXPECT_FALSE(
      Digest::Parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")
          .ok());
  EXPECT_FALSE(Digest::Parse("sha256:abc").ok());
  auto bad = Digest::Parse("md5:d41d8cd98f00b204e9800998ecf8427e");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("md5"), std::string::npos);
}

}  // namespace
}  // namespace husk
