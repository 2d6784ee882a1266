// The client against a real registry: Debian's docker-registry (distribution 2.8),
// plain http, and htpasswd basic auth behind TLS. Skipped when it is not installed.
#include "registry/client.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "registry/test_registry.h"

namespace husk::registry {
namespace {

using testing::TestRegistry;

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A BlobReader over a string.
BlobReader Reader(const std::string& data) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos](char* buf, size_t n) -> Result<size_t> {
    size_t k = std::min(n, data.size() - *pos);
    std::memcpy(buf, data.data() + *pos, k);
    *pos += k;
    return k;
  };
}

BlobReader MustNotRead() {
  return [](char*, size_t) -> Result<size_t> { return Err("the blob was read"); };
}

Result<std::string> Fetch(Client& c, const std::string& repo, const Digest& d, uint64_t off = 0) {
  std::string got;
  TRY(c.GetBlob(repo, d, off, [&](const char* p, size_t n) {
    got.append(p, n);
    return Ok();
  }));
  return got;
}

std::string Manifest(const Digest& config, size_t config_size, const Digest& layer,
                     size_t layer_size) {
  return fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
      media::kOciManifest, config.str(), config_size, layer.str(), layer_size);
}

class RegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { registry_ = TestRegistry::Start(false, &why_).release(); }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    if (!registry_) GTEST_SKIP() << why_;
  }
  ClientOptions Options() {
    ClientOptions o;
    o.host = registry_->addr;
    o.retry_delay = std::chrono::milliseconds(1);
    return o;
  }
  // Pushes a config and a layer and a manifest tagged tag; returns the manifest.
  std::string PushImage(Client& c, const std::string& repo, const std::string& tag) {
    std::string config = R"({"architecture":"amd64","os":"linux"})";
    std::string layer = RandomBytes(3000, 7);
    Digest cd = Sha256Of(config), ld = Sha256Of(layer);
    EXPECT_TRUE(c.PushBlob(repo, cd, config.size(), Reader(config)).ok());
    EXPECT_TRUE(c.PushBlob(repo, ld, layer.size(), Reader(layer)).ok());
    std::string m = Manifest(cd, config.size(), ld, layer.size());
    auto st = c.PutManifest(repo, tag, media::kOciManifest, m);
    EXPECT_TRUE(st.ok()) << st.error().message();
    return m;
  }

  static TestRegistry* registry_;
  static std::string why_;
};
TestRegistry* RegistryTest::registry_ = nullptr;
std::string RegistryTest::why_;

