// Internal to the cgroup module: the detected mounts, file helpers shared by the v1 and
// v2 managers, and the stats readers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "oci/spec.h"
#include "sys/cgroup/cgroup.h"

namespace husk::cgroup::internal {

// One mounted hierarchy.
struct Hierarchy {
  std::string mountpoint;                // /sys/fs/cgroup/cpu,cpuacct
  std::vector<std::string> controllers;  // {"cpu","cpuacct"}, {"name=systemd"}; v2: empty
};

struct Mounts {
  std::vector<Hierarchy> v1;
  std::optional<Hierarchy> v2;
};

// One write to a v1 devices.allow (allow) or devices.deny file.
struct DeviceWrite {
  bool allow = false;
  std::string rule;  // "c 1:3 rw"
  bool operator==(const DeviceWrite&) const = default;
};
// The writes that take a v1 devices cgroup whose devices.list reads `current`
// to the policy of `rules` (applied in order from deny-all) with no moment in
// which an access allowed both before and after is refused: new access is
// allowed first, then what must go is denied, entry by entry. nullopt when
// that cannot be planned exactly (the cgroup allows everything by default, or a
// rule would switch to allow-all): the caller then starts from deny-all.
std::optional<std::vector<DeviceWrite>> MinimalDeviceTransitions(
    std::string_view current, const std::vector<oci::DeviceCgroupRule>& rules);

// Parses /proc/self/mountinfo text. One entry per hierarchy: bind mounts of a hierarchy
// already seen are dropped, preferring the mount under /sys/fs/cgroup.
Mounts ParseMountinfo(std::string_view text);
Result<Mounts> ReadMounts();
// Legacy when v1 controllers are mounted, hybrid when a cgroup2 mount also exists,
// unified when only cgroup2 is. An error when no cgroup filesystem is mounted.
Result<Layout> LayoutOf(const Mounts& m);

// Writes value to dir/file in one write(2), as the kernel parses each write as one
// command. Errors read: write /sys/fs/cgroup/x/memory.max "10": Device or resource busy
Status Write(const std::string& dir, std::string_view file, std::string_view value);
// The file's contents without the trailing newline.
Result<std::string> Read(const std::string& dir, std::string_view file);
// A single number; "max" reads as UINT64_MAX.
Result<uint64_t> ReadUint(const std::string& dir, std::string_view file);
// "key value" lines (memory.stat, cpu.stat, memory.events...). Lines that don't parse
// are skipped.
Result<std::map<std::string, uint64_t>> ReadKeyed(const std::string& dir, std::string_view file);
bool Has(const std::string& dir, std::string_view file);

// exec --cgroup (subcgroup.cc).
// Writes pid to dir/cgroup.procs. Errors name the step ("open DIR/cgroup.procs" or
// "write DIR/cgroup.procs") and carry the errno.
Status EnterCgroup(const std::string& dir, pid_t pid);
// An EnterCgroup failure of exec worded as runc's (see Manager::AddProcessTo). Its errno
// text is part of the message, in Go's lower case, so the code is 0.
Error JoinError(pid_t pid, const Error& e);
// dir, or dir/sub for a non-empty sub (a clean relative path from SubCgroups).
std::string SubDir(const std::string& dir, const std::string& sub);
// The cgroup2 directory of pid (its "0::" line of /proc/PID/cgroup under root).
Result<std::string> UnifiedDirOf(const std::string& root, pid_t pid);

// v2: mkdir -p root+path, enabling every available controller in the subtree_control
// of each ancestor on the way (best effort, see files.cc).
Status MkdirEnabling(const std::string& root, const std::string& path, bool* made_leaf = nullptr);
// mkdir -p that tries the leaf first (the parents usually exist); *made is set
// when the leaf did not exist before.
Status MkdirLeafFirst(const std::string& dir, bool* made);

// The pids in dir/cgroup.procs and in every sub-cgroup below it. An absent dir has none.
Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir);
// Sends signal to every pid; pids that are already gone are not an error.
Status SignalPids(Result<std::vector<pid_t>> pids, int signal);
// rmdir of dir after its sub-cgroups, deepest first. EBUSY is retried for about a
// second because exiting processes stay charged to the cgroup until reaped.
Status RemoveCgroupDir(const std::string& dir);
// Polls pred every few ms until it yields true, an error, or the timeout passes
// (then an ETIMEDOUT error naming what).
Status WaitUntil(const std::function<Result<bool>()>& pred, std::chrono::milliseconds timeout,
                 std::string_view what);

// Huge page sizes the kernel offers, named as the cgroup files name them: "2MB", "1GB".
std::vector<std::string> HugePageSizes();

// runc's v1 -> v2 conversions: cpu.shares [2, 262144] to cpu.weight [1, 10000], and the
// memory+swap limit to a swap-only limit (0 = unset, -1 = max).
uint64_t SharesToWeight(uint64_t shares);
Result<int64_t> SwapToV2(int64_t swap, int64_t memory);

std::unique_ptr<Manager> NewV1(Mounts mounts, Layout layout, std::string path);
std::unique_ptr<Manager> NewV2(Hierarchy unified, std::string path);

// runc's `events --stats` data from v1 hierarchies (controller -> the container's dir in
// that hierarchy) or from one v2 cgroup directory.
nlohmann::json StatsV1(const std::map<std::string, std::string>& dirs);
nlohmann::json StatsV2(const std::string& dir);
// The "hugetlb" part of StatsV2, also used for hybrid hosts' unified side.
nlohmann::json HugetlbV2(const std::string& dir);

}  // namespace husk::cgroup::internal
