#include "registry/http.h"

#include <gtest/gtest.h>

#include "registry/client.h"

namespace husk::registry {
namespace {

TEST(UrlTest, Parts) {
  EXPECT_EQ(http::UrlAuthority("https://h:5000/v2/x?y=z"), "h:5000");
  EXPECT_EQ(http::UrlAuthority("http://[::1]:5000"), "[::1]:5000");
  EXPECT_EQ(http::UrlScheme("HTTPS://h/"), "https");
  EXPECT_EQ(http::UrlForDisplay("https://s3/b?X-Amz-Signature=secret"), "https://s3/b");
}

TEST(UrlTest, ResolvesLocations) {
  std::string base = "https://r.example/v2/x/y/blobs/uploads/";
  EXPECT_EQ(http::ResolveUrl(base, "https://other/u?a=1"), "https://other/u?a=1");
  EXPECT_EQ(http::ResolveUrl(base, "/v2/x/y/blobs/uploads/abc?_state=s"),
            "https://r.example/v2/x/y/blobs/uploads/abc?_state=s");
  EXPECT_EQ(http::ResolveUrl(base, "//cdn.example/b"), "https://cdn.example/b");
  EXPECT_EQ(http::ResolveUrl(base, "abc"), "https://r.example/v2/x/y/blobs/uploads/abc");
  EXPECT_EQ(http::ResolveUrl("http://h:1/a/b?q=/x", "c"), "http://h:1/a/c");
}

TEST(UrlTest, AddsQueries) {
  EXPECT_EQ(http::AddQuery("http://h/u", "digest=d"), "http://h/u?digest=d");
  EXPECT_EQ(http::AddQuery("http://h/u?_state=s", "digest=d"), "http://h/u?_state=s&digest=d");
  EXPECT_EQ(http::AddQuery("http://h/u?", "digest=d"), "http://h/u?digest=d");
  EXPECT_EQ(http::Escape("sha256:ab/c d"), "sha256%3Aab%2Fc%20d");
}

TEST(LoopbackTest, Hosts) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1:5000"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("localhost:5000"));
  EXPECT_TRUE(IsLoopbackHost("LOCALHOST"));
  EXPECT_TRUE(IsLoopbackHost("[::1]:5000"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1:5000"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost("registry-1.docker.io"));
}

TEST(ClientTest, SchemeFollowsTlsMode) {
  ClientOptions o;
  o.host = "quay.io";
  EXPECT_EQ(Client(o).base_url(), "https://quay.io");
  // Insecure and loopback registries are probed: https stays unless the server
  // answers the TLS handshake as plain HTTP (here nothing answers at all).
  o.insecure = true;
  o.connect_timeout_s = 2;
  EXPECT_EQ(Client(o).base_url(), "https://quay.io");
  o.tls = TlsMode::kRequire;
  EXPECT_EQ(Client(o).base_url(), "https://quay.io");
  o = {};
  o.host = "localhost:1";
  EXPECT_EQ(Client(o).base_url(), "https://localhost:1");
  o.tls = TlsMode::kOff;
  EXPECT_EQ(Client(o).base_url(), "http://localhost:1");
  o.tls = TlsMode::kRequire;
  EXPECT_EQ(Client(o).base_url(), "https://localhost:1");
  o = {};
  o.host = "docker.io";
  Client hub(o);
  EXPECT_EQ(hub.base_url(), "https://registry-1.docker.io");
  EXPECT_EQ(hub.Name("library/debian", "12"), "docker.io/library/debian:12");
  EXPECT_EQ(hub.Name("library/debian", "sha256:ab"), "docker.io/library/debian@sha256:ab");
}

}  // namespace
}  // namespace husk::registry
