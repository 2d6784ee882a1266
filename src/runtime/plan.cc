#include "runtime/plan.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <set>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "sys/mount_options.h"
#include "sys/rlimits.h"
#include "sys/rootfs_path.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace husk::runtime {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

unsigned long PropagationFlags(const std::string& p) {
  if (p == "private") return MS_PRIVATE;
  if (p == "rprivate") return MS_PRIVATE | MS_REC;
  if (p == "shared") return MS_SHARED;
  if (p == "rshared") return MS_SHARED | MS_REC;
  if (p == "slave") return MS_SLAVE;
  if (p == "rslave") return MS_SLAVE | MS_REC;
  if (p == "unbindable") return MS_UNBINDABLE;
  if (p == "runbindable") return MS_UNBINDABLE | MS_REC;
  return MS_SLAVE | MS_REC;  // runc's default
}

// Flags that, on a bind mount, need a second (remount) call to take effect.
constexpr unsigned long kRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                       MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME |
                                       MS_SYNCHRONOUS | MS_DIRSYNC;

struct DefaultDevice {
  const char* path;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

// Which namespace a sysctl needs, as runc checks.
Status CheckSysctl(const std::string& key, const std::set<std::string>& ns) {
  auto need = [&](const char* type, const char* what) -> Status {
    if (!ns.count(type)) return Err("linux.sysctl: \"{}\" needs a private {} namespace", key, what);
    return Ok();
  };
  if (strings::StartsWith(key, "net.")) return need("network", "network");
  if (strings::StartsWith(key, "fs.mqueue.") || strings::StartsWith(key, "kernel.msg") ||
      strings::StartsWith(key, "kernel.sem") || strings::StartsWith(key, "kernel.shm"))
    return need("ipc", "IPC");
  if (key == "kernel.hostname" || key == "kernel.domainname") return need("uts", "UTS");
  return Err("linux.sysctl: \"{}\" is not namespaced and would change the host", key);
}

std::string LookupHome(int rootfs_fd, uid_t uid) {
  if (rootfs_fd < 0) return "/";
  int fd = sys::OpenInRootNoAlloc(rootfs_fd, "/etc/passwd", O_RDONLY);
  if (fd < 0) return "/";
  UniqueFd owner(fd);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  for (auto& line : strings::Split(text, '\n')) {
    auto f = strings::Split(line, ':');
    if (f.size() >= 6 && strings::ParseUint(f[2]) == uid && !f[5].empty()) return f[5];
  }
  return "/";
}

}  // namespace

void CStringArray::Build() {
  ptrs.clear();
  for (auto& s : items) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
}

int NamespaceFlag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

const char* NamespaceProcName(const std::string& type) {
  if (type == "network") return "net";
  if (type == "mount") return "mnt";
  static const char* const kSame[] = {"pid", "ipc", "uts", "user", "cgroup", "time"};
  for (const char* n : kSame)
    if (type == n) return n;
  return "";
}

void AddJoin(InitPlan* plan, NsJoin j) {
  if (j.nstype == CLONE_NEWUSER) {
    plan->user_join = std::move(j);
    return;
  }
  if (j.nstype == CLONE_NEWCGROUP) {
    plan->cgroup_join = std::move(j);
    return;
  }
  // Entering a mount namespace moves root and cwd; the others go first.
  auto& v = plan->parent_joins;
  auto at = !v.empty() && v.back().nstype == CLONE_NEWNS ? v.end() - 1 : v.end();
  v.insert(at, std::move(j));
}

HookCmd MakeHookCmd(const oci::Hook& h) {
  HookCmd c;
  c.path = h.path;
  c.argv.items = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  c.argv.Build();
  c.envp.items = h.env;
  c.envp.Build();
  c.timeout_sec = h.timeout.value_or(0);
  return c;
}

