// Tests that need no cgroups: mountinfo parsing, runc's conversions, mount plans, and
// the v2 resource mapping checked against plain files standing in for a cgroup.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "sys/cgroup/cgroup.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {
namespace {

using internal::Mounts;
using internal::ParseMountinfo;

TEST(CgroupDetect, ParsesLayouts) {
  const char* hybrid =
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
      "90 22 0:31 / /mnt/mem\\040copy rw - cgroup cgroup rw,memory\n";
  Mounts m = ParseMountinfo(hybrid);
  ASSERT_EQ(m.v1.size(), 3u);
  EXPECT_EQ(m.v1[0].mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(m.v1[2].controllers, (std::vector<std::string>{"name=systemd"}));
  ASSERT_TRUE(m.v2);
  EXPECT_EQ(m.v2->mountpoint, "/sys/fs/cgroup/unified");
  EXPECT_EQ(*internal::LayoutOf(m), Layout::kHybrid);

  m = ParseMountinfo("25 20 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
  EXPECT_EQ(*internal::LayoutOf(m), Layout::kUnified);
  EXPECT_EQ(m.v2->mountpoint, "/sys/fs/cgroup");

  m = ParseMountinfo("31 30 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
  EXPECT_EQ(*internal::LayoutOf(m), Layout::kLegacy);

  EXPECT_FALSE(internal::LayoutOf(ParseMountinfo("")).ok());
}

TEST(CgroupConvert, SharesAndSwap) {
  EXPECT_EQ(internal::SharesToWeight(2), 1u);
  EXPECT_EQ(internal::SharesToWeight(1024), 39u);
  EXPECT_EQ(internal::SharesToWeight(262144), 10000u);
  EXPECT_EQ(*internal::SwapToV2(0, -1), -1);  // unlimited memory lifts swap
  EXPECT_EQ(*internal::SwapToV2(-1, 100), -1);
  EXPECT_EQ(*internal::SwapToV2(0, 100), 0);
  EXPECT_EQ(*internal::SwapToV2(300, 100), 200);
  EXPECT_EQ(internal::SwapToV2(50, 100).error().message(),
            "memory+swap limit should be >= memory limit");
  EXPECT_FALSE(internal::SwapToV2(300, 0).ok());
}

// Mount plans are pure functions of the detected mounts; a co-mounting host is easy to
// describe even where none exists.
TEST(CgroupContainerMounts, CoMountedV1) {
  auto m = internal::NewV1(
      ParseMountinfo("31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
                     "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"),
      Layout::kLegacy, "/huskrun/c1");
  auto plain = m->ContainerMounts(false);
  ASSERT_EQ(plain.size(), 5u);
  EXPECT_EQ(plain[0].fstype, "tmpfs");
  EXPECT_EQ(plain[1].fstype, "bind");
  EXPECT_EQ(plain[1].source, "/sys/fs/cgroup/cpu,cpuacct/huskrun/c1");
  EXPECT_EQ(plain[1].target, "cpu,cpuacct");
  EXPECT_EQ(plain[2].source, "/sys/fs/cgroup/systemd/huskrun/c1");
  EXPECT_EQ(plain[3].fstype, "symlink");
  EXPECT_EQ(plain[3].source, "cpu,cpuacct");
  EXPECT_EQ(plain[3].target, "cpu");
  EXPECT_EQ(plain[4].target, "cpuacct");
  auto ns = m->ContainerMounts(true);
  ASSERT_EQ(ns.size(), 5u);
  EXPECT_EQ(ns[1].fstype, "cgroup");
  EXPECT_EQ(ns[1].data, "cpu,cpuacct");
  EXPECT_EQ(ns[2].source, "systemd");
  EXPECT_EQ(ns[2].data, "name=systemd");
}

// Where the host's cgroup2 side lacks the memory, cpu and pids controllers, the v2
// mapping is checked against plain files standing in for a cgroup directory.
TEST(CgroupV2Files, ApplyMapping) {
  char tmpl[] = "/tmp/husk-cgv2-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl, dir = root + "/c1";
  ASSERT_TRUE(fs::MkdirAll(dir).ok());
  auto reset = [&] {
    for (const char* f : {"cpu.weight", "cpu.max", "memory.max", "memory.low", "memory.swap.max",
                          "pids.max", "io.weight", "memory.high"})
      ASSERT_TRUE(fs::WriteFile(dir + "/" + f, "").ok());
  };
  auto get = [&](const char* f) { return *fs::ReadFile(dir + "/" + f); };
  auto m = internal::NewV2({root, {}}, "/c1");
  reset();
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 1024;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.memory->swap = 128 << 20;
  r.memory->reservation = 32 << 20;
  r.pids = oci::PidsResources{0};
  r.block_io = oci::BlockIoResources{};
  r.block_io->weight = 500;
  r.unified["memory.high"] = "1000000";
  auto st = m->Apply(r);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(get("cpu.weight"), "39");
  EXPECT_EQ(get("cpu.max"), "50000 100000");
  EXPECT_EQ(get("memory.max"), std::to_string(64 << 20));
  EXPECT_EQ(get("memory.swap.max"), std::to_string(64 << 20));
  EXPECT_EQ(get("memory.low"), std::to_string(32 << 20));
  EXPECT_EQ(get("pids.max"), "max");
  EXPECT_EQ(get("io.weight"), "default 4950");  // 1 + (500 - 10) * 9999 / 990
  EXPECT_EQ(get("memory.high"), "1000000");

  // Unlimited memory lifts swap; a quota-only update keeps the period.
  reset();
  ASSERT_TRUE(fs::WriteFile(dir + "/cpu.max", "max 250000").ok());
  oci::Resources u;
  u.memory = oci::MemoryResources{};
  u.memory->limit = -1;
  u.cpu = oci::CpuResources{};
  u.cpu->quota = 20000;
  st = m->Apply(u);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(get("memory.max"), "max");
  EXPECT_EQ(get("memory.swap.max"), "max");
  EXPECT_EQ(get("cpu.max"), "20000 250000");

  oci::Resources bad;
  bad.unified["../escape"] = "1";
  EXPECT_FALSE(m->Apply(bad).ok());

  // Device rules become a BPF program, which a plain directory can't take (device_bpf_test
  // and the Cgroup2Mount suite attach it to real cgroups). Without root, a warning only.
  oci::Resources d;
  d.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
  st = m->Apply(d);
  if (::geteuid() == 0) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message(),
              "cgroup v2 device filter for " + dir + ": BPF_PROG_QUERY: Bad file descriptor");
  }
  EXPECT_TRUE(fs::RemoveAll(root).ok());
}

}  // namespace
}  // namespace husk::cgroup

