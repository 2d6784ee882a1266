#include <gtest/gtest.h>

#include "oci/spec.h"

namespace husk::oci {
namespace {

constexpr const char* kMinimal = R"({
  "ociVersion": "1.0.2",
  "root": {"path": "rootfs", "readonly": true},
  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 1, "gid": 2, "additionalGids": [5]},
              "env": ["PATH=/bin"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
              "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": true},
  "hostname": "h",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
             {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "mode=755"]}],
  "hooks": {"prestart": [{"path": "/bin/true", "timeout": 3}]},
  "annotations": {"a": "b"},
  "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
            "resources": {"memory": {"limit": 1048576}, "pids": {"limit": 10},
                          "devices": [{"allow": false, "access": "rwm"}]},
            "maskedPaths": ["/proc/kcore"], "sysctl": {"net.ipv4.ip_forward": "1"},
            "seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                      "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}]}}
})";

TEST(ParseSpec, ReadsEveryPart) {
  auto r = ParseSpec(kMinimal);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Spec& s = *r;
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  ASSERT_TRUE(s.process);
  EXPECT_EQ(s.process->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s.process->user.uid, 1u);
  EXPECT_EQ(s.process->user.additional_gids, std::vector<uint32_t>{5});
  EXPECT_EQ(s.process->rlimits[0].soft, 512u);
  EXPECT_TRUE(s.process->no_new_privileges);
  EXPECT_EQ(s.mounts[1].options[1], "mode=755");
  EXPECT_EQ(*s.hooks.prestart[0].timeout, 3);
  ASSERT_TRUE(s.linux_);
  EXPECT_EQ(s.linux_->namespaces[1].path, "/proc/1/ns/net");
  EXPECT_EQ(s.linux_->uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(*s.linux_->resources->memory->limit, 1048576);
  EXPECT_EQ(s.linux_->resources->pids->limit, 10);
  EXPECT_EQ(s.linux_->seccomp->syscalls[0].args[0].value, 7u);
  EXPECT_EQ(s.annotations.at("a"), "b");
}

void ExpectError(const std::string& json, const std::string& want) {
  auto r = ParseSpec(json);
  ASSERT_FALSE(r.ok()) << "accepted: " << json;
  EXPECT_EQ(r.error().message(), want);
}

TEST(ParseSpec, ErrorsNameTheField) {
  ExpectError("{", "config.json: not valid JSON");
  ExpectError(R"({"root":{"path":"r"}})", "config.json: ociVersion: is required");
  ExpectError(R"({"ociVersion":"1.0.0"})", "config.json: root: is required");
  ExpectError(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":"sh"}})",
              "config.json: process.args: must be an array of strings");
  ExpectError(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"cwd":"rel"}})",
              "config.json: process.cwd: must be an absolute path");
  ExpectError(
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"linux":{"namespaces":[{"type":"foo"}]}})",
      "config.json: linux.namespaces[0].type: unknown namespace type \"foo\"");
  ExpectError(
      R"({"ociVersion":"1.0.0","root":{"path":"r"},"linux":{"resources":{"memory":{"limit":"x"}}}})",
      "config.json: linux.resources.memory.limit: must be an integer");
  ExpectError(R"({"ociVersion":"1.0.0","root":{"path":"r"},"mounts":[{"type":"proc"}]})",
              "config.json: mounts[0].destination: is required");
  ExpectError(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"user":{"uid":-1}}})",
              "config.json: process.user.uid: must not be negative");
}

TEST(ParseResources, UpdateDocument) {
  auto r = ParseResources(R"({"memory":{"limit":-1},"cpu":{"shares":512,"cpus":"0"}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(*r->memory->limit, -1);
  EXPECT_EQ(*r->cpu->shares, 512u);
  EXPECT_EQ(r->cpu->cpus, "0");
  auto bad = ParseResources(R"({"pids":{"limit":true}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "resources: pids.limit: must be an integer");
}

TEST(ParseResources, BlockIoWeightDevice) {
  auto r = ParseResources(
      R"({"blockIO":{"weight":333,"weightDevice":[{"major":7,"minor":0,"weight":444},)"
      R"({"major":8,"minor":16,"leafWeight":20}]}})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->block_io->weight_device.size(), 2u);
  const auto& a = r->block_io->weight_device[0];
  EXPECT_EQ(a.major, 7);
  EXPECT_EQ(a.minor, 0);
  EXPECT_EQ(*a.weight, 444);
  EXPECT_FALSE(a.leaf_weight);
  EXPECT_EQ(*r->block_io->weight_device[1].leaf_weight, 20);
  auto bad = ParseResources(R"({"blockIO":{"weightDevice":[{"major":7,"minor":0,"weight":"x"}]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "resources: blockIO.weightDevice[0].weight: must be an integer");
}

TEST(ParseSpec, SeccompListener) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"seccomp":{
    "defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","listenerMetadata":"bar"}}})");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->linux_->seccomp->listener_path, "/run/agent.sock");
  EXPECT_EQ(s->linux_->seccomp->listener_metadata, "bar");
}

TEST(ParseResources, DeviceAccessKeepsOnlyRwm) {
  auto r = ParseResources(
      R"({"devices":[{"allow":false,"type":"c","major":1,"minor":11,"access":"rwa"},)"
      R"({"allow":true,"access":"mr"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->devices[0].access, "rw");  // runc ignores unknown letters too
  EXPECT_EQ(r->devices[1].access, "rm");
  auto bad = ParseResources(R"({"devices":[{"allow":true,"access":"x"}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "resources: devices[0].access: must use r, w or m; got \"x\"");
}

}  // namespace
}  // namespace husk::oci
