#include "runtime/create.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/time.h"
#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/init_child.h"
#include "runtime/plan.h"
#include "runtime/rootless.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"
#include "sys/fdpass.h"
#include "sys/ns_switch.h"

namespace husk::runtime {

namespace {

// Undoes a half-made container unless disarmed: kills the child, removes the
// cgroup and the state dir, so a failed create leaves nothing behind.
struct CreateRollback {
  const StateStore* store = nullptr;
  std::string id;
  bool reserved = false;
  std::unique_ptr<cgroup::Manager> cg;  // owned here: destroyed after use
  pid_t child = -1;
  std::string host_mounts_under;  // no mount namespace: the rootfs
  bool armed = true;
  ~CreateRollback() {
    if (!armed) return;
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    if (!host_mounts_under.empty()) DetachMountsUnder(host_mounts_under);
    if (cg) (void)cg->Destroy();
    if (reserved) (void)store->Remove(id);
  }
};

// Devices every container may use, as runc allows them by default.
// linux.devices are created but not allowed here: their access comes from
// linux.resources.devices only, as with runc.
void AddDefaultDeviceRules(oci::Resources* r) {
  auto allow = [&](const char* type, int64_t major, std::optional<int64_t> minor) {
    oci::DeviceCgroupRule d;
    d.allow = true;
    d.type = type;
    d.major = major;
    d.minor = minor;
    d.access = "rwm";
    r->devices.push_back(d);
  };
  // Appended after the spec's rules, as runc's AllowedDevices.
  allow("c", 1, 3);     // null
  allow("c", 1, 5);     // zero
  allow("c", 1, 7);     // full
  allow("c", 1, 8);     // random
  allow("c", 1, 9);     // urandom
  allow("c", 5, 0);     // tty
  allow("c", 5, 1);     // console
  allow("c", 5, 2);     // ptmx
  allow("c", 136, {});  // pts
}

Status WriteIdMaps(pid_t pid, const oci::Linux& lx) {
  auto render = [](const std::vector<oci::IdMapping>& maps) {
    std::string out;
    for (auto& m : maps)
      out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
             std::to_string(m.size) + "\n";
    return out;
  };
  std::string proc = "/proc/" + std::to_string(pid);
  if (lx.uid_mappings.empty() || lx.gid_mappings.empty())
    return Err("linux.uidMappings and linux.gidMappings are required with a new user namespace");
  if (::geteuid() != 0) TRY(fs::WriteFile(proc + "/setgroups", "deny"));
  TRY(fs::WriteFile(proc + "/uid_map", render(lx.uid_mappings)).wrap("write uid_map"));
  TRY(fs::WriteFile(proc + "/gid_map", render(lx.gid_mappings)).wrap("write gid_map"));
  return Ok();
}

// The name of the effective user, from /etc/passwd itself: huskrun is linked
// statically and uses no NSS (as runc, which reads the file too).
std::string OwnerName() {
  uid_t uid = ::geteuid();
  if (auto text = fs::ReadFile("/etc/passwd"); text.ok()) {
    for (auto& line : strings::Split(*text, '\n')) {
      auto f = strings::Split(line, ':');
      if (f.size() >= 3 && !f[0].empty() && strings::ParseUint(f[2]) == uid) return f[0];
    }
  }
  return std::to_string(uid);
}

// Whether the device rules certainly let init make every device node of the plan
// (fifos are not the device cgroup's business; nodes bound from the host are not made).
bool RulesAllowPlannedNodes(const std::vector<oci::DeviceCgroupRule>& rules,
                            const std::vector<DeviceStep>& devices) {
  for (const auto& d : devices) {
    if (d.bind_from_host || !(S_ISCHR(d.mode) || S_ISBLK(d.mode))) continue;
    char type = S_ISCHR(d.mode) ? 'c' : 'b';
    if (!cgroup::DeviceRulesCertainlyAllow(rules, type, major(d.dev), minor(d.dev), 'm'))
      return false;
  }
  return true;
}

}  // namespace

Result<UniqueFd> ConnectConsole(const std::string& path) {
  int fd = sys::ConnectUnixNoAlloc(path.c_str());
  if (fd < 0) return CodeErr(-fd, "connect to console socket {}", path);
  return UniqueFd(fd);
}

pid_t Clone3(uint64_t flags, int cgroup_fd) {
  struct clone_args args {};
  args.flags = flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
  // CLONE_PARENT takes our exit signal; the kernel refuses another.
  args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

Result<pid_t> CloneChild(InitPlan& plan, int cgroup_fd, const char* what) {
  sys::NsSwitch ns;  // leaves on every return below; the child never returns
  if (plan.new_timens) {
    TRY(ns.Unshare(CLONE_NEWTIME));
    // Before anyone is in it, and while /proc is still ours.
    if (!plan.time_offsets.empty())
      TRY(fs::WriteFile("/proc/self/timens_offsets", plan.time_offsets).wrap("set time offsets"));
  }
  for (auto& j : plan.parent_joins)
    TRY_CTX(ns.Enter(j.fd.get(), j.nstype), "join namespace {}", j.path);
  uint64_t flags = plan.ParentCloneFlags();
  pid_t pid = Clone3(flags, cgroup_fd);
  if (pid < 0 && cgroup_fd >= 0) pid = Clone3(flags, -1);
  if (pid == 0) ChildMain(plan);
  int clone_errno = errno;
  Status back = ns.Leave();
  if (pid < 0) return CodeErr(clone_errno, "clone {}", what);
  if (!back) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::move(back).error();
  }
  return pid;
}

Status ParentChannel::Send(MsgType t) {
  Message m{};
  m.type = t;
  if (::send(fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m))
    return ErrnoErr("send {} to container init", MsgName(t));
  return Ok();
}

Status ParentChannel::SendFd(MsgType t, int pass) {
  Message m{};
  m.type = t;
  if (int r = sys::SendMsgFdNoAlloc(fd, &m, sizeof m, pass); r < 0)
    return CodeErr(-r, "send {} to container init", MsgName(t));
  return Ok();
}

Status ParentChannel::SendBytes(const std::string& data) {
  if (::send(fd, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size()))
    return ErrnoErr("send state to container init");
  return Ok();
}

Status ParentChannel::PreferChildError(Status failed) {
  if (failed) return failed;
  Message m{};
  ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
  if (n < 0 && errno == ECONNRESET) n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);  // as in Expect
  if (n == static_cast<ssize_t>(sizeof m) && m.type == MsgType::kError) {
    m.text[sizeof m.text - 1] = 0;
    return Error{m.err, m.text};
  }
  return failed;
}

