// Everything the container's init (or an exec'd process) needs, decided in the
// parent before clone. The child only reads this struct and makes syscalls:
// strings are already rendered, argv/envp arrays built, seccomp compiled.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/spec.h"
#include "sys/caps.h"
#include "sys/cgroup/cgroup.h"
#include "sys/seccomp.h"

namespace husk::runtime {

// A NULL-terminated char* array over strings the plan owns.
struct CStringArray {
  std::vector<std::string> items;
  std::vector<char*> ptrs;
  void Build();
  char* const* get() const { return ptrs.data(); }
};

struct HookCmd {
  std::string path;
  CStringArray argv, envp;
  int timeout_sec = 0;  // 0: none
};

struct MountStep {
  // kSetAttrRec: mount_setattr(AT_RECURSIVE) of dest with rec_attr_set/clr.
  enum class Kind { kMount, kBind, kSymlink, kRemount, kSetAttrRec };
  Kind kind = Kind::kMount;
  std::string source;  // host path for binds (absolute), link text for symlinks
  // Binds in a user namespace (new or joined): the source may be unreachable from the
  // userns (a 0700 parent owned by host root). The parent opens it through
  // /proc/<child>/root (in the child's mount namespace, as host root) and sends
  // the fd after kGo; the child binds /proc/self/fd/<source_fd>.
  bool source_from_parent = false;
  int source_fd = -1;  // set in the child when received
  std::string dest;    // absolute, inside the rootfs
  std::string fstype;
  std::string data;
  unsigned long flags = 0;  // mount(2) flags of the first call (binds: MS_BIND[|MS_REC])
  // Binds: MS_RDONLY/MS_NOSUID/... need a second, remount call.
  unsigned long remount_flags = 0;
  unsigned long propagation = 0;
  uint64_t rec_attr_set = 0, rec_attr_clr = 0;
  bool dest_is_dir = true;  // binds of files need a file to mount on
  bool is_sysfs = false;    // falls back to a bind of /sys when the kernel refuses
  bool no_symlink = false;  // proc and sysfs: the destination must not be a symlink
};

struct DeviceStep {
  std::string path;  // absolute, inside the rootfs
  mode_t mode = 0;   // S_IFCHR|S_IFBLK|S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool bind_from_host = false;  // in a user namespace mknod is refused: bind the host node
};

struct NsJoin {
  int nstype = 0;  // CLONE_NEW*
  UniqueFd fd;
  std::string path;
};

struct ProcessPlan {
  CStringArray argv, envp;
  std::string cwd;
  std::string path_env;  // PATH for looking up argv[0]
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool set_groups = true;  // false in a user namespace with setgroups denied
  std::optional<mode_t> umask;
  std::optional<caps::CapSets> caps;
  bool no_new_privs = false;
  std::optional<sys::SeccompProgram> seccomp;
  bool terminal = false;
  unsigned rows = 0, cols = 0;
  std::string personality;                                             // "", LINUX, LINUX32
  std::vector<std::pair<int, std::pair<uint64_t, uint64_t>>> rlimits;  // resource, soft, hard
  std::string oom_score_adj;                                           // rendered; empty when unset
};

struct InitPlan {
  bool is_exec = false;

  // Namespaces. The new ones (clone_flags) are made by the parent's clone3, or
  // with a user namespace joined by path by the child once it is in it, so
  // that it owns them (see ForksInit). The cgroup namespace is unshared once
  // the child is in its cgroup.
  uint64_t clone_flags = 0;
  bool new_cgroupns = false;
  // A new time namespace: the parent unshares it and writes these offsets
  // (timens_offsets lines) before clone3.
  bool new_timens = false;
  std::string time_offsets;
  // Joined by path, other than user and cgroup (pid and time included): the
  // parent enters them around clone3, mount last (sys/ns_switch.h). The child
  // starts in them, and a new user namespace owns only the new namespaces: a
  // child in a new user namespace could not join those of the host's.
  std::vector<NsJoin> parent_joins;
  // Joined by the child: the user namespace first thing, before kGo; the
  // cgroup namespace once the child is in its cgroup (joining it needs no
  // more rights than the container's user namespace gives, and CLONE_INTO_CGROUP
  // is checked against the cloner's cgroup namespace). fd invalid: none.
  NsJoin user_join, cgroup_join;
  // Rootless exec only: the parent is already in the container's user
  // namespace and could not return from its mount namespace (owned by the
  // host's), so the child joins these itself, right after user and cgroup.
  std::vector<NsJoin> child_joins;