TEST_F(RegistryTest, PingPlainHttpOnLoopback) {
  Client c(Options());
  EXPECT_EQ(c.base_url(), "http://" + registry_->addr);
  auto st = c.Ping();
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST_F(RegistryTest, MonolithicPushHeadAndGet) {
  Client c(Options());
  std::string blob = RandomBytes(200000, 1);
  Digest d = Sha256Of(blob);
  auto st = c.PushBlob("test/mono", d, blob.size(), Reader(blob));
  ASSERT_TRUE(st.ok()) << st.error().message();

  auto info = c.HeadBlob("test/mono", d);
  ASSERT_TRUE(info.ok()) << info.error().message();
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->size, blob.size());
  EXPECT_EQ((*info)->digest, d);

  auto all = Fetch(c, "test/mono", d);
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_TRUE(*all == blob);
  auto tail = Fetch(c, "test/mono", d, 123456);
  ASSERT_TRUE(tail.ok()) << tail.error().message();
  EXPECT_TRUE(*tail == blob.substr(123456));
  auto none = Fetch(c, "test/mono", d, blob.size());
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_TRUE(none->empty());

  // Present already: not read again.
  st = c.PushBlob("test/mono", d, blob.size(), MustNotRead());
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST_F(RegistryTest, ChunkedPushFromStreamAndFd) {
  ClientOptions o = Options();
  o.chunk_size = 1000;
  Client c(o);
  std::string blob = RandomBytes(5500, 2);
  Digest d = Sha256Of(blob);
  auto st = c.PushBlob("test/chunked", d, blob.size(), Reader(blob));
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto got = Fetch(c, "test/chunked", d);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_TRUE(*got == blob);

  std::string blob2 = RandomBytes(4321, 3);
  Digest d2 = Sha256Of(blob2);
  UniqueFd fd(memfd_create("blob", MFD_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::write(fd.get(), blob2.data(), blob2.size()), static_cast<ssize_t>(blob2.size()));
  st = c.PushBlobFromFd("test/chunked", d2, blob2.size(), fd.get());
  ASSERT_TRUE(st.ok()) << st.error().message();
  got = Fetch(c, "test/chunked", d2, 1);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_TRUE(*got == blob2.substr(1));
}

TEST_F(RegistryTest, WrongSizeOrDigestIsRefused) {
  Client c(Options());
  std::string blob = RandomBytes(100, 4);
  Digest wrong = Sha256Of("something else");
  auto st = c.PushBlob("test/bad", wrong, blob.size(), Reader(blob));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("test/bad@" + wrong.str()), std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("digest invalid"), std::string::npos) << st.error().message();
}

TEST_F(RegistryTest, ManifestByTagAndDigestAndTags) {
  Client c(Options());
  std::string m = PushImage(c, "test/image", "v1");
  Digest md = Sha256Of(m);

  auto byTag = c.GetManifest("test/image", "v1");
  ASSERT_TRUE(byTag.ok()) << byTag.error().message();
  EXPECT_EQ(byTag->bytes, m);
  EXPECT_EQ(byTag->media_type, media::kOciManifest);
  EXPECT_EQ(byTag->digest, md);

  auto byDigest = c.GetManifest("test/image", md.str());
  ASSERT_TRUE(byDigest.ok()) << byDigest.error().message();
  EXPECT_EQ(byDigest->bytes, m);

  auto head = c.HeadManifest("test/image", "v1");
  ASSERT_TRUE(head.ok()) << head.error().message();
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->digest, md);
  EXPECT_EQ((*head)->size, m.size());

  ASSERT_TRUE(c.PutManifest("test/image", "v2", media::kOciManifest, m).ok());
  auto tags = c.ListTags("test/image");
  ASSERT_TRUE(tags.ok()) << tags.error().message();
  EXPECT_EQ(*tags, (std::vector<std::string>{"v1", "v2"}));
}

TEST_F(RegistryTest, NotFoundNamesWhatWasAsked) {
  Client c(Options());
  PushImage(c, "test/exists", "v1");
  std::string host = registry_->addr;

  auto m = c.GetManifest("test/exists", "nope");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message(), host + "/test/exists:nope: manifest unknown");

  m = c.GetManifest("no/such-repo", "latest");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.error().message().starts_with(host + "/no/such-repo:latest: "))
      << m.error().message();
  EXPECT_NE(m.error().message().find("unknown"), std::string::npos) << m.error().message();

  Digest missing = Sha256Of("missing");
  auto head = c.HeadBlob("test/exists", missing);
  ASSERT_TRUE(head.ok()) << head.error().message();
  EXPECT_FALSE(head->has_value());
  auto hm = c.HeadManifest("test/exists", "nope");
  ASSERT_TRUE(hm.ok()) << hm.error().message();
  EXPECT_FALSE(hm->has_value());

  auto blob = Fetch(c, "test/exists", missing);
  ASSERT_FALSE(blob.ok());
  EXPECT_TRUE(
      blob.error().message().starts_with(host + "/test/exists@" + missing.str() + ": blob unknown"))
      << blob.error().message();
}