Status ParentChannel::Expect(MsgType want, Message* got_msg) {
  bool reset_seen = false;
  for (;;) {
    Message m{};
    int got = -1;
    long n = sys::RecvMsgFdNoAlloc(fd, &m, sizeof m, &got);
    UniqueFd passed(got);
    // A child that exits leaving our messages unread makes the socket report
    // ECONNRESET once, ahead of what it sent before exiting (its kError).
    if (n == -ECONNRESET && !reset_seen) {
      reset_seen = true;
      continue;
    }
    if (n == static_cast<long>(sizeof m)) {
      if (m.type == MsgType::kError) {
        m.text[sizeof m.text - 1] = 0;
        return Error{m.err, m.text};
      }
      if (m.type == MsgType::kSeccompFd) {
        if (!passed) return Err("container init sent seccomp-fd without a descriptor");
        if (!on_seccomp_fd) return Err("seccomp notify: no linux.seccomp.listenerPath to send to");
        TRY(on_seccomp_fd(std::move(passed), child));
        TRY(Send(MsgType::kSeccompDone));
        continue;
      }
      if (m.type == want) {
        if (got_msg) *got_msg = m;
        return Ok();
      }
      return Err("container init: expected {}, got {}", MsgName(want), MsgName(m.type));
    }
    if (n < 0)
      return CodeErr(static_cast<int>(-n), "waiting for {} from container init", MsgName(want));
    if (n == 0 && want == MsgType::kError) return Ok();  // exec: end-of-file means exec'd
    // End of file before `want`: the child is gone.
    int status = 0;
    if (child > 0 && ::waitpid(child, &status, WNOHANG) == child) {
      child = -1;
      if (WIFSIGNALED(status))
        return Err("container init was killed by signal {} before {}", WTERMSIG(status),
                   MsgName(want));
      return Err("container init exited with status {} before {}", WEXITSTATUS(status),
                 MsgName(want));
    }
    return Err("container init closed the sync socket before {}", MsgName(want));
  }
}

