#include "build/plan_cache.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/fs.h"

namespace husk::build {
namespace {

struct TempDir {
  TempDir() {
    char t[] = "/tmp/plan-cache-test.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

BuildSpec Spec() {
  BuildSpec s;
  PackageRequest p;
  p.name = p.package = "python3";
  s.packages.push_back(p);
  PackageRequest alone;
  alone.name = alone.package = "tzdata";
  alone.follow_depends = false;
  s.packages.push_back(alone);
  return s;
}

TEST(PlanCacheTest, KeyChangesWithEverythingTheAnswerDependsOn) {
  const std::string k = PlanKey("fp", Spec(), "amd64");
  EXPECT_EQ(k, PlanKey("fp", Spec(), "amd64"));
  EXPECT_EQ(k.size(), 64u);
  EXPECT_NE(k, PlanKey("fp2", Spec(), "amd64"));  // a suite changed
  EXPECT_NE(k, PlanKey("fp", Spec(), "arm64"));   // another architecture
  BuildSpec s = Spec();
  s.packages[1].follow_depends = true;
  EXPECT_NE(k, PlanKey("fp", s, "amd64"));
  s = Spec();
  s.packages[0].version = "3.11.2-1+b1";
  EXPECT_NE(k, PlanKey("fp", s, "amd64"));
  s = Spec();
  s.include_essential = true;
  EXPECT_NE(k, PlanKey("fp", s, "amd64"));
  s = Spec();
  std::swap(s.packages[0], s.packages[1]);
  EXPECT_NE(k, PlanKey("fp", s, "amd64"));
  // What does not change the answer does not change the key.
  s = Spec();
  s.source = "/elsewhere/husk.yaml";
  s.entrypoint = {"/bin/true"};
  EXPECT_EQ(k, PlanKey("fp", s, "amd64"));
}

TEST(PlanCacheTest, StoredPlansLoadBackAndBrokenOnesAreIgnored) {
  TempDir dir;
  EXPECT_FALSE(LoadCachedPlan(dir.path, "k").has_value());
  LockFile plan;
  plan.architecture = "amd64";
  plan.packages.push_back({"libc6", "2.36-9", "amd64", std::string(64, 'a'), 42,
                           "http://deb.debian.org/debian/pool/main/g/glibc/libc6.deb"});
  ASSERT_TRUE(StoreCachedPlan(dir.path, "k", plan).ok());
  auto got = LoadCachedPlan(dir.path, "k");
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->packages.size(), 1u);
  EXPECT_EQ(got->packages[0].name, "libc6");
  EXPECT_EQ(got->packages[0].size, 42u);
  EXPECT_EQ(got->packages[0].url, plan.packages[0].url);
  ASSERT_TRUE(fs::WriteFile(dir.path + "/plans/k.json", "{not json").ok());
  EXPECT_FALSE(LoadCachedPlan(dir.path, "k").has_value());
}

}  // namespace
}  // namespace husk::build
