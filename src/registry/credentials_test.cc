#include "registry/credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "registry/auth.h"

namespace husk::registry {
namespace {

// A temp HOME and clean auth-related environment, restored afterwards.
class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/husk-creds-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* v : {"HOME", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "DOCKER_CONFIG",
                          "REGISTRY_AUTH_FILE", "PATH"}) {
      const char* old = getenv(v);
      saved_[v] = old ? std::optional<std::string>(old) : std::nullopt;
      if (std::string(v) != "PATH") unsetenv(v);
    }
    setenv("HOME", dir_.c_str(), 1);
    setenv("XDG_RUNTIME_DIR", (dir_ + "/run").c_str(), 1);
  }
  void TearDown() override {
    for (auto& [k, v] : saved_) {
      if (v) {
        setenv(k.c_str(), v->c_str(), 1);
      } else {
        unsetenv(k.c_str());
      }
    }
    (void)fs::RemoveAll(dir_);
  }
  void Write(const std::string& rel, const std::string& text, mode_t mode = 0600) {
    std::string p = dir_ + "/" + rel;
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/'))).ok());
    ASSERT_TRUE(fs::WriteFile(p, text, mode).ok());
  }
  static std::string Auth(const std::string& user, const std::string& pass) {
    return Base64Encode(user + ":" + pass);
  }

  std::string dir_;
  std::map<std::string, std::optional<std::string>> saved_;
};

TEST_F(CredentialsTest, SearchPathFollowsPodman) {
  auto p = AuthFileSearchPath();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], dir_ + "/run/containers/auth.json");
  EXPECT_EQ(p[1], dir_ + "/.config/containers/auth.json");
  EXPECT_EQ(p[2], dir_ + "/.docker/config.json");
  EXPECT_EQ(DefaultAuthFilePath(), dir_ + "/run/containers/auth.json");
  setenv("REGISTRY_AUTH_FILE", "/x/auth.json", 1);
  EXPECT_EQ(AuthFileSearchPath()[0], "/x/auth.json");
  EXPECT_EQ(DefaultAuthFilePath(), "/x/auth.json");
  unsetenv("REGISTRY_AUTH_FILE");
  unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(DefaultAuthFilePath(), "/run/containers/" + std::to_string(getuid()) + "/auth.json");
}

TEST_F(CredentialsTest, NormalizesKeys) {
  EXPECT_EQ(NormalizeAuthKey("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeAuthKey("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeAuthKey("http://h:5000/v2/"), "h:5000");
  EXPECT_EQ(NormalizeAuthKey("quay.io/org/"), "quay.io/org");
  EXPECT_EQ(NormalizeAuthKey("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST_F(CredentialsTest, LooksUpInOrder) {
  Write(".docker/config.json", R"({"auths":{"https://index.docker.io/v1/":{"auth":")" +
                                   Auth("hub", "hubpw") + R"("},"quay.io":{"auth":")" +
                                   Auth("dq", "x") + R"("}}})");
  Write(".config/containers/auth.json",
        R"({"auths":{"quay.io":{"auth":")" + Auth("cq", "secret:with:colons") + R"("}}})");
  auto c = LookupCredentials("docker.io");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "hub");
  EXPECT_EQ((*c)->password, "hubpw");

  // The podman file comes before docker's.
  c = LookupCredentials("quay.io");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->username, "cq");
  EXPECT_EQ((*c)->password, "secret:with:colons");

  // $XDG_RUNTIME_DIR's file comes first of all; REGISTRY_AUTH_FILE replaces it.
  Write("run/containers/auth.json",
        R"({"auths":{"quay.io":{"auth":")" + Auth("rq", "y") + R"("}}})");
  EXPECT_EQ((*LookupCredentials("quay.io"))->username, "rq");
  Write("other.json", R"({"auths":{}})");
  setenv("REGISTRY_AUTH_FILE", (dir_ + "/other.json").c_str(), 1);
  EXPECT_EQ((*LookupCredentials("quay.io"))->username, "cq");

  c = LookupCredentials("unknown.example");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->has_value());
}