Status SendToSeccompAgent(const oci::Seccomp& s, const std::string& state_json, pid_t pid,
                          int listener_fd) {
  if (s.listener_path.empty())
    return Err("seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
  // runc's specs.ContainerProcessState.
  nlohmann::json doc;
  doc["ociVersion"] = oci::kVersion;
  doc["fds"] = {"seccompFd"};
  doc["pid"] = pid;
  if (!s.listener_metadata.empty()) doc["metadata"] = s.listener_metadata;
  doc["state"] = nlohmann::json::parse(state_json);
  std::string text = doc.dump();
  int sock = sys::ConnectUnixNoAlloc(s.listener_path.c_str());
  if (sock < 0) return CodeErr(-sock, "failed to connect with seccomp agent {}", s.listener_path);
  UniqueFd owned(sock);
  if (int r = sys::SendFdNoAlloc(sock, listener_fd, text.c_str()); r < 0)
    return CodeErr(-r, "send seccomp fd to {}", s.listener_path);
  return Ok();
}

Result<CreatedContainer> CreateContainer(const GlobalOptions& g, const CreateOptions& o,
                                         bool proxy_terminal) {
  if (g.systemd_cgroup)
    return Err("--systemd-cgroup: the systemd cgroup driver is not supported (no systemd)");
  StateStore store(g.root);
  TRY(StateStore::ValidateId(o.id));
  std::string bundle = fs::Absolute(o.bundle);
  std::string pid_file = o.pid_file.empty() ? "" : fs::Absolute(o.pid_file);
  std::string config_text = TRY(fs::ReadFile(fs::Join(bundle, "config.json")));
  oci::Spec spec = TRY(oci::ParseSpec(config_text));
  std::string rootfs = spec.root.path.front() == '/' ? fs::Clean(spec.root.path)
                                                     : fs::Clean(fs::Join(bundle, spec.root.path));
  if (!fs::IsDir(rootfs)) {
    if (!fs::Exists(rootfs)) return CodeErr(ENOENT, "rootfs {}", rootfs);
    return CodeErr(ENOTDIR, "rootfs {}", rootfs);
  }
  if (!spec.process) return Err("config.json: process: is required");
  if (!spec.linux_) return Err("config.json: linux: is required");
  const oci::Linux& lx = *spec.linux_;
  bool proxy = spec.process->terminal && o.console_socket.empty();
  if (proxy && !proxy_terminal) return Err("cannot allocate tty without --console-socket");
  if (!spec.process->terminal && !o.console_socket.empty())
    return Err("--console-socket given but process.terminal is false");

  // As runc: hooks and relative paths in the spec are taken from the bundle.
  if (::chdir(bundle.c_str()) != 0) return ErrnoErr("chdir {}", bundle);
  TRY(store.Reserve(o.id));
  CreateRollback rollback;
  rollback.store = &store;
  rollback.id = o.id;
  rollback.reserved = true;

  // Rootless without permission the container may go without a cgroup: cg null.
  CgroupPolicy cg_policy = CgroupPolicyFor(g, lx);
  rollback.cg = TRY(CreateCgroup(lx, o.id, cg_policy));
  cgroup::Manager* cg = rollback.cg.get();

  PlanInputs in;
  in.spec = &spec;
  in.rootfs = rootfs;
  in.bundle = bundle;
  in.no_pivot = o.no_pivot;
  in.cgroup = cg;
  InitPlan plan = TRY(BuildInitPlan(in));
  // runc applies the limits once the rootfs is built, so that the device
  // cgroup cannot refuse init the mknod of the spec's devices. When the rules
  // certainly allow every node init makes, the limits go on while init mounts,
  // and init makes the nodes once they are on (see protocol.h).
  oci::Resources resources = lx.resources.value_or(oci::Resources{});
  AddDefaultDeviceRules(&resources);
  plan.limits_before_devices = cg && RulesAllowPlannedNodes(resources.devices, plan.devices);
  // Then, without prestart or createRuntime hooks, the parent has nothing to do
  // between kMountsDone and kHooksDone: the child need not wait for it.
  plan.await_hooks_done = !plan.limits_before_devices || !spec.hooks.prestart.empty() ||
                          !spec.hooks.create_runtime.empty();

  // exec.fifo: init blocks reading it until `start` writes.
  std::string fifo = store.FifoPath(o.id);
  if (::mkfifo(fifo.c_str(), 0622) != 0) return ErrnoErr("mkfifo {}", fifo);
  UniqueFd fifo_r(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo_r) return ErrnoErr("open {}", fifo);
  UniqueFd fifo_w(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fifo_w) return ErrnoErr("open {}", fifo);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return ErrnoErr("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);

  UniqueFd console;  // the child's end: a connected --console-socket, or our pair
  CreatedContainer created;
  if (proxy)
    created.console = TRY(MakeConsoleSocketPair(&console));
  else if (spec.process->terminal)
    console = TRY(ConnectConsole(o.console_socket));

  plan.sync_fd = child_end.get();
  plan.fifo_read_fd = fifo_r.get();
  plan.fifo_write_fd = fifo_w.get();
  plan.console_fd = console.get();
  plan.preserve_fds = o.preserve_fds;
  if (!o.no_new_keyring) plan.session_keyring = "_ses." + o.id;

  // Debug lines name the steps as runc's do, so that logs (and runc's tests)
  // read the same with either runtime.
  ContainerState st;
  st.id = o.id;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.created = time::Rfc3339Nano(time::Now());
  st.owner = OwnerName();
  st.annotations = spec.annotations;
  st.cgroup_path = cg ? cg->path() : "";

  log::Debugf("nsexec container setup: clone flags {:#x}", plan.clone_flags);
  UniqueFd cgfd;
  if (cg) cgfd = TRY(cg->OpenForClone({}));
  pid_t pid = TRY(CloneChild(plan, cgfd.get(), "container init"));
  rollback.child = pid;
  if (plan.host_mount_ns) rollback.host_mounts_under = rootfs;
  child_end.reset();
  fifo_r.reset();
  fifo_w.reset();
  console.reset();

  ParentChannel ch{parent_end.get(), pid, {}};
  if (plan.ForksInit()) {
    // The child joined the user namespace and cloned init there as our child.
    Message m{};
    TRY(ch.Expect(MsgType::kInitPid, &m));
    ::waitpid(pid, nullptr, 0);  // it exits right after
    rollback.child = pid = ch.child = m.pid;
    if (pid <= 0) return Err("container init: init-pid {} is not a pid", pid);
  }
  if (plan.clone_flags & CLONE_NEWUSER) TRY(WriteIdMaps(pid, lx));

  st.init_pid = pid;
  std::string state_json = StateToJson(st, ContainerStatus::kCreating);
  if (state_json.size() > plan.state_cap) return Err("state JSON is too large");
  if (lx.seccomp)
    ch.on_seccomp_fd = [&](UniqueFd listener, pid_t p) {
      return SendToSeccompAgent(*lx.seccomp, state_json, p, listener.get());
    };

  TRY(ch.Send(MsgType::kGo));
  TRY(ch.SendBytes(state_json));
  // Bind sources of a user-namespaced container, opened as host root but in
  // the child's mount namespace (through its /proc/PID/root), as runc does.
  std::string child_root = "/proc/" + std::to_string(pid) + "/root";
  for (const MountStep& m : plan.mounts) {
    if (!m.source_from_parent) continue;
    std::string path = child_root + m.source;
    UniqueFd src(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!src) return ErrnoErr("open bind source {}", m.source);
    TRY(ch.SendFd(MsgType::kMountSource, src.get()));
  }
  // Joining the cgroups (v1: a write per hierarchy) overlaps with the child
  // building the rootfs; it waits for kCgroupJoined before it can matter.
  Status joined = JoinCgroup(&rollback.cg, pid, cg_policy);
  cg = rollback.cg.get();
  if (!cg) st.cgroup_path.clear();
  if (joined) joined = ch.Send(MsgType::kCgroupJoined);
  TRY(ch.PreferChildError(std::move(joined)));
  if (plan.limits_before_devices) {
    // (cg is null when a rootless container turned out to get no cgroup.)
    Status set = cg ? ApplyLimits(*cg, resources, cg_policy.rootless) : Ok();
    if (set) set = ch.Send(MsgType::kLimitsSet);
    TRY(ch.PreferChildError(std::move(set)));
  }
  // Unread until state.json exists; written while the child mounts.
  TRY(store.SaveConfig(o.id, config_text));
  log::Debugf("child process in init(): pid {}", pid);
  TRY(ch.Expect(MsgType::kMountsDone));
  if (cg && !plan.limits_before_devices) TRY(ApplyLimits(*cg, resources, cg_policy.rootless));
  TRY(RunHooks(spec.hooks.prestart, "prestart", state_json));
  TRY(RunHooks(spec.hooks.create_runtime, "createRuntime", state_json));
  if (plan.await_hooks_done) TRY(ch.Send(MsgType::kHooksDone));
  // state.json is written while init finishes its setup, and published (one
  // rename) once it is ready.
  st.init_start_time = ProcessStartTime(pid);
  auto state_file = TRY(store.Prepare(st));
  TRY(ch.Expect(MsgType::kReady));
  log::Debugf("init: closing the pipe to signal completion (pid {} waits on exec.fifo)", pid);
  TRY(state_file.Commit());
  if (!pid_file.empty()) TRY(fs::WriteFileAtomic(pid_file, std::to_string(pid), 0644));
  rollback.armed = false;
  created.pid = pid;
  created.state = std::move(st);
  created.hooks = std::move(spec.hooks);
  created.cgroup = std::move(rollback.cg);
  created.host_mounts = plan.host_mount_ns;
  return created;
}

Status Create(const GlobalOptions& g, const CreateOptions& o) {
  TRY_CTX(CreateContainer(g, o, false), "create {}", o.id);
  return Ok();
}

}  // namespace husk::runtime
