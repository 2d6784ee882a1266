// The client against a scripted server: what a real registry will not do on
// demand (token servers, failures, cut transfers, redirects to storage).
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include <gtest/gtest.h>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/test_server.h"

namespace husk::registry {
namespace {

using testing::FakeRequest;
using testing::FakeResponse;
using testing::FakeServer;

std::string Blob(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7919) >> 3);
  return s;
}

ClientOptions Opts(const FakeServer& s) {
  ClientOptions o;
  o.host = s.addr();
  o.retry_delay = std::chrono::milliseconds(1);
  // The scripted server speaks plain HTTP and would take a TLS probe for a request.
  o.tls = TlsMode::kOff;
  return o;
}

FakeResponse Json(int status, std::string body) {
  return {status, {{"Content-Type", "application/json"}}, std::move(body)};
}

// Offset n of "Range: bytes=n-", or 0.
size_t RangeFrom(const FakeRequest& r) {
  std::string h = r.Header("range");
  return h.empty() ? 0 : std::stoul(h.substr(6));
}

TEST(FakeRegistryTest, BearerTokenIsFetchedOnceAndCached) {
  std::string manifest = R"({"schemaVersion":2})";
  std::string addr;
  FakeServer s([&](const FakeRequest& r) -> FakeResponse {
    if (r.Path() == "/token") {
      if (r.Header("authorization") != "Basic " + Base64Encode("u:p")) {
        return Json(401, R"({"details":"bad creds"})");
      }
      return Json(200, R"({"token":"tok-1","expires_in":300})");
    }
    if (r.Header("authorization") != "Bearer tok-1") {
      return {401,
              {{"WWW-Authenticate", "Bearer realm=\"http://" + addr +
                                        "/token\",service=\"fake\",scope=\"repository:x/y:pull\""}},
              R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
    }
    return {200, {{"Content-Type", media::kOciManifest}}, manifest};
  });
  addr = s.addr();
  ClientOptions o = Opts(s);
  o.creds = Credentials{"u", "p", ""};
  Client c(o);
  for (int i = 0; i < 3; ++i) {
    auto m = c.GetManifest("x/y", "latest");
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(m->bytes, manifest);
  }
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 5u);  // 401, token, ok, ok, ok
  EXPECT_EQ(reqs[1].target, "/token?service=fake&scope=repository%3Ax%2Fy%3Apull&account=u");

  // Wrong credentials: the token server's refusal names it.
  o.creds = Credentials{"u", "wrong", ""};
  Client bad(o);
  auto m = bad.GetManifest("x/y", "latest");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message(),
            s.addr() + ": token from http://" + s.addr() + "/token: bad creds (401)");
}

TEST(FakeRegistryTest, IdentityTokenUsesOAuthRefreshGrant) {
  std::string addr;
  FakeServer s([&](const FakeRequest& r) -> FakeResponse {
    if (r.Path() == "/token") {
      if (r.method != "POST" || r.body.find("grant_type=refresh_token") == std::string::npos ||
          r.body.find("refresh_token=rt-1") == std::string::npos) {
        return Json(400, "{}");
      }
      return Json(200, R"({"access_token":"acc","expires_in":60})");
    }
    if (r.Header("authorization") != "Bearer acc") {
      return {401,
              {{"WWW-Authenticate", "Bearer realm=\"http://" + addr + "/token\",service=\"f\""}},
              ""};
    }
    return {200, {}, ""};
  });
  addr = s.addr();
  ClientOptions o = Opts(s);
  o.creds = Credentials{"", "", "rt-1"};
  Client c(o);
  auto st = c.Ping();
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST(FakeRegistryTest, DownloadResumesWhereItWasCut) {
  std::string blob = Blob(300000);
  Digest d = Sha256Of(blob);
  std::atomic<int> n{0};
  FakeServer s([&](const FakeRequest& r) -> FakeResponse {
    size_t from = RangeFrom(r);
    int i = n++;
    FakeResponse resp;
    if (from) {
      resp.status = 206;
      resp.headers = {
          {"Content-Range", fmt::format("bytes {}-{}/{}", from, blob.size() - 1, blob.size())}};
    }
    resp.body = blob.substr(from);
    if (i < 2) resp.cut_after = 100000;  // two cuts, then the rest
    return resp;
  });
  Client c(Opts(s));
  std::string got;
  auto st = c.GetBlob("x/y", d, 0, [&](const char* p, size_t k) {
    got.append(p, k);
    return Ok();
  });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(got == blob);
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].Header("range"), "");
  EXPECT_EQ(reqs[1].Header("range"), "bytes=100000-");
  EXPECT_EQ(reqs[2].Header("range"), "bytes=200000-");
}

