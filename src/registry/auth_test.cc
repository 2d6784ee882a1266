#include "registry/auth.h"

#include <gtest/gtest.h>

namespace husk::registry {
namespace {

TEST(WwwAuthenticateTest, BearerWithQuotedCommas) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull,push")");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_EQ((*c)[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*c)[0].Param("service"), "registry.docker.io");
  EXPECT_EQ((*c)[0].Param("scope"), "repository:library/debian:pull,push");
}

TEST(WwwAuthenticateTest, BasicAndSpacingAndCase) {
  auto c = ParseWwwAuthenticate(R"(Basic   Realm = "husk test" )");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].Param("realm"), "husk test");
}

TEST(WwwAuthenticateTest, SeveralChallengesTokensAndEscapes) {
  auto c = ParseWwwAuthenticate(
      R"(Basic realm=simple, Bearer realm="a\"b", error="invalid_token", Negotiate abc==)");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].scheme, "basic");
  EXPECT_EQ((*c)[0].Param("realm"), "simple");
  EXPECT_EQ((*c)[1].scheme, "bearer");
  EXPECT_EQ((*c)[1].Param("realm"), "a\"b");
  EXPECT_EQ((*c)[1].Param("error"), "invalid_token");
  EXPECT_EQ((*c)[2].scheme, "negotiate");
}

TEST(WwwAuthenticateTest, Errors) {
  auto c = ParseWwwAuthenticate(R"(Bearer realm="unterminated)");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("unterminated"), std::string::npos);
  EXPECT_FALSE(ParseWwwAuthenticate("").ok());
  EXPECT_FALSE(ParseWwwAuthenticate("=x").ok());
}

TEST(Base64Test, RoundTrips) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(*Base64Decode(Base64Encode(all)), all);
  EXPECT_EQ(*Base64Decode("Zm9v"), "foo");
  EXPECT_EQ(*Base64Decode("Zm8="), "fo");
  EXPECT_EQ(*Base64Decode("Zg=="), "f");
  EXPECT_EQ(*Base64Decode("Zg"), "f");  // docker tolerates missing padding
}

TEST(Base64Test, RejectsJunk) {
  EXPECT_FALSE(Base64Decode("Zm9v!").ok());
  EXPECT_FALSE(Base64Decode("Zg==Zg").ok());
  EXPECT_FALSE(Base64Decode("Z").ok());
}

TEST(ScopeTest, Repository) {
  EXPECT_EQ(RepositoryScope("library/debian", false), "repository:library/debian:pull");
  EXPECT_EQ(RepositoryScope("a/b", true), "repository:a/b:pull,push");
}

}  // namespace
}  // namespace husk::registry