TEST_F(CredentialsTest, RepositoryKeysAndIdentityTokens) {
  Write(".config/containers/auth.json", R"({"auths":{
      "quay.io":{"auth":")" + Auth("host", "1") +
                                            R"("},
      "quay.io/org":{"auth":")" + Auth("org", "2") +
                                            R"("},
      "ghcr.io":{"identitytoken":"refresh-me"},
      "empty.io":{}}})");
  EXPECT_EQ((*LookupCredentials("quay.io/org/app"))->username, "org");
  EXPECT_EQ((*LookupCredentials("quay.io/other/app"))->username, "host");
  EXPECT_EQ((*LookupCredentials("quay.io"))->username, "host");
  auto c = LookupCredentials("ghcr.io");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->identity_token, "refresh-me");
  EXPECT_TRUE((*c)->username.empty());
  EXPECT_FALSE(LookupCredentials("empty.io")->has_value());
}

TEST_F(CredentialsTest, BadFilesNameThemselves) {
  Write(".config/containers/auth.json", "{not json");
  auto c = LookupCredentials("quay.io");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), dir_ + "/.config/containers/auth.json: invalid JSON");
  Write(".config/containers/auth.json", R"({"auths":{"quay.io":{"auth":"!!!"}}})");
  c = LookupCredentials("quay.io");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("auths[\"quay.io\"]: auth"), std::string::npos)
      << c.error().message();
}

TEST_F(CredentialsTest, CredentialHelpers) {
  // A docker-credential-husktest on PATH that knows one server.
  Write("bin/docker-credential-husktest", R"(#!/bin/sh
[ "$1" = get ] || exit 1
read server
case "$server" in
  helped.example) echo '{"ServerURL":"helped.example","Username":"hu","Secret":"hs"}' ;;
  https://index.docker.io/v1/) echo '{"Username":"<token>","Secret":"idtok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
)",
        0755);
  setenv("PATH", (dir_ + "/bin:" + saved_["PATH"].value_or("/usr/bin:/bin")).c_str(), 1);
  Write(".docker/config.json", R"({"credHelpers":{"helped.example":"husktest"},
      "auths":{"https://index.docker.io/v1/":{}}, "credsStore":"husktest"})");
  auto c = LookupCredentials("helped.example");
  ASSERT_TRUE(c.ok()) << c.error().message();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "hu");
  EXPECT_EQ((*c)->password, "hs");
  // credsStore, asked with docker's name for docker.io; "<token>" is an identity token.
  c = LookupCredentials("docker.io");
  ASSERT_TRUE(c.ok() && c->has_value()) << (c.ok() ? "none" : c.error().message());
  EXPECT_EQ((*c)->identity_token, "idtok");
  c = LookupCredentials("nothing.example");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_FALSE(c->has_value());

  Write(".docker/config.json", R"({"credsStore":"missinghelper"})");
  c = LookupCredentials("x.example");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message().find("docker-credential-missinghelper"), std::string::npos)
      << c.error().message();
}

TEST_F(CredentialsTest, StoreAndRemoveKeepOtherEntries) {
  std::string path = dir_ + "/run/containers/auth.json";
  Write("run/containers/auth.json",
        R"({"auths":{"https://quay.io/v1/":{"auth":"b2xkOm9sZA=="},"other.io":{"auth":")" +
            Auth("o", "p") + R"("}},"credHelpers":{"x":"y"}})");
  ASSERT_TRUE(StoreCredentials(path, "quay.io", "new", "pw").ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto j = nlohmann::json::parse(*fs::ReadFile(path));
  EXPECT_EQ(j["auths"].size(), 2u);  // the old URL-keyed quay.io entry was replaced
  EXPECT_EQ(j["auths"]["quay.io"]["auth"], Auth("new", "pw"));
  EXPECT_EQ(j["credHelpers"]["x"], "y");
  EXPECT_EQ((*LookupCredentials("quay.io"))->username, "new");

  ASSERT_TRUE(RemoveCredentials(path, "quay.io").ok());
  EXPECT_FALSE(LookupCredentials("quay.io")->has_value());
  EXPECT_EQ((*LookupCredentials("other.io"))->username, "o");
  auto again = RemoveCredentials(path, "quay.io");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message(), path + ": not logged in to quay.io");

  // A fresh path: directories are made.
  std::string fresh = dir_ + "/new/dir/auth.json";
  ASSERT_TRUE(StoreCredentials(fresh, "127.0.0.1:5000", "u", "p").ok());
  EXPECT_EQ((*LookupCredentialsIn({fresh}, "127.0.0.1:5000"))->password, "p");
}

}  // namespace
}  // namespace husk::registry