namespace husk::cgroup {
namespace {

using internal::DeviceWrite;
using internal::MinimalDeviceTransitions;

oci::DeviceCgroupRule Dev(bool allow, std::string type, std::optional<int64_t> major,
                          std::optional<int64_t> minor, std::string access) {
  return {allow, std::move(type), major, minor, std::move(access)};
}

TEST(DeviceTransitions, AllowAllModeStartsOver) {
  std::vector<oci::DeviceCgroupRule> rules = {Dev(false, "a", {}, {}, "rwm"),
                                              Dev(true, "c", 1, 3, "rwm")};
  EXPECT_FALSE(MinimalDeviceTransitions("a *:* rwm\n", rules).has_value());
}

TEST(DeviceTransitions, OnlyTheDifferenceAllowFirst) {
  // Keeps /dev/null, adds rw to 10:200 and drops /dev/zero: no deny-all, and
  // the allow comes before the deny.
  std::string list = "c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n";
  std::vector<oci::DeviceCgroupRule> rules = {
      Dev(false, "a", {}, {}, "rwm"), Dev(true, "c", 10, 200, "rw"), Dev(true, "c", 1, 3, "rwm"),
      Dev(true, "c", 136, {}, "rwm")};
  auto w = MinimalDeviceTransitions(list, rules);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, (std::vector<DeviceWrite>{{true, "c 10:200 rw"}, {false, "c 1:5 rwm"}}));
}

TEST(DeviceTransitions, PartialAccessAndLaterDenies) {
  // The spec narrows 1:3 to "r" by a later deny of "wm"; the list had rwm.
  std::string list = "c 1:3 rwm\n";
  std::vector<oci::DeviceCgroupRule> rules = {
      Dev(false, "", {}, {}, ""), Dev(true, "c", 1, 3, "rwm"), Dev(false, "c", 1, 3, "wm")};
  auto w = MinimalDeviceTransitions(list, rules);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, (std::vector<DeviceWrite>{{false, "c 1:3 wm"}}));
}

