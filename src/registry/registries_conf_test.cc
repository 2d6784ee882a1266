#include "registry/registries_conf.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace husk::registry {
namespace {

constexpr char kConf[] = R"(
unqualified-search-registries = ["registry.fedoraproject.org", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
location = "docker.io"
[[registry.mirror]]
location = "mirror.local:5000/hub"
insecure = true
[[registry.mirror]]
location = "mirror2.example.com"

[[registry]]
prefix = "docker.io/library/busybox"
location = "internal.example.com/bb"

[[registry]]
location = "insecure.example.com:5000"
insecure = true

[[registry]]
prefix = "blocked.example.com/bad"
blocked = true

[[registry]]
prefix = "*.corp.example.com"
insecure = true
)";

RegistriesConf Parse(const char* text) {
  auto c = ParseRegistriesConf(text, "test.conf");
  EXPECT_TRUE(c.ok()) << c.error().message();
  return c.ok() ? *c : RegistriesConf{};
}

TEST(RegistriesConfTest, ParsesV2) {
  auto c = Parse(kConf);
  EXPECT_EQ(c.unqualified_search_registries,
            (std::vector<std::string>{"registry.fedoraproject.org", "docker.io"}));
  ASSERT_EQ(c.registries.size(), 5u);
  EXPECT_EQ(c.registries[0].mirrors.size(), 2u);
  EXPECT_TRUE(c.registries[0].mirrors[0].insecure);
  EXPECT_EQ(c.registries[2].prefix, "insecure.example.com:5000");  // defaults to location
  EXPECT_TRUE(c.registries[3].blocked);
  EXPECT_EQ(c.registries[3].location, "blocked.example.com/bad");
  EXPECT_EQ(c.registries[4].location, "");  // wildcards keep the name
}

TEST(RegistriesConfTest, LongestPrefixAtComponentBoundary) {
  auto c = Parse(kConf);
  EXPECT_EQ(c.Find("docker.io/library/busybox")->prefix, "docker.io/library/busybox");
  EXPECT_EQ(c.Find("docker.io/library/busyboxes")->prefix, "docker.io");
  EXPECT_EQ(c.Find("docker.io/library/debian")->prefix, "docker.io");
  EXPECT_EQ(c.Find("docker.iox/a"), nullptr);
  EXPECT_EQ(c.Find("quay.io/a/b"), nullptr);
  EXPECT_EQ(c.Find("a.corp.example.com/x")->prefix, "*.corp.example.com");
  EXPECT_EQ(c.Find("b.a.corp.example.com/x")->prefix, "*.corp.example.com");
  EXPECT_EQ(c.Find("corp.example.com/x"), nullptr);
}

TEST(RegistriesConfTest, Endpoints) {
  auto c = Parse(kConf);
  auto e = c.Endpoints("docker.io", "library/debian");
  ASSERT_TRUE(e.ok()) << e.error().message();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].host, "mirror.local:5000");
  EXPECT_EQ((*e)[0].repo, "hub/library/debian");
  EXPECT_TRUE((*e)[0].insecure);
  EXPECT_TRUE((*e)[0].mirror);
  EXPECT_EQ((*e)[1].host, "mirror2.example.com");
  EXPECT_FALSE((*e)[1].insecure);
  EXPECT_EQ((*e)[2].host, "docker.io");
  EXPECT_EQ((*e)[2].repo, "library/debian");
  EXPECT_FALSE((*e)[2].mirror);

  e = c.Endpoints("docker.io", "library/busybox");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].host, "internal.example.com");
  EXPECT_EQ((*e)[0].repo, "bb");

  e = c.Endpoints("x.corp.example.com", "team/app");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].host, "x.corp.example.com");
  EXPECT_EQ((*e)[0].repo, "team/app");
  EXPECT_TRUE((*e)[0].insecure);

  e = c.Endpoints("quay.io", "a/b");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].host, "quay.io");
  EXPECT_FALSE((*e)[0].insecure);

  e = c.Endpoints("blocked.example.com", "bad/thing");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(),
            "blocked.example.com/bad/thing: registry blocked.example.com/bad is blocked in "
            "registries.conf");
  EXPECT_TRUE(c.Endpoints("blocked.example.com", "good/thing").ok());
}

TEST(RegistriesConfTest, ErrorsNameFileLineColumn) {
  auto c = ParseRegistriesConf("a = [\n  \"x\",\n  oops\n]\n", "/etc/r.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.error().message().starts_with("/etc/r.conf:3:")) << c.error().message();

  c = ParseRegistriesConf("[[registry]]\nlocation = \"x\"\ninsecure = \"yes\"\n", "r.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), "r.conf:3:12: registry.insecure: want true or false");

  c = ParseRegistriesConf("unqualified-search-registries = \"docker.io\"\n", "r.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(),
            "r.conf:1:33: unqualified-search-registries: want an array of strings");

  c = ParseRegistriesConf("[[registry]]\nlocation = \"https://x\"\n", "r.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("URL schemes are not supported"), std::string::npos);

  c = ParseRegistriesConf("[[registry]]\ninsecure = true\n", "r.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), "r.conf:1:1: [[registry]] needs a location or a prefix");
}

TEST(RegistriesConfTest, Version1) {
  auto c = Parse(R"(
[registries.search]
registries = ["docker.io", "quay.io"]
[registries.insecure]
registries = ["localhost:5000"]
[registries.block]
registries = ["evil.example"]
)");
  EXPECT_EQ(c.unqualified_search_registries, (std::vector<std::string>{"docker.io", "quay.io"}));
  ASSERT_TRUE(c.Find("localhost:5000/x"));
  EXPECT_TRUE(c.Find("localhost:5000/x")->insecure);
  EXPECT_FALSE(c.Endpoints("evil.example", "x").ok());
  EXPECT_FALSE(
      ParseRegistriesConf("unqualified-search-registries=[]\n[registries.search]\n", "r").ok());
}

TEST(RegistriesConfTest, LaterFilesOverride) {
  char tmpl[] = "/tmp/husk-regconf-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(fs::WriteFile(dir + "/main.conf", kConf).ok());
  ASSERT_TRUE(fs::WriteFile(dir + "/10-more.conf", R"(
[[registry]]
prefix = "docker.io"
location = "hub-proxy.example.com"
[[registry]]
location = "new.example.com"
)")
                  .ok());
  auto c =
      LoadRegistriesConfFrom({dir + "/main.conf", dir + "/missing.conf", dir + "/10-more.conf"});
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->unqualified_search_registries.size(), 2u);  // not set again: kept
  ASSERT_EQ(c->registries.size(), 6u);
  auto e = c->Endpoints("docker.io", "library/debian");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);  // the whole rule was replaced, mirrors too
  EXPECT_EQ((*e)[0].host, "hub-proxy.example.com");

  ASSERT_TRUE(fs::WriteFile(dir + "/bad.conf", "x = = 1\n").ok());
  c = LoadRegistriesConfFrom({dir + "/main.conf", dir + "/bad.conf"});
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.error().message().starts_with(dir + "/bad.conf:1:")) << c.error().message();
  (void)fs::RemoveAll(dir);
}

}  // namespace
}  // namespace husk::registry
