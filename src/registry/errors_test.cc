#include "registry/errors.h"

#include <gtest/gtest.h>

namespace husk::registry {
namespace {

http::Response Resp(long status, std::string body,
                    std::string url = "https://r.example/v2/x/y/manifests/latest") {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.url = std::move(url);
  return r;
}

TEST(ErrorsTest, ParsesErrorBody) {
  auto e = ParseErrorBody(
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].code, "MANIFEST_UNKNOWN");
  EXPECT_EQ(e[0].message, "manifest unknown");
  EXPECT_TRUE(ParseErrorBody("<html>oops</html>").empty());
  EXPECT_TRUE(ParseErrorBody(R"({"errors":"no"})").empty());
  EXPECT_TRUE(ParseErrorBody("").empty());
}

TEST(ErrorsTest, NotFoundNamesTheObject) {
  auto e = ResponseError(
      "127.0.0.1:5000/x/y:latest", "GET",
      Resp(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})"));
  EXPECT_EQ(e.message(), "127.0.0.1:5000/x/y:latest: manifest unknown");
  e = ResponseError(
      "h/x/y:latest", "GET",
      Resp(
          404,
          R"({"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]})"));
  EXPECT_EQ(e.message(), "h/x/y:latest: name unknown: repository name not known to registry");
}

TEST(ErrorsTest, UnauthorizedCarriesStatus) {
  auto e = ResponseError(
      "h/x/y:latest", "GET",
      Resp(
          401,
          R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]})"));
  EXPECT_EQ(e.message(), "h/x/y:latest: unauthorized: authentication required (401)");
}

TEST(ErrorsTest, SeveralEntriesAndLongMessages) {
  std::string long_msg(1000, 'a');
  auto e = ResponseError(
      "h/r", "PUT",
      Resp(
          400,
          R"({"errors":[{"code":"DIGEST_INVALID","message":"x\ny"},{"code":"SIZE_INVALID","message":")" +
              long_msg + R"("}]})"));
  EXPECT_TRUE(e.message().starts_with("h/r: digest invalid: x y; size invalid: aaa"))
      << e.message();
  EXPECT_LT(e.message().size(), 400u);
  EXPECT_TRUE(e.message().ends_with("... (400)")) << e.message();
}

TEST(ErrorsTest, BareStatusNamesRequest) {
  auto e = ResponseError(
      "h/x/y@sha256:abc", "GET",
      Resp(500, "<html>boom</html>", "https://r.example/v2/x/y/blobs/sha256:abc?sig=secret"));
  EXPECT_EQ(e.message(),
            "GET https://r.example/v2/x/y/blobs/sha256:abc: 500 Internal Server Error");
  e = ResponseError("h", "GET", Resp(599, "", "http://h/v2/"));
  EXPECT_EQ(e.message(), "GET http://h/v2/: 599");
}

}  // namespace
}  // namespace husk::registry
