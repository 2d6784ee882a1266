#include "runtime/plan.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/spec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace husk::runtime {
namespace {

using nlohmann::json;

// Namespaces of this test process stand in for "another container's".
class PlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/plan-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    bind_src_ = dir_ + "/src";
    ASSERT_EQ(::mkdir(bind_src_.c_str(), 0700), 0);
  }
  void TearDown() override {
    ::rmdir(bind_src_.c_str());
    ::rmdir(dir_.c_str());
  }

  // A spec with these namespaces (and maps when one is a new user namespace).
  Result<InitPlan> Plan(json namespaces, json extra_linux = json::object()) {
    json linux_ = {{"namespaces", std::move(namespaces)}};
    linux_.update(extra_linux);
    json doc = {
        {"ociVersion", "1.0.2"},
        {"root", {{"path", dir_}}},
        {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
        {"mounts", {{{"destination", "/mnt"}, {"source", bind_src_}, {"options", {"bind"}}}}},
        {"linux", linux_}};
    auto spec = oci::ParseSpec(doc.dump());
    if (!spec) return std::move(spec).error();
    spec_ = std::move(*spec);
    PlanInputs in;
    in.spec = &spec_;
    in.rootfs = dir_;
    in.bundle = dir_;
    return BuildInitPlan(in);
  }

  static json Maps() {
    json m = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    return {{"uidMappings", m}, {"gidMappings", m}};
  }

  std::string dir_, bind_src_;
  oci::Spec spec_;
};

TEST_F(PlanTest, NewUserNamespaceWithJoinedNetworkIsEnteredByTheParent) {
  // Kubernetes with user namespaces: the pod's netns belongs to the host's userns.
  auto plan = Plan(json::array({{{"type", "user"}},
                                {{"type", "mount"}},
                                {{"type", "pid"}},
                                {{"type", "network"}, {"path", "/proc/self/ns/net"}}}),
                   Maps());
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID));
  EXPECT_EQ(plan->ParentCloneFlags(), plan->clone_flags);
  EXPECT_FALSE(plan->ForksInit());
  EXPECT_FALSE(plan->user_join.fd.valid());
  ASSERT_EQ(plan->parent_joins.size(), 1u);
  EXPECT_EQ(plan->parent_joins[0].nstype, CLONE_NEWNET);
  EXPECT_EQ(plan->parent_joins[0].path, "/proc/self/ns/net");
  ASSERT_EQ(plan->mounts.size(), 1u);
  EXPECT_TRUE(plan->mounts[0].source_from_parent);
}

TEST_F(PlanTest, JoinedUserNamespaceMakesTheNewNamespacesInTheChild) {
  auto plan = Plan(json::array({{{"type", "user"}, {"path", "/proc/self/ns/user"}},
                                {{"type", "mount"}},
                                {{"type", "uts"}},
                                {{"type", "pid"}}}));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_TRUE(plan->user_join.fd.valid());
  EXPECT_EQ(plan->user_join.path, "/proc/self/ns/user");
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID));
  EXPECT_EQ(plan->ParentCloneFlags(), 0u);
  EXPECT_TRUE(plan->ForksInit());  // the new pid namespace needs init cloned in the userns
  EXPECT_TRUE(plan->parent_joins.empty());
  // The source may be out of the user namespace's reach: the parent opens it.
  ASSERT_EQ(plan->mounts.size(), 1u);
  EXPECT_TRUE(plan->mounts[0].source_from_parent);
  for (auto& d : plan->devices) EXPECT_TRUE(d.bind_from_host) << d.path;
}

TEST_F(PlanTest, JoinedUserNamespaceWithoutNewPidNamespaceNeedsNoSecondProcess) {
  auto plan = Plan(json::array({{{"type", "user"}, {"path", "/proc/self/ns/user"}},
                                {{"type", "mount"}},
                                {{"type", "ipc"}}}));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWNS | CLONE_NEWIPC));
  EXPECT_EQ(plan->ParentCloneFlags(), 0u);
  EXPECT_FALSE(plan->ForksInit());
}

TEST_F(PlanTest, ExecNeverForksInit) {
  auto plan = Plan(json::array({{{"type", "user"}, {"path", "/proc/self/ns/user"}},
                                {{"type", "mount"}},
                                {{"type", "pid"}}}));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  plan->is_exec = true;
  EXPECT_FALSE(plan->ForksInit());
}

TEST_F(PlanTest, JoinedMountNamespaceIsEnteredLastAndCgroupByTheChild) {
  auto plan = Plan(json::array({{{"type", "mount"}, {"path", "/proc/self/ns/mnt"}},
                                {{"type", "network"}, {"path", "/proc/self/ns/net"}},
                                {{"type", "cgroup"}, {"path", "/proc/self/ns/cgroup"}},
                                {{"type", "pid"}, {"path", "/proc/self/ns/pid"}},
                                {{"type", "uts"}}}));
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  std::vector<int> order;
  for (auto& j : plan->parent_joins) order.push_back(j.nstype);
  EXPECT_EQ(order, (std::vector<int>{CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS}));
  EXPECT_TRUE(plan->cgroup_join.fd.valid());
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWUTS));
}

TEST_F(PlanTest, NewTimeNamespaceCarriesItsOffsets) {
  auto plan = Plan(json::array({{{"type", "mount"}}, {{"type", "time"}}}),
                   {{"timeOffsets", {{"monotonic", {{"secs", 86400}, {"nanosecs", 5}}}}}});
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  EXPECT_TRUE(plan->new_timens);
  EXPECT_EQ(plan->time_offsets, "monotonic 86400 5\n");
  EXPECT_EQ(plan->clone_flags & CLONE_NEWTIME, 0u);  // unshared by the parent, not cloned
}

TEST_F(PlanTest, MissingNamespacePathIsOneClearError) {
  auto plan = Plan(
      json::array({{{"type", "mount"}}, {{"type", "network"}, {"path", "/nonexistent/netns"}}}));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().code, ENOENT);
  EXPECT_EQ(plan.error().msg, "linux.namespaces: open network namespace /nonexistent/netns");
}

TEST_F(PlanTest, PathOfAnotherNamespaceTypeIsRefused) {
  auto plan = Plan(
      json::array({{{"type", "mount"}}, {{"type", "network"}, {"path", "/proc/self/ns/uts"}}}));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().msg, "linux.namespaces: /proc/self/ns/uts is not a network namespace");
  plan = Plan(json::array({{{"type", "mount"}}, {{"type", "uts"}, {"path", bind_src_}}}));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.error().msg, "linux.namespaces: " + bind_src_ + " is not a uts namespace");
}

}  // namespace
}  // namespace husk::runtime
