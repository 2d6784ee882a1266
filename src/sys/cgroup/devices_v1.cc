// Minimal transitions of a v1 devices cgroup (the `update` of a running
// container must not refuse, even briefly, a device it keeps access to).
//
// In deny-by-default mode the kernel keeps a list of exceptions keyed by
// type, major and minor: an allow adds access bits to the entry with that
// exact key (making it if needed), a deny clears bits of that exact entry
// only. Emulating the rules on such a list gives the target exactly, and the
// difference from devices.list gives the writes.
#include <map>

#include "base/strings.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup::internal {

namespace {

constexpr unsigned kRead = 1, kWrite = 2, kMknod = 4, kAll = 7;

unsigned AccessBits(std::string_view access) {
  if (access.empty()) return kAll;
  unsigned bits = 0;
  for (char c : access) {
    if (c == 'r') bits |= kRead;
    if (c == 'w') bits |= kWrite;
    if (c == 'm') bits |= kMknod;
  }
  return bits;
}

std::string AccessText(unsigned bits) {
  std::string s;
  if (bits & kRead) s += 'r';
  if (bits & kWrite) s += 'w';
  if (bits & kMknod) s += 'm';
  return s;
}

std::string Key(const oci::DeviceCgroupRule& r) {
  auto num = [](const std::optional<int64_t>& v) {
    return v && *v >= 0 ? std::to_string(*v) : std::string("*");
  };
  return (r.type.empty() ? std::string("a") : r.type) + " " + num(r.major) + ":" + num(r.minor);
}

}  // namespace

std::optional<std::vector<DeviceWrite>> MinimalDeviceTransitions(
    std::string_view current, const std::vector<oci::DeviceCgroupRule>& rules) {
  std::map<std::string, unsigned> have;
  for (const auto& line : strings::Split(current, '\n')) {
    auto f = strings::Split(line, ' ');
    if (f.size() != 3) continue;
    if (f[0] == "a") return std::nullopt;  // allow-all mode: no exceptions to edit
    have[f[0] + " " + f[1]] |= AccessBits(f[2]);
  }
  std::map<std::string, unsigned> want;
  for (const auto& r : rules) {
    bool all_types = r.type.empty() || r.type == "a";
    unsigned bits = AccessBits(r.access);
    if (all_types) {
      // "deny a" resets to deny-all; anything else about type a is allow-all
      // or a partial wildcard the kernel treats differently: start over.
      if (r.allow || bits != kAll) return std::nullopt;
      want.clear();
      continue;
    }
    std::string key = Key(r);
    if (r.allow) {
      want[key] |= bits;
    } else if (auto it = want.find(key); it != want.end()) {
      it->second &= ~bits;
      if (it->second == 0) want.erase(it);
    }
  }
  std::vector<DeviceWrite> writes;
  for (const auto& [key, bits] : want) {
    auto it = have.find(key);
    unsigned missing = bits & ~(it == have.end() ? 0u : it->second);
    if (missing) writes.push_back({true, key + " " + AccessText(missing)});
  }
  for (const auto& [key, bits] : have) {
    auto it = want.find(key);
    unsigned extra = bits & ~(it == want.end() ? 0u : it->second);
    if (extra) writes.push_back({false, key + " " + AccessText(extra)});
  }
  return writes;
}

}  // namespace husk::cgroup::internal
