#include "runtime/features.h"

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sys/caps.h"
#include "sys/mount_options.h"
#include "sys/seccomp.h"

namespace husk::runtime {
namespace {

using nlohmann::json;

bool Has(const json& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

TEST(FeaturesTest, DocumentShape) {
  json j = json::parse(FeaturesJson());
  EXPECT_EQ(j["ociVersionMin"], "1.0.0");
  EXPECT_EQ(j["ociVersionMax"], "1.2.0");
  EXPECT_EQ(j["hooks"], json({"prestart", "createRuntime", "createContainer", "startContainer",
                              "poststart", "poststop"}));
  const json& l = j["linux"];
  for (const char* ns : {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}) {
    EXPECT_TRUE(Has(l["namespaces"], ns)) << ns;
  }
  EXPECT_EQ(l["cgroup"],
            json({{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}));
  EXPECT_EQ(l["apparmor"]["enabled"], false);
  EXPECT_EQ(l["selinux"]["enabled"], false);
  EXPECT_EQ(l["intelRdt"]["enabled"], false);
  EXPECT_EQ(l["mountExtensions"]["idmap"]["enabled"], false);
  EXPECT_EQ(j["annotations"]["io.github.seccomp.libseccomp.version"], sys::LibseccompVersion());
}

TEST(FeaturesTest, ListsWhatTheParsersAccept) {
  json j = json::parse(FeaturesJson());
  EXPECT_EQ(j["mountOptions"].get<std::vector<std::string>>(), sys::KnownMountOptions());
  EXPECT_TRUE(Has(j["mountOptions"], "rro"));
  EXPECT_TRUE(Has(j["mountOptions"], "rbind"));
  const json& l = j["linux"];
  EXPECT_EQ(l["capabilities"].get<std::vector<std::string>>(), caps::KnownNames());
  EXPECT_TRUE(Has(l["capabilities"], "CAP_SYS_ADMIN"));
  const json& sc = l["seccomp"];
  EXPECT_EQ(sc["enabled"], true);
  EXPECT_EQ(sc["actions"].get<std::vector<std::string>>(), sys::KnownSeccompActions());
  EXPECT_TRUE(Has(sc["actions"], "SCMP_ACT_NOTIFY"));
  EXPECT_EQ(sc["operators"].get<std::vector<std::string>>(), sys::KnownSeccompOperators());
  EXPECT_TRUE(Has(sc["archs"], "SCMP_ARCH_X86_64"));
  EXPECT_TRUE(Has(sc["knownFlags"], "SECCOMP_FILTER_FLAG_LOG"));
  for (const auto& f : sc["supportedFlags"]) EXPECT_TRUE(Has(sc["knownFlags"], f)) << f;
  // Every advertised action/operator really compiles.
  for (const auto& a : sc["actions"]) {
    if (a == "SCMP_ACT_NOTIFY") continue;  // not valid as a default action
    oci::Seccomp s;
    s.default_action = a.get<std::string>();
    EXPECT_TRUE(sys::CompileSeccomp(s).ok()) << a;
  }
}

}  // namespace
}  // namespace husk::runtime
