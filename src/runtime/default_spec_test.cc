#include "oci/default_spec.h"

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "oci/spec.h"
#include "sys/caps.h"
#include "sys/mount_options.h"
#include "sys/rlimits.h"

namespace husk::runtime {
namespace {

using nlohmann::json;

const json* FindMount(const json& spec, const std::string& dest) {
  for (const auto& m : spec["mounts"]) {
    if (m["destination"] == dest) return &m;
  }
  return nullptr;
}

std::vector<std::string> NamespaceTypes(const json& spec) {
  std::vector<std::string> out;
  for (const auto& n : spec["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

TEST(DefaultSpecTest, RootfulMatchesRuncSpec) {
  oci::DefaultSpecOptions o;
  o.cgroup_ns = true;
  json j = json::parse(oci::DefaultSpecJson(o));
  EXPECT_EQ(j["ociVersion"], oci::kVersion);
  EXPECT_EQ(j["process"]["args"], json({"sh"}));
  EXPECT_EQ(j["process"]["terminal"], true);
  EXPECT_EQ(j["process"]["cwd"], "/");
  EXPECT_EQ(j["process"]["env"][1], "TERM=xterm");
  EXPECT_EQ(j["process"]["noNewPrivileges"], true);
  json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  EXPECT_EQ(j["process"]["capabilities"]["bounding"], caps);
  EXPECT_EQ(j["process"]["capabilities"]["effective"], caps);
  EXPECT_EQ(j["process"]["capabilities"]["permitted"], caps);
  EXPECT_FALSE(j["process"]["capabilities"].contains("inheritable"));
  EXPECT_EQ(j["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
  EXPECT_EQ(j["process"]["rlimits"][0]["hard"], 1024);
  EXPECT_EQ(j["root"], json({{"path", "rootfs"}, {"readonly", true}}));
  EXPECT_EQ(j["hostname"], "huskrun");

  std::vector<std::string> dests;
  for (const auto& m : j["mounts"]) dests.push_back(m["destination"]);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue",
                                             "/sys", "/sys/fs/cgroup"}));
  EXPECT_EQ(FindMount(j, "/dev")->at("type"), "tmpfs");
  EXPECT_TRUE(std::find((*FindMount(j, "/dev/pts"))["options"].begin(),
                        (*FindMount(j, "/dev/pts"))["options"].end(),
                        "gid=5") != (*FindMount(j, "/dev/pts"))["options"].end());
  EXPECT_EQ(NamespaceTypes(j),
            (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"}));
  EXPECT_FALSE(j["linux"].contains("uidMappings"));
  EXPECT_EQ(j["linux"]["resources"]["devices"][0]["access"], "rwm");
  EXPECT_EQ(j["linux"]["maskedPaths"][0], "/proc/acpi");
  EXPECT_EQ(j["linux"]["readonlyPaths"].size(), 5u);

  o.cgroup_ns = false;
  j = json::parse(oci::DefaultSpecJson(o));
  EXPECT_EQ(NamespaceTypes(j), (std::vector<std::string>{"pid", "network", "ipc", "uts", "mount"}));
}

TEST(DefaultSpecTest, Rootless) {
  oci::DefaultSpecOptions o;
  o.rootless = true;
  o.cgroup_ns = true;
  o.host_uid = 1000;
  o.host_gid = 1001;
  json j = json::parse(oci::DefaultSpecJson(o));
  EXPECT_EQ(NamespaceTypes(j),
            (std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "user"}));
  EXPECT_EQ(j["linux"]["uidMappings"],
            json::parse(R"([{"containerID":0,"hostID":1000,"size":1}])"));
  EXPECT_EQ(j["linux"]["gidMappings"],
            json::parse(R"([{"containerID":0,"hostID":1001,"size":1}])"));
  EXPECT_FALSE(j["linux"].contains("resources"));
  const json* sys = FindMount(j, "/sys");
  ASSERT_NE(sys, nullptr);
  EXPECT_EQ((*sys)["type"], "none");
  EXPECT_EQ((*sys)["source"], "/sys");
  EXPECT_EQ((*sys)["options"][0], "rbind");
  for (const auto& m : j["mounts"]) {
    for (const auto& opt : m.value("options", json::array())) {
      std::string s = opt;
      EXPECT_NE(s.rfind("gid=", 0), 0u) << s;
      EXPECT_NE(s.rfind("uid=", 0), 0u) << s;
    }
  }
  EXPECT_NE(FindMount(j, "/sys/fs/cgroup"), nullptr);
  o.cgroup_ns = false;  // cgroup v1 host: no cgroupfs for a rootless container
  j = json::parse(oci::DefaultSpecJson(o));
  EXPECT_EQ(FindMount(j, "/sys/fs/cgroup"), nullptr);
}

TEST(DefaultSpecTest, EverythingInItParses) {
  for (bool rootless : {false, true}) {
    std::string text = oci::DefaultSpecJson(rootless);
    auto spec = oci::ParseSpec(text);
    ASSERT_TRUE(spec.ok()) << spec.error().message();
    ASSERT_TRUE(spec->process.has_value());
    EXPECT_EQ(spec->process->args, std::vector<std::string>{"sh"});
    ASSERT_TRUE(spec->process->capabilities.has_value());
    EXPECT_TRUE(caps::Resolve(*spec->process->capabilities, nullptr).ok());
    for (const auto& r : spec->process->rlimits) EXPECT_TRUE(sys::RlimitFromName(r.type).ok());
    for (const auto& m : spec->mounts) EXPECT_TRUE(sys::ParseMountOptions(m.options).ok());
    ASSERT_TRUE(spec->linux_.has_value());
    bool has_user = false;
    for (const auto& n : spec->linux_->namespaces) has_user = has_user || n.type == "user";
    EXPECT_EQ(has_user, rootless);
  }
}

}  // namespace
}  // namespace husk::runtime
