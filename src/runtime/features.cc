#include "runtime/features.h"

#include <nlohmann/json.hpp>

#include "sys/caps.h"
#include "sys/mount_options.h"
#include "sys/seccomp.h"

#ifndef HUSK_VERSION
#define HUSK_VERSION "0.0.0"
#endif
#ifndef HUSK_GIT_COMMIT
#define HUSK_GIT_COMMIT "unknown"
#endif

namespace husk::runtime {

std::string FeaturesJson() {
  using Json = nlohmann::ordered_json;
  Json linux_features = {
      // Every type in runtime-spec 1.2; sorted, as runc prints them.
      {"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
      {"capabilities", caps::KnownNames()},
      // No systemd cgroup driver: --systemd-cgroup is refused.
      {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
      {"seccomp",
       {{"enabled", true},
        {"actions", sys::KnownSeccompActions()},
        {"operators", sys::KnownSeccompOperators()},
        {"archs", sys::KnownSeccompArchs()},
        {"knownFlags", sys::KnownSeccompFlags()},
        {"supportedFlags", sys::SupportedSeccompFlags()}}},
      {"apparmor", {{"enabled", false}}},
      {"selinux", {{"enabled", false}}},
      {"intelRdt", {{"enabled", false}}},
      // mounts[].uidMappings are not parsed yet (oci/spec.h), so idmapped mounts
      // are not offered even though the option names are recognised.
      {"mountExtensions", {{"idmap", {{"enabled", false}}}}},
  };
  Json doc = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.2.0"},
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions", sys::KnownMountOptions()},
      {"linux", std::move(linux_features)},
      {"annotations",
       {{"io.github.seccomp.libseccomp.version", sys::LibseccompVersion()},
        {"dev.husk.huskrun.commit", HUSK_GIT_COMMIT},
        {"dev.husk.huskrun.version", HUSK_VERSION}}},
  };
  return doc.dump();
}

}  // namespace husk::runtime
