// Whether linux.resources.devices grants an access, the same answer on v1
// (the exception lists huskrun writes) and v2 (the BPF program), or "no" when
// the two could differ. See device_bpf.h for the semantics huskrun gives rules.
#include "sys/cgroup/cgroup.h"

namespace husk::cgroup {

namespace {

bool Matches(const oci::DeviceCgroupRule& r, char type, int64_t major, int64_t minor) {
  if (r.type != std::string_view(&type, 1)) return false;
  if (r.major && *r.major >= 0 && *r.major != major) return false;
  if (r.minor && *r.minor >= 0 && *r.minor != minor) return false;
  return true;
}

bool Names(const oci::DeviceCgroupRule& r, char access) {
  return r.access.empty() || r.access.find(access) != std::string::npos;
}

}  // namespace

bool DeviceRulesCertainlyAllow(const std::vector<oci::DeviceCgroupRule>& rules, char type,
                               int64_t major, int64_t minor, char access) {
  // The last rule of type "a" sets the default; without one, all is denied.
  size_t first = 0;
  bool allow = false;
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].type.empty() || rules[i].type == "a") {
      first = i + 1;
      allow = rules[i].allow;
    }
  if (allow) {
    // v1 in allow-all mode keeps denies as exceptions that a later allow of
    // another key does not lift (v2 would let the allow win): any matching
    // deny makes the answer uncertain.
    for (size_t i = first; i < rules.size(); ++i)
      if (!rules[i].allow && Matches(rules[i], type, major, minor) && Names(rules[i], access))
        return false;
    return true;
  }
  // Deny-all mode: the last matching rule decides, on v2 by construction and on
  // v1 because only a deny of that very rule's key could take its bit away, and
  // such a deny would match too, so come later.
  for (size_t i = rules.size(); i-- > first;)
    if (Matches(rules[i], type, major, minor) && Names(rules[i], access)) return rules[i].allow;
  return false;
}

}  // namespace husk::cgroup
