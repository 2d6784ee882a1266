#include "sys/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "sys/test_child.h"

namespace husk::caps {
namespace {

using husk::testutil::InChild;

// A hex mask from /proc/self/status, e.g. field "CapBnd".
uint64_t StatusMask(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::stoull(line.substr(field.size() + 1), nullptr, 16);
  }
  return ~uint64_t{0};
}

TEST(CapsTest, NamesAndNumbers) {
  EXPECT_EQ(*FromName("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(*FromName("CAP_CHOWN"), 0);
  EXPECT_EQ(*FromName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(Name(CAP_NET_BIND_SERVICE), "CAP_NET_BIND_SERVICE");
  auto bad = FromName("CAP_FOO");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "unknown capability \"CAP_FOO\"");
  EXPECT_FALSE(FromName("cap_sys_admin").ok());
  EXPECT_FALSE(FromName("SYS_ADMIN").ok());

  const auto& names = KnownNames();
  ASSERT_EQ(names.size(), static_cast<size_t>(CAP_LAST_CAP + 1));
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(*FromName(names[i]), static_cast<int>(i));
}

TEST(CapsTest, LastCapIsTheKernels) {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int last = -1;
  in >> last;
  EXPECT_EQ(LastCap(), last);
}

TEST(CapsTest, ResolveBuildsMasks) {
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_KILL"};
  c.permitted = {"CAP_KILL", "CAP_SYS_ADMIN"};
  c.inheritable = {"CAP_KILL"};
  c.ambient = {"CAP_KILL"};
  std::vector<std::string> unknown;
  auto s = Resolve(c, &unknown);
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->bounding,
            (1ull << CAP_KILL) | (1ull << CAP_AUDIT_WRITE) | (1ull << CAP_NET_BIND_SERVICE));
  EXPECT_EQ(s->effective, 1ull << CAP_KILL);
  EXPECT_EQ(s->permitted, (1ull << CAP_KILL) | (1ull << CAP_SYS_ADMIN));
  EXPECT_EQ(s->ambient, 1ull << CAP_KILL);
  EXPECT_EQ(s->last_cap, LastCap());
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(UnraisableAmbient(*s), 0u);
}

TEST(CapsTest, ResolveSkipsCapsTheKernelLacks) {
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  c.effective = {"CAP_BPF"};
  std::vector<std::string> unknown;
  // As if the kernel stopped at CAP_PERFMON (38): 39 and 40 are skipped, each reported once.
  auto s = Resolve(c, 38, &unknown);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->bounding, 1ull << CAP_KILL);
  EXPECT_EQ(s->effective, 0u);
  EXPECT_EQ(unknown, (std::vector<std::string>{"CAP_BPF", "CAP_CHECKPOINT_RESTORE"}));
}

TEST(CapsTest, ResolveRejectsNamesNobodyKnows) {
  oci::Capabilities c;
  c.permitted = {"CAP_KILL", "CAP_FOO"};
  auto s = Resolve(c, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(), "capabilities.permitted: unknown capability \"CAP_FOO\"");
}

TEST(CapsTest, UnraisableAmbient) {
  CapSets s;
  s.ambient = (1ull << CAP_KILL) | (1ull << CAP_CHOWN);
  s.permitted = s.inheritable = 1ull << CAP_KILL;
  EXPECT_EQ(UnraisableAmbient(s), 1ull << CAP_CHOWN);
}

TEST(CapsTest, DropBoundingInChild) {
  if (geteuid() != 0) GTEST_SKIP() << "needs CAP_SETPCAP";
  oci::Capabilities c;
  c.bounding = {"CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"};
  auto s = Resolve(c, nullptr);
  ASSERT_TRUE(s.ok());
  uint64_t want = s->bounding;
  int rc = InChild([&] {
    if (DropBoundingNoAlloc(*s) != 0) return 1;
    return StatusMask("CapBnd") == want ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

TEST(CapsTest, ApplyInChild) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  oci::Capabilities c;
  c.bounding = c.permitted = {"CAP_KILL", "CAP_CHOWN", "CAP_SETPCAP"};
  c.effective = {"CAP_KILL", "CAP_SETPCAP"};
  c.inheritable = {"CAP_KILL", "CAP_CHOWN"};
  c.ambient = {"CAP_KILL", "CAP_SYS_ADMIN"};  // SYS_ADMIN: not permitted, skipped
  auto s = Resolve(c, nullptr);
  ASSERT_TRUE(s.ok());
  int rc = InChild([&] {
    if (DropBoundingNoAlloc(*s) != 0) return 1;
    if (ApplyNoAlloc(*s) != 0) return 2;
    if (StatusMask("CapBnd") != s->bounding) return 3;
    if (StatusMask("CapPrm") != s->permitted) return 4;
    if (StatusMask("CapEff") != s->effective) return 5;
    if (StatusMask("CapInh") != s->inheritable) return 6;
    if (StatusMask("CapAmb") != (1ull << CAP_KILL)) return 7;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace husk::caps