TEST_F(RegistryTest, CrossRepositoryMount) {
  Client c(Options());
  std::string blob = RandomBytes(5000, 5);
  Digest d = Sha256Of(blob);
  ASSERT_TRUE(c.PushBlob("test/mount-src", d, blob.size(), Reader(blob)).ok());
  // A mount must not read the data.
  auto st =
      c.PushBlob("test/mount-dst", d, blob.size(), MustNotRead(), std::string("test/mount-src"));
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto got = Fetch(c, "test/mount-dst", d);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_TRUE(*got == blob);

  // Nothing to mount from: falls back to an upload in the session the registry opened.
  std::string other = RandomBytes(700, 6);
  Digest od = Sha256Of(other);
  st = c.PushBlob("test/mount-dst", od, other.size(), Reader(other), std::string("test/empty"));
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(c.HeadBlob("test/mount-dst", od)->has_value());
}

TEST_F(RegistryTest, ConnectionRefusedIsOneLine) {
  ClientOptions o;
  o.host = "127.0.0.1:1";
  o.max_retries = 1;
  o.retry_delay = std::chrono::milliseconds(1);
  Client c(o);
  auto st = c.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "connect 127.0.0.1:1: Connection refused");
}

class AuthRegistryTest : public RegistryTest {
 protected:
  static void SetUpTestSuite() { registry_ = TestRegistry::Start(true, &why_).release(); }
  ClientOptions Options(std::optional<Credentials> creds) {
    ClientOptions o = RegistryTest::Options();
    o.tls = TlsMode::kRequire;
    o.ca_file = registry_->ca;
    o.creds = std::move(creds);
    return o;
  }
};

TEST_F(AuthRegistryTest, RightPasswordWorks) {
  Client c(Options(Credentials{testing::kRegistryUser, testing::kRegistryPass, ""}));
  EXPECT_EQ(c.base_url(), "https://" + registry_->addr);
  auto st = c.Ping();
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string m = PushImage(c, "secure/image", "v1");
  auto got = c.GetManifest("secure/image", "v1");
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(got->bytes, m);
}

TEST_F(AuthRegistryTest, WrongOrNoPasswordIs401) {
  Client wrong(Options(Credentials{testing::kRegistryUser, "wrong", ""}));
  auto st = wrong.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            registry_->addr + ": unauthorized: authentication required (401)");
  auto m = wrong.GetManifest("secure/image", "v1");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message(),
            registry_->addr + "/secure/image:v1: unauthorized: authentication required (401)");

  Client anonymous(Options(std::nullopt));
  st = anonymous.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("(401)"), std::string::npos) << st.error().message();
}

// On loopback, kAuto tries https first: a TLS registry is used over TLS, and a
// certificate that fails verification is an error, never a fall back to http.
TEST_F(AuthRegistryTest, LoopbackAutoPrefersTlsAndNeverDowngrades) {
  ClientOptions o = Options(Credentials{testing::kRegistryUser, testing::kRegistryPass, ""});
  o.tls = TlsMode::kAuto;
  Client trusted(o);
  EXPECT_EQ(trusted.base_url(), "https://" + registry_->addr);
  auto st = trusted.Ping();
  ASSERT_TRUE(st.ok()) << st.error().message();
  o.ca_file.clear();
  o.max_retries = 0;
  Client untrusted(o);
  EXPECT_EQ(untrusted.base_url(), "https://" + registry_->addr);
  st = untrusted.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("certificate"), std::string::npos) << st.error().message();
}

TEST_F(AuthRegistryTest, CertificateMustBeTrusted) {
  ClientOptions o = Options(Credentials{testing::kRegistryUser, testing::kRegistryPass, ""});
  o.ca_file.clear();
  o.max_retries = 0;
  Client untrusted(o);
  auto st = untrusted.Ping();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("certificate"), std::string::npos) << st.error().message();

  o.tls_verify = false;  // what an insecure registry with a self-signed certificate needs
  Client unverified(o);
  st = unverified.Ping();
  EXPECT_TRUE(st.ok()) << st.error().message();
}

}  // namespace
}  // namespace husk::registry