TEST(FakeRegistryTest, RangeIgnoredByServerIsSkippedLocally) {
  std::string blob = Blob(5000);
  FakeServer s([&](const FakeRequest&) { return FakeResponse{200, {}, blob}; });
  Client c(Opts(s));
  std::string got;
  auto st = c.GetBlob("x/y", Sha256Of(blob), 1234, [&](const char* p, size_t k) {
    got.append(p, k);
    return Ok();
  });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(got == blob.substr(1234));
  EXPECT_EQ(s.requests()[0].Header("range"), "bytes=1234-");
}

TEST(FakeRegistryTest, RedirectToStorageDropsAuthorization) {
  std::string blob = Blob(1000);
  FakeServer storage([&](const FakeRequest&) { return FakeResponse{200, {}, blob}; });
  FakeServer reg([&](const FakeRequest& r) -> FakeResponse {
    if (r.Header("authorization").empty()) {
      return {401, {{"WWW-Authenticate", "Basic realm=\"r\""}}, ""};
    }
    if (r.Path() == "/v2/x/y/blobs/local") return {200, {}, blob};
    return {307, {{"Location", "http://" + storage.addr() + "/bucket/blob?sig=abc"}}, ""};
  });
  ClientOptions o = Opts(reg);
  o.creds = Credentials{"u", "p", ""};
  Client c(o);
  std::string got;
  auto st = c.GetBlob("x/y", Sha256Of(blob), 0, [&](const char* p, size_t k) {
    got.append(p, k);
    return Ok();
  });
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(got == blob);
  auto sreqs = storage.requests();
  ASSERT_EQ(sreqs.size(), 1u);
  EXPECT_EQ(sreqs[0].target, "/bucket/blob?sig=abc");
  EXPECT_EQ(sreqs[0].Header("authorization"), "");
  EXPECT_EQ(reg.requests().back().Header("authorization"), "Basic " + Base64Encode("u:p"));
}

TEST(FakeRegistryTest, RetriesServerErrorsThenGivesUp) {
  std::atomic<int> n{0};
  FakeServer s([&](const FakeRequest&) -> FakeResponse {
    if (n++ < 2) return {n == 1 ? 503 : 429, {}, "busy"};
    return {200, {}, "{}"};
  });
  Client c(Opts(s));
  EXPECT_TRUE(c.Ping().ok());
  EXPECT_EQ(n.load(), 3);

  FakeServer down([](const FakeRequest&) { return FakeResponse{500, {}, "<html>oops</html>"}; });
  ClientOptions o = Opts(down);
  o.max_retries = 2;
  Client c2(o);
  Digest d = Sha256Of("x");
  auto st = c2.GetBlob("x/y", d, 0, [](const char*, size_t) { return Ok(); });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "GET http://" + down.addr() + "/v2/x/y/blobs/" + d.str() +
                                      ": 500 Internal Server Error");
  EXPECT_EQ(down.requests().size(), 3u);
}

TEST(FakeRegistryTest, ManifestDigestIsChecked) {
  std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})";
  Digest real = Sha256Of(body), other = Sha256Of("other");
  FakeServer s([&](const FakeRequest& r) -> FakeResponse {
    if (r.Path().ends_with("/lying")) return {200, {{"Docker-Content-Digest", other.str()}}, body};
    return {200, {}, body};  // no Content-Type: the body's mediaType is used
  });
  Client c(Opts(s));
  auto m = c.GetManifest("x/y", other.str());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message(), s.addr() + "/x/y@" + other.str() +
                                     ": digest mismatch: the registry sent content with digest " +
                                     real.str());
  m = c.GetManifest("x/y", "lying");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("digest mismatch: Docker-Content-Digest says"),
            std::string::npos);
  m = c.GetManifest("x/y", real.str());
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->media_type, media::kOciManifest);
  EXPECT_FALSE(c.GetManifest("x/y", "sha256:short").ok());
}

