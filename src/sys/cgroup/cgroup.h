// Control groups for one container: create, limit, join, freeze, kill, destroy, stats.
//
// The host's cgroup layout is detected from /proc/self/mountinfo, once per Open/Load:
//   kLegacy  - only v1 hierarchies (one mount per controller or co-mounted group)
//   kHybrid  - v1 hierarchies for the controllers, plus a cgroup2 mount (usually
//              /sys/fs/cgroup/unified) that processes are joined to, best effort
//   kUnified - a single cgroup2 hierarchy
// A Manager only ever names one cgroup path (e.g. /huskrun/c1); on v1 that path exists
// once under every mounted hierarchy.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/spec.h"

namespace husk::cgroup {

enum class Layout { kLegacy, kHybrid, kUnified };

// "legacy", "hybrid" or "unified", for messages and logs.
const char* LayoutName(Layout l);

Result<Layout> DetectLayout();

// Where below the container's cgroup an exec'd process goes (runc's `exec --cgroup`).
// Keys are controller names as mounted ("memory", "name=systemd"), or "" for every
// hierarchy (on v2 the only key there is); values are clean relative paths below the
// container's cgroup, "" being the container's cgroup itself. Empty: no --cgroup given.
using SubCgroups = std::map<std::string, std::string>;

// Parses exec --cgroup values, each "[controller[,controller...]:]path". A path without
// controllers must be the only value; for a controller named twice the last one wins.
// A path that leaves the container's cgroup is refused: "../x is not a sub cgroup path".
Result<SubCgroups> ParseSubCgroups(const std::vector<std::string>& args);

class Manager {
 public:
  virtual ~Manager() = default;

  virtual Layout layout() const = 0;
  // The cgroup path inside the hierarchy, e.g. /huskrun/c1. Save it in the container state
  // and hand it to Load later.
  virtual const std::string& path() const = 0;

  // mkdir -p in every hierarchy used. On hybrid the unified directory is best effort.
  virtual Status Create() = 0;
  // After Create: whether it made the leaf directory in every hierarchy, so
  // nothing can be in the cgroup yet (nobody froze it, no process is in it).
  virtual bool MadeByCreate() const = 0;
  // Writes the limits; used at create and by `update`. Controllers that are not mounted
  // are skipped.
  virtual Status Apply(const oci::Resources& r) = 0;
  // Moves pid into the cgroup in every hierarchy.
  virtual Status AddProcess(pid_t pid) = 0;
  // exec: moves pid into the container's cgroup, or into the sub-cgroups sub names (see
  // SubCgroups; a hierarchy sub does not name stays in the container's cgroup). Errors
  // read as runc's, Go's lower-case errno text included, since callers match on them:
  //   adding pid 42 to cgroups: open /sys/fs/cgroup/memory/c1/x/cgroup.procs: no such
  //   file or directory
  // and `unknown controller "x"` for a controller not mounted (on v2, any controller).
  // On v2 with an empty sub, a cgroup that may not hold processes (EBUSY: the container
  // enabled domain controllers for its own sub-cgroups) falls back to the cgroup of
  // init (when > 0 and inside the container's), as runc does.
  virtual Status AddProcessTo(pid_t pid, const SubCgroups& sub, pid_t init) = 0;
  // v2: an O_PATH|O_DIRECTORY fd of the cgroup directory (or of the sub-cgroup sub names,
  // for exec), for clone3(CLONE_INTO_CGROUP).
  // v1 and hybrid: an invalid UniqueFd (not an error); use AddProcess(To) instead.
  virtual Result<UniqueFd> OpenForClone(const SubCgroups& sub) = 0;

  // Both wait until the kernel reports the new state.
  virtual Status Freeze() = 0;
  virtual Status Thaw() = 0;
  virtual Result<bool> Frozen() = 0;

  // Every pid in the cgroup and its descendants.
  virtual Result<std::vector<pid_t>> Pids() = 0;
  // Signals every process. SIGKILL on v2 uses cgroup.kill when the kernel has it;
  // otherwise the cgroup is frozen around the signalling so that forks can't escape.
  virtual Status KillAll(int signal) = 0;
  // Removes the leaf directories (and sub-cgroups the container made), retrying briefly
  // while exiting processes keep them busy. Absent directories are fine. Parents such as
  // /huskrun are left alone: other containers may share them.
  virtual Status Destroy() = 0;

  // The "data" object of runc's `events --stats`, filled with what the layout offers.
  virtual Result<nlohmann::json> Stats() = 0;
  // How many times the memory controller hit its limit and had to act (v1: oom_kill of
  // memory.oom_control; v2: "oom" of memory.events); 0 without a memory controller.
  // `events` reports an "oom" event whenever it grows.
  virtual Result<uint64_t> OomCount() = 0;

  // One step of making /sys/fs/cgroup inside a container for a spec mount of type
  // "cgroup". The runtime performs them in order.
  struct SubMount {
    std::string source;
    std::string fstype;  // "cgroup", "cgroup2", "tmpfs", "bind", or "symlink"
    std::string target;  // relative to the mount destination; "" is the destination itself
    std::string data;
    unsigned long flags = 0;  // MS_* (MS_BIND|MS_REC for "bind")
  };
  // v2: one cgroup2 mount under a cgroup namespace, else a bind of the container's cgroup
  // directory. v1/hybrid: a tmpfs at the destination, then one entry per hierarchy (a
  // cgroup mount under a cgroup namespace, else a bind of <mountpoint><path>), then
  // "symlink" entries (source = link text) for co-mounted controllers such as
  // cpu -> cpu,cpuacct. Read-only handling is left to the caller.
  virtual std::vector<SubMount> ContainerMounts(bool cgroupns) const = 0;
};

// Whether rules (linux.resources.devices, in order) certainly grant access ('r', 'w'
// or 'm') to the device of type 'c' or 'b' and the given numbers, the same on v1 and
// v2. False also when the answer could differ between the two (a deny under an
// allow-all default): callers use it to skip a precaution, never to grant anything.
bool DeviceRulesCertainlyAllow(const std::vector<oci::DeviceCgroupRule>& rules, char type,
                               int64_t major, int64_t minor, char access);

// cgroups_path is linux.cgroupsPath: empty means "/huskrun/<id>", a relative path goes
// under "/huskrun", an absolute one is used as is. The systemd driver is not supported.
Result<std::unique_ptr<Manager>> Open(const std::string& cgroups_path, const std::string& id,
                                      bool systemd);
// The manager of an existing container whose path() was saved in its state. No mkdir.
Result<std::unique_ptr<Manager>> Load(const std::string& path);

}  // namespace husk::cgroup