TEST(DeviceTransitions, SamePolicyWritesNothing) {
  std::vector<oci::DeviceCgroupRule> rules = {Dev(false, "a", {}, {}, "rwm"),
                                              Dev(true, "b", 8, {}, "r")};
  auto w = MinimalDeviceTransitions("b 8:* r\n", rules);
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE(w->empty());
}

TEST(DeviceTransitions, AllowAllRuleOrPartialTypeAStartsOver) {
  EXPECT_FALSE(MinimalDeviceTransitions("c 1:3 rwm\n", {Dev(true, "a", {}, {}, "rwm")}));
  EXPECT_FALSE(MinimalDeviceTransitions("c 1:3 rwm\n", {Dev(false, "a", {}, {}, "w")}));
}

TEST(DeviceRulesCertainlyAllow, LastMatchUnderDenyAll) {
  std::vector<oci::DeviceCgroupRule> rules = {
      Dev(false, "a", {}, {}, "rwm"), Dev(true, "c", 1, {}, "rwm"), Dev(false, "c", 1, 7, "m"),
      Dev(true, "b", {}, {}, "r")};
  EXPECT_TRUE(DeviceRulesCertainlyAllow(rules, 'c', 1, 3, 'm'));
  EXPECT_FALSE(DeviceRulesCertainlyAllow(rules, 'c', 1, 7, 'm'));
  EXPECT_TRUE(DeviceRulesCertainlyAllow(rules, 'c', 1, 7, 'r'));
  EXPECT_FALSE(DeviceRulesCertainlyAllow(rules, 'b', 8, 0, 'm'));
  EXPECT_FALSE(DeviceRulesCertainlyAllow(rules, 'c', 5, 0, 'm'));  // nothing matches
  // No type "a" rule: huskrun starts from deny-all.
  EXPECT_TRUE(DeviceRulesCertainlyAllow({Dev(true, "c", 1, 3, "")}, 'c', 1, 3, 'm'));
  EXPECT_FALSE(DeviceRulesCertainlyAllow({}, 'c', 1, 3, 'm'));
}

TEST(DeviceRulesCertainlyAllow, AllowAllDefaultWithDeniesIsUncertain) {
  // Only the last "a" rule counts.
  std::vector<oci::DeviceCgroupRule> rules = {Dev(false, "a", {}, {}, "rwm"),
                                              Dev(true, "a", {}, {}, "rwm")};
  EXPECT_TRUE(DeviceRulesCertainlyAllow(rules, 'b', 8, 0, 'm'));
  // v1 keeps c *:* as a deny the later allow of 1:3 does not lift; v2 would allow.
  rules.push_back(Dev(false, "c", {}, {}, "m"));
  rules.push_back(Dev(true, "c", 1, 3, "m"));
  EXPECT_FALSE(DeviceRulesCertainlyAllow(rules, 'c', 1, 3, 'm'));
  EXPECT_TRUE(DeviceRulesCertainlyAllow(rules, 'c', 1, 3, 'r'));
  EXPECT_TRUE(DeviceRulesCertainlyAllow(rules, 'b', 1, 3, 'm'));
}

}  // namespace
}  // namespace husk::cgroup
