#include "sys/rlimits.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace husk::sys {
namespace {

TEST(RlimitsTest, KnowsEveryLimit) {
  EXPECT_EQ(*RlimitFromName("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(*RlimitFromName("RLIMIT_CORE"), RLIMIT_CORE);
  EXPECT_EQ(*RlimitFromName("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  // The kernel has RLIM_NLIMITS resources; every one has a name.
  ASSERT_EQ(KnownRlimits().size(), static_cast<size_t>(RLIM_NLIMITS));
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    std::string name = RlimitName(r);
    ASSERT_FALSE(name.empty()) << r;
    EXPECT_EQ(*RlimitFromName(name), r);
  }
}

TEST(RlimitsTest, UnknownNamesTheType) {
  auto r = RlimitFromName("RLIMIT_FOO");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "unknown rlimit type \"RLIMIT_FOO\"");
  EXPECT_FALSE(RlimitFromName("nofile").ok());
}

}  // namespace
}  // namespace husk::sys