  // Flags of the parent's clone3: none when the child makes the namespaces.
  uint64_t ParentCloneFlags() const { return user_join.fd.valid() ? 0 : clone_flags; }
  // In a joined user namespace a new pid namespace needs a clone3 by the child
  // (unshare(CLONE_NEWPID) applies to children only): the child clones init
  // (CLONE_PARENT: huskrun's child all the same), reports its pid (kInitPid)
  // and exits.
  bool ForksInit() const {
    return !is_exec && user_join.fd.valid() && (clone_flags & CLONE_NEWPID);
  }

  // Root file system (create only).
  std::string rootfs;
  unsigned long root_propagation = 0;
  bool readonly_root = false;
  bool no_pivot = false;
  // The spec has no mount namespace: the propagation of / is left alone and
  // the rootfs is entered by chroot, never pivot_root or MS_MOVE.
  bool host_mount_ns = false;
  // exec into a container without a mount namespace: chroot here first
  // (/proc/<init>/root).
  std::string exec_chroot;
  // --no-pivot: host proc/sysfs mounts to detach (or cover) before the chroot.
  std::vector<std::string> no_pivot_hide;
  std::vector<MountStep> mounts;
  bool setup_dev = true;
  std::vector<DeviceStep> devices;
  // The parent applies the cgroup limits while the child mounts and sends
  // kLimitsSet; the child makes the device nodes after it. Only when the device
  // rules certainly allow those mknods; otherwise the limits wait for kMountsDone.
  bool limits_before_devices = false;
  // Whether the child waits for kHooksDone after kMountsDone: not when the
  // parent has neither limits nor prestart/createRuntime hooks left to run.
  bool await_hooks_done = true;
  // Read-only tmpfs mounts are made read-only only after everything else was
  // created in them (e.g. /dev with its nodes and /dev/pts).
  std::vector<MountStep> late_remounts;
  std::vector<std::string> masked_paths, readonly_paths;
  std::vector<std::pair<std::string, std::string>> sysctls;  // /proc/sys path, value
  std::optional<std::string> hostname, domainname;
  std::vector<HookCmd> create_container_hooks, start_container_hooks;
  // A new session keyring of this name, so the container does not share the
  // caller's keys; empty with --no-new-keyring.
  std::string session_keyring;

  ProcessPlan process;

  // Descriptors handed to the child.
  int sync_fd = -1;
  int fifo_read_fd = -1, fifo_write_fd = -1;
  int console_fd = -1;  // connected --console-socket, or our socketpair end
  int preserve_fds = 0;

  // Scratch the child writes into, allocated before clone so the child never
  // allocates. Not zeroed: a page nobody writes costs no page fault (a fault
  // is dear under some hypervisors, and this buffer is mostly unused).
  std::unique_ptr<char[]> state_buf;
  size_t state_cap = 0, state_len = 0;
};

// Where a plan's inputs come from.
struct PlanInputs {
  const oci::Spec* spec = nullptr;
  std::string rootfs;  // absolute
  std::string bundle;  // absolute
  bool no_pivot = false;
  const cgroup::Manager* cgroup = nullptr;
};

Result<InitPlan> BuildInitPlan(const PlanInputs& in);
// Files a namespace joined by path where InitPlan says it is joined: user and
// cgroup by the child, the others by the parent (mount last).
void AddJoin(InitPlan* plan, NsJoin j);
// The process part alone; exec uses it with the container's stored spec.
// rootfs_fd: the container root to look up HOME in (-1 to skip).
Result<ProcessPlan> BuildProcessPlan(const oci::Process& p, const oci::Linux* lx, int rootfs_fd);
HookCmd MakeHookCmd(const oci::Hook& h);

// Namespace type name ("network") → CLONE_NEWNET; 0 when unknown.
int NamespaceFlag(const std::string& type);
// /proc/PID/ns file name of a type ("network" → "net").
const char* NamespaceProcName(const std::string& type);

}  // namespace husk::runtime
