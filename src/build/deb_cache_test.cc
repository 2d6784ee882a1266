#include "build/deb_cache.h"

#include <stdlib.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "digest/digest.h"

namespace husk::build {
namespace {

using ::testing::HasSubstr;

// FetchDebs over file:// URLs: the cache's own behaviour without a server
// (apt_repo_test.cc fetches a solution's .debs over HTTP).
class DebCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/husk-deb-cache-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(fs::MkdirAll(Mirror()).ok());
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }
  std::string Mirror() const { return dir_ + "/mirror"; }
  std::string Cache() const { return DebCacheDir(dir_ + "/store"); }

  // A "package" on the mirror, described as an index would describe it.
  DebSource Put(const std::string& name, const std::string& content) {
    std::string path = Mirror() + "/" + name + ".deb";
    EXPECT_TRUE(fs::WriteFile(path, content).ok());
    return DebSource{"file://" + path, Sha256Of(content).hex(), content.size(),
                     name + " 1.0 amd64"};
  }

  std::string dir_;
};

TEST_F(DebCacheTest, DownloadsVerifiesAndCaches) {
  std::vector<DebSource> src;
  for (int i = 0; i < 9; i++)
    src.push_back(Put("p" + std::to_string(i), std::string(1000 + i * 4096, 'a' + i)));
  size_t downloaded = 0, cached = 0, last_done = 0;
  DebFetchOptions o;
  o.jobs = 3;
  o.progress = [&](const DebFetchEvent& e) {
    (e.cached ? cached : downloaded)++;
    EXPECT_EQ(e.total, src.size());
    EXPECT_EQ(e.done, last_done + 1);
    EXPECT_EQ(e.source, &src[e.index]);
    last_done = e.done;
  };
  auto paths = FetchDebs(src, Cache(), o);
  ASSERT_TRUE(paths.ok()) << paths.error().message();
  ASSERT_EQ(paths->size(), src.size());
  for (size_t i = 0; i < src.size(); i++) {
    EXPECT_EQ((*paths)[i], Cache() + "/" + src[i].sha256 + ".deb");
    EXPECT_EQ(Sha256File((*paths)[i])->hex(), src[i].sha256);
  }
  EXPECT_EQ(downloaded, src.size());
  EXPECT_EQ(cached, 0u);

  // Warm: nothing is read from the mirror, even with the mirror gone.
  ASSERT_TRUE(fs::RemoveAll(Mirror()).ok());
  downloaded = cached = last_done = 0;
  auto again = FetchDebs(src, Cache(), o);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(*again, *paths);
  EXPECT_EQ(downloaded, 0u);
  EXPECT_EQ(cached, src.size());
}

TEST_F(DebCacheTest, ATamperedDebNeverGetsItsName) {
  DebSource good = Put("good", "good package");
  DebSource bad = Put("bad", "original bytes");
  // The mirror now serves other bytes of the same size.
  ASSERT_TRUE(fs::WriteFile(Mirror() + "/bad.deb", "tampered bytes").ok());
  auto r = FetchDebs({good, bad}, Cache(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(),
              HasSubstr(bad.url + ": SHA256 mismatch (got " + Sha256Of("tampered bytes").hex() +
                        ", the index says " + bad.sha256));
  EXPECT_FALSE(fs::Exists(Cache() + "/" + bad.sha256 + ".deb"));
  // Only the verified package is there: no partial download is left behind.
  EXPECT_EQ(*fs::ListDir(Cache()), std::vector<std::string>{good.sha256 + ".deb"});

  // Longer than the index says: cut off, same outcome.
  ASSERT_TRUE(fs::WriteFile(Mirror() + "/bad.deb", "original bytes and more").ok());
  r = FetchDebs({bad}, Cache(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr(bad.url + ": larger than the 14 bytes"));
  EXPECT_EQ(fs::ListDir(Cache())->size(), 1u);
}

TEST_F(DebCacheTest, ErrorsNameThePackageOrUrl) {
  DebSource missing{"file://" + Mirror() + "/missing.deb", std::string(64, 'a'), 1,
                    "missing 1 all"};
  auto r = FetchDebs({missing}, Cache(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "fetch " + missing.url + ": No such file or directory");

  DebSource unhashed = Put("x", "x");
  unhashed.sha256.clear();
  r = FetchDebs({unhashed}, Cache(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "x 1.0 amd64: the index gives no SHA256 for it");

  DebSource refused{"http://127.0.0.1:1/pool/a.deb", std::string(64, 'b'), 1, "a 1 all"};
  r = FetchDebs({refused}, Cache(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "fetch http://127.0.0.1:1/pool/a.deb: Connection refused");
}

TEST_F(DebCacheTest, ACorruptCachedFileIsFetchedAgain) {
  DebSource s = Put("p", "package bytes");
  ASSERT_TRUE(fs::MkdirAll(Cache()).ok());
  // Wrong size under the final name (say, a disk that filled up).
  ASSERT_TRUE(fs::WriteFile(Cache() + "/" + s.sha256 + ".deb", "pack").ok());
  bool was_cached = true;
  DebFetchOptions o;
  o.progress = [&](const DebFetchEvent& e) { was_cached = e.cached; };
  auto r = FetchDebs({s, s}, Cache(), o);  // listed twice, fetched once
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(was_cached);
  EXPECT_EQ((*r)[0], (*r)[1]);
  EXPECT_EQ(*fs::ReadFile((*r)[0]), "package bytes");

  // Damaged, and the mirror now serves bad bytes: the damaged file goes too.
  ASSERT_TRUE(fs::WriteFile((*r)[0], "pack").ok());
  ASSERT_TRUE(fs::WriteFile(Mirror() + "/p.deb", "PACKAGE BYTES").ok());
  auto bad = FetchDebs({s}, Cache(), o);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("SHA256 mismatch"));
  EXPECT_FALSE(fs::Exists((*r)[0]));
}

}  // namespace
}  // namespace husk::build