TEST(FakeRegistryTest, ManifestSizeIsCapped) {
  std::string huge(5 << 20, ' ');
  FakeServer s([&](const FakeRequest&) { return FakeResponse{200, {}, huge}; });
  Client c(Opts(s));
  auto m = c.GetManifest("x/y", "big");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().message(), s.addr() + "/x/y:big: manifest larger than 4 MiB");
}

// An upload server whose Location is relative with a query, and whose first
// upload session fails at the PUT.
struct UploadScript {
  std::atomic<int> puts{0};
  std::string received;
  FakeResponse operator()(const FakeRequest& r) {
    if (r.method == "HEAD") return {404, {}, ""};
    if (r.method == "POST") return {202, {{"Location", "/v2/x/y/blobs/uploads/u1?_state=s1"}}, ""};
    if (r.method == "PUT") {
      if (puts++ == 0) return {500, {}, ""};
      received = r.body;
      return {201, {}, ""};
    }
    return {400, {}, ""};
  }
};

TEST(FakeRegistryTest, UploadFromFdStartsOverAfterFailure) {
  UploadScript script;
  FakeServer s([&](const FakeRequest& r) { return script(r); });
  std::string blob = Blob(4000);
  Digest d = Sha256Of(blob);
  int fd = memfd_create("blob", MFD_CLOEXEC);
  ASSERT_EQ(::write(fd, blob.data(), blob.size()), static_cast<ssize_t>(blob.size()));
  Client c(Opts(s));
  auto st = c.PushBlobFromFd("x/y", d, blob.size(), fd);
  ::close(fd);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(script.received == blob);
  auto reqs = s.requests();
  EXPECT_EQ(reqs.back().target, "/v2/x/y/blobs/uploads/u1?_state=s1&digest=sha256%3A" + d.hex());
}

TEST(FakeRegistryTest, UploadFromStreamIsNotRetried) {
  UploadScript script;
  FakeServer s([&](const FakeRequest& r) { return script(r); });
  std::string blob = Blob(100);
  size_t pos = 0;
  Client c(Opts(s));
  auto st =
      c.PushBlob("x/y", Sha256Of(blob), blob.size(), [&](char* b, size_t n) -> Result<size_t> {
        size_t k = std::min(n, blob.size() - pos);
        std::memcpy(b, blob.data() + pos, k);
        pos += k;
        return k;
      });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "PUT http://" + s.addr() + "/v2/x/y/blobs/uploads/u1: 500 Internal Server Error");
  EXPECT_EQ(script.puts.load(), 1);
}

TEST(FakeRegistryTest, ReferrersApiAndOciSubject) {
  // A distribution-spec 1.1 registry: PUT of a manifest with a subject answers
  // OCI-Subject, and /referrers/<digest> lists (filtered by artifactType).
  Digest subject = Sha256Of("the image manifest");
  std::string index = R"({"schemaVersion":2,"manifests":[]})";
  FakeServer s([&](const FakeRequest& r) -> FakeResponse {
    if (r.method == "PUT" && r.Path() == "/v2/x/y/manifests/sha256:abc")
      return {201, {{"OCI-Subject", subject.str()}}, ""};
    if (r.method == "PUT") return {201, {}, ""};
    if (r.Path() == "/v2/x/y/referrers/" + subject.str()) {
      EXPECT_EQ(r.Header("accept"), "application/vnd.oci.image.index.v1+json");
      EXPECT_EQ(r.target,
                "/v2/x/y/referrers/" + subject.str() + "?artifactType=application%2Fspdx%2Bjson");
      return Json(200, index);
    }
    return Json(404, R"({"errors":[{"code":"NAME_UNKNOWN"}]})");
  });
  Client c(Opts(s));
  auto put = c.PutManifest("x/y", "sha256:abc", media::kOciManifest, "{}");
  ASSERT_TRUE(put.ok()) << put.error().message();
  EXPECT_EQ(put->oci_subject, subject.str());
  auto plain = c.PutManifest("x/y", "v1", media::kOciManifest, "{}");
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_EQ(plain->oci_subject, "");

  auto got = c.GetReferrers("x/y", subject, "application/spdx+json");
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, index);
  // A registry without the API answers 404: no index, not an error.
  auto none = c.GetReferrers("x/z", subject);
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace husk::registry