Result<ProcessPlan> BuildProcessPlan(const oci::Process& p, const oci::Linux* lx, int rootfs_fd) {
  ProcessPlan pp;
  if (p.args.empty()) return Err("process.args: must not be empty");
  pp.argv.items = p.args;
  pp.argv.Build();
  pp.envp.items = p.env;
  bool has_home = false;
  pp.path_env = kDefaultPath;
  for (auto& e : p.env) {
    if (strings::StartsWith(e, "PATH=")) pp.path_env = e.substr(5);
    if (strings::StartsWith(e, "HOME=")) has_home = true;
  }
  if (!has_home) pp.envp.items.push_back("HOME=" + LookupHome(rootfs_fd, p.user.uid));
  pp.envp.Build();
  pp.cwd = p.cwd;
  pp.uid = p.user.uid;
  pp.gid = p.user.gid;
  pp.groups.assign(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (p.user.umask) pp.umask = static_cast<mode_t>(*p.user.umask);
  if (p.capabilities) {
    std::vector<std::string> unknown;
    pp.caps = TRY_CTX(caps::Resolve(*p.capabilities, &unknown), "process");
    for (auto& u : unknown) log::Warnf("capability {} is not known to this kernel: ignored", u);
  }
  for (auto& rl : p.rlimits) {
    int res = TRY_CTX(sys::RlimitFromName(rl.type), "process.rlimits");
    if (rl.soft > rl.hard)
      return Err("process.rlimits: {}: soft limit {} is above hard limit {}", rl.type, rl.soft,
                 rl.hard);
    pp.rlimits.push_back({res, {rl.soft, rl.hard}});
  }
  if (p.oom_score_adj) pp.oom_score_adj = std::to_string(*p.oom_score_adj);
  pp.no_new_privs = p.no_new_privileges;
  pp.terminal = p.terminal;
  if (p.console_size) {
    pp.rows = p.console_size->height;
    pp.cols = p.console_size->width;
  }
  if (lx) {
    if (lx->seccomp) pp.seccomp = TRY_CTX(sys::CompileSeccomp(*lx->seccomp), "linux.seccomp");
    if (lx->personality_domain) pp.personality = *lx->personality_domain;
  }
  return pp;
}

Result<InitPlan> BuildInitPlan(const PlanInputs& in) {
  const oci::Spec& spec = *in.spec;
  if (!spec.process) return Err("config.json: process: is required");
  if (!spec.linux_) return Err("config.json: linux: is required");
  const oci::Linux& lx = *spec.linux_;
  InitPlan plan;
  plan.rootfs = in.rootfs;
  plan.no_pivot = in.no_pivot;
  if (in.no_pivot) {
    std::string mountinfo = TRY(fs::ReadFile("/proc/self/mountinfo"));
    plan.no_pivot_hide = sys::RevealingMounts(mountinfo, in.rootfs);
  }
  plan.readonly_root = spec.root.readonly;
  plan.root_propagation = PropagationFlags(lx.rootfs_propagation);

  std::set<std::string> ns_types;
  for (auto& ns : lx.namespaces) {
    ns_types.insert(ns.type);
    int flag = NamespaceFlag(ns.type);
    if (ns.path.empty()) {
      if (flag == CLONE_NEWCGROUP)
        plan.new_cgroupns = true;
      else if (flag == CLONE_NEWTIME)
        plan.new_timens = true;
      else
        plan.clone_flags |= static_cast<uint64_t>(flag);
      continue;
    }
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoErr("linux.namespaces: open {} namespace {}", ns.type, ns.path);
    // setns would only say EINVAL.
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type != flag) return Err("linux.namespaces: {} is not a {} namespace", ns.path, ns.type);
    AddJoin(&plan, NsJoin{flag, std::move(fd), ns.path});
  }
  // As runc: without a mount namespace the mounts land in ours and init
  // enters the rootfs by chroot (`delete` detaches them again).
  plan.host_mount_ns = !ns_types.count("mount");
  // A read-only remount of "/" there would reach the host's root mount.
  if (plan.host_mount_ns && spec.root.readonly)
    return Err("root.readonly: needs a mount namespace (linux.namespaces has none)");
  if (plan.new_timens)
    for (auto& [clock, off] : lx.time_offsets)
      plan.time_offsets += fmt::format("{} {} {}\n", clock, off.secs, off.nanosecs);
  bool new_user = plan.clone_flags & CLONE_NEWUSER;
  bool join_user = plan.user_join.fd.valid();
  bool in_userns = new_user || join_user;

  if (!spec.hostname.empty()) {
    if (!ns_types.count("uts")) return Err("config.json: hostname: needs a private UTS namespace");
    plan.hostname = spec.hostname;
  }
  if (!spec.domainname.empty()) {
    if (!ns_types.count("uts"))
      return Err("config.json: domainname: needs a private UTS namespace");
    plan.domainname = spec.domainname;
  }

  // Mounts, in spec order.
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const oci::Mount& m = spec.mounts[i];
    auto opts = TRY_CTX(sys::ParseMountOptions(m.options), "mounts[{}]", i);
    std::string dest = fs::Clean("/" + m.destination);
    bool bind = opts.bind || m.type == "bind";
    if (m.type == "cgroup") {
      // Rootless without a cgroup of its own: nothing of ours to show there.
      if (!in.cgroup) continue;
      bool cgroupns = ns_types.count("cgroup") > 0;
      unsigned long extra = opts.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
      auto subs = in.cgroup->ContainerMounts(cgroupns);
      // v1: a tmpfs holding one mount per hierarchy. Their flags are set at the
      // end by one recursive mount_setattr on the tmpfs rather than a remount
      // of each (a dozen syscalls fewer per hierarchy on a container's start).
      bool v1_tree = !subs.empty() && subs.front().fstype == "tmpfs";
      for (auto& sub : subs) {
        MountStep st;
        st.dest = sub.target.empty() ? dest : fs::Join(dest, sub.target);
        st.source = sub.source;
        st.data = sub.data;
        if (sub.fstype == "symlink") {
          st.kind = MountStep::Kind::kSymlink;
        } else if (sub.fstype == "bind") {
          st.kind = MountStep::Kind::kBind;
          st.flags = MS_BIND | MS_REC;
          if (!v1_tree) st.remount_flags = extra | (opts.flags & MS_RDONLY);
        } else {
          st.kind = MountStep::Kind::kMount;
          st.fstype = sub.fstype;
          st.flags = sub.flags | extra | (v1_tree ? 0 : (opts.flags & MS_RDONLY));
        }
        plan.mounts.push_back(std::move(st));
      }
      if (v1_tree) {
        MountStep attrs;
        attrs.kind = MountStep::Kind::kSetAttrRec;
        attrs.dest = dest;
        attrs.rec_attr_set = ((opts.flags & MS_RDONLY) ? MOUNT_ATTR_RDONLY : 0) |
                             ((extra & MS_NOSUID) ? MOUNT_ATTR_NOSUID : 0) |
                             ((extra & MS_NODEV) ? MOUNT_ATTR_NODEV : 0) |
                             ((extra & MS_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
        if (attrs.rec_attr_set) plan.mounts.push_back(std::move(attrs));
      }
      continue;
    }
    MountStep st;
    st.dest = dest;
    st.propagation = opts.propagation;
    st.rec_attr_set = opts.rec_attr_set;
    st.rec_attr_clr = opts.rec_attr_clr;
    if (bind) {
      st.kind = MountStep::Kind::kBind;
      st.source =
          m.source.empty() || m.source.front() == '/' ? m.source : fs::Join(in.bundle, m.source);
      struct stat sb;
      if (::stat(st.source.c_str(), &sb) != 0)
        return ErrnoErr("mounts[{}]: bind source {}", i, st.source);
      st.dest_is_dir = S_ISDIR(sb.st_mode);
      // As runc: the parent opens the source for the child (see plan.h).
      st.source_from_parent = in_userns;
      st.flags = MS_BIND | (opts.recursive_bind ? MS_REC : 0);
      st.remount_flags = opts.flags & kRemountable;
      if (dest == "/dev") plan.setup_dev = false;
    } else {
      if (m.type.empty()) return Err("mounts[{}]: type: is required for {}", i, dest);
      st.kind = MountStep::Kind::kMount;
      st.fstype = m.type;
      st.source = m.source.empty() ? m.type : m.source;
      st.flags = opts.flags & ~(MS_BIND | MS_REC);
      st.data = opts.data;
      st.is_sysfs = m.type == "sysfs";
      st.no_symlink = m.type == "proc" || m.type == "sysfs";
      if (m.type == "tmpfs" && (st.flags & MS_RDONLY)) {
        st.flags &= ~static_cast<unsigned long>(MS_RDONLY);
        MountStep ro;
        ro.kind = MountStep::Kind::kRemount;
        ro.dest = st.dest;
        ro.flags = st.flags | MS_RDONLY;
        plan.late_remounts.push_back(std::move(ro));
      }
    }
    plan.mounts.push_back(std::move(st));
  }

  // Devices: the defaults, then the spec's (a spec device replaces a default of the same path).
  if (plan.setup_dev) {
    auto add = [&](DeviceStep d) {
      for (auto& e : plan.devices)
        if (e.path == d.path) {
          e = std::move(d);
          return;
        }
      plan.devices.push_back(std::move(d));
    };
    for (auto& d : kDefaultDevices) {
      DeviceStep st;
      st.path = d.path;
      st.mode = S_IFCHR | 0666;
      st.dev = makedev(d.major, d.minor);
      st.bind_from_host = in_userns;
      add(std::move(st));
    }
    for (auto& d : lx.devices) {
      // A bind of the host's /dev/ptmx could not give way to the symlink to the
      // container's devpts (SetupDev); runc skips this device altogether.
      if (in_userns && fs::Clean(d.path) == "/dev/ptmx") continue;
      DeviceStep st;
      st.path = fs::Clean(d.path);
      mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
      st.mode = type | (d.file_mode ? (*d.file_mode & 07777) : 0666);
      st.dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
      st.uid = d.uid.value_or(0);
      st.gid = d.gid.value_or(0);
      st.bind_from_host = in_userns;
      add(std::move(st));
    }
  }

  plan.masked_paths = lx.masked_paths;
  plan.readonly_paths = lx.readonly_paths;
  for (auto& [key, value] : lx.sysctl) {
    TRY(CheckSysctl(key, ns_types));
    std::string path = "/proc/sys/" + key;
    for (size_t k = 10; k < path.size(); ++k)
      if (path[k] == '.') path[k] = '/';
    plan.sysctls.emplace_back(path, value);
  }
  for (auto& h : spec.hooks.create_container) plan.create_container_hooks.push_back(MakeHookCmd(h));
  for (auto& h : spec.hooks.start_container) plan.start_container_hooks.push_back(MakeHookCmd(h));

  UniqueFd rootfd(::open(in.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  plan.process = TRY(BuildProcessPlan(*spec.process, &lx, rootfd.get()));
  // An unprivileged caller's new user namespace gets setgroups "deny" (see
  // WriteIdMaps): supplementary groups cannot be set there.
  plan.process.set_groups = !(new_user && ::geteuid() != 0);
  plan.state_cap = 64 * 1024;
  plan.state_buf = std::make_unique_for_overwrite<char[]>(plan.state_cap);
  return plan;
}

}  // namespace husk::runtime
