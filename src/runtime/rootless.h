// Running huskrun as a user other than root, as runc 1.1 does: which mode applies
// (--rootless auto), where the state lives by default, and what happens to a
// container that may not have a cgroup of its own.
//
// A rootless container is one whose creator cannot write the cgroup hierarchy.
// When it asks for no limits it runs without a cgroup (in the caller's); the
// verbs that act on the cgroup (pause, resume, update, ps, events) then refuse
// it, kill --all signals what it can find. A cgroup the user was delegated
// (cgroup v2, linux.cgroupsPath under a directory the user owns) is used as usual.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/spec.h"
#include "runtime/runtime.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"

namespace husk::runtime {

// Whether uid_map text (/proc/self/uid_map) belongs to a user namespace other
// than the initial one, whose map is the full identity "0 0 4294967295".
bool UidMapIsNested(std::string_view uid_map);
// The same for this process (read once). False when the file is missing (no
// user namespace support).
bool InUserNamespace();

// --rootless: true or false force it; auto (nullopt) means rootless when the
// effective uid is not 0 or when root is root of a nested user namespace only.
bool RootlessFor(std::optional<bool> flag, uid_t euid, bool in_userns);
// RootlessFor with this process's euid and user namespace.
bool Rootless(const GlobalOptions& g);

// The default --root. As runc: $XDG_RUNTIME_DIR/huskrun for a non-root user
// (and for uid 0 in a nested user namespace unless $USER is root) when
// $XDG_RUNTIME_DIR is set; /run/huskrun otherwise.
struct DefaultRoot {
  std::string path;
  bool from_xdg = false;  // then the caller makes it 0700 with the sticky bit
};
// xdg_runtime_dir and user are the environment values, null when unset.
DefaultRoot DefaultRootFor(uid_t euid, bool in_userns, const char* xdg_runtime_dir,
                           const char* user);
// Creates an $XDG_RUNTIME_DIR state root: mode 0700 plus the sticky bit, which
// keeps the XDG session cleaner from pruning it.
Status PrepareXdgRoot(const std::string& root);

// Limits in r that only a cgroup can enforce ("memory", "pids", ...), in a
// fixed order. Device rules are not among them: rootless they are ignored.
std::vector<std::string> LimitsRequested(const oci::Resources& r);

// What create does when making or joining its cgroup failed.
struct CgroupPolicy {
  bool rootless = false;
  std::string cgroups_path;         // linux.cgroupsPath as given
  std::vector<std::string> limits;  // LimitsRequested of linux.resources
  uid_t uid = 0;                    // for the message
};
// nullopt: go on without a cgroup (rootless, a permission error, no
// cgroupsPath, no limits). Otherwise the error to report, naming what needs a
// delegated cgroup when that is why it failed.
std::optional<Error> CgroupFailure(Error err, const CgroupPolicy& p);
// The policy for a container of this spec, created by this process.
CgroupPolicy CgroupPolicyFor(const GlobalOptions& g, const oci::Linux& lx);

// Opens and creates the container's cgroup (refusing one someone froze). A
// null manager means the container runs without one (CgroupFailure).
Result<std::unique_ptr<cgroup::Manager>> CreateCgroup(const oci::Linux& lx, const std::string& id,
                                                      const CgroupPolicy& p);
// Moves init into the cgroup. When that is refused and the policy allows it,
// the container goes on without: *cg is reset (its directories removed only
// if create made them).
Status JoinCgroup(std::unique_ptr<cgroup::Manager>* cg, pid_t pid, const CgroupPolicy& p);
// Writes the limits. Rootless, device rules that cannot be set are only
// warned about (runc ignores them: the user cannot reach other devices anyway).
Status ApplyLimits(cgroup::Manager& cg, const oci::Resources& r, bool rootless);

// The cgroup of an existing container, for a verb that needs it; a container
// created rootless without one gets a one-line error saying it cannot `action`.
Result<std::unique_ptr<cgroup::Manager>> ContainerCgroup(const ContainerState& st,
                                                         std::string_view action);
// exec, not as root: joining the container's other namespaces takes
// CAP_SYS_ADMIN in our own user namespace, which an unprivileged caller only has
// in the container's. So the caller enters the container's user namespace
// itself first (as runc's nsexec does before the others). proc_dir is init's
// /proc/PID. Returns whether it did; the child then has no user namespace to join.
Result<bool> EnterUserNamespaceForExec(const std::string& proc_dir, const oci::Linux& lx);

// kill --all without a cgroup: every process in init's pid namespace when the
// container has its own (init last), else init alone.
Status SignalWithoutCgroup(pid_t init, int signal);

}  // namespace husk::runtime
