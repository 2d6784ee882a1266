#include "runtime/create.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/time.h"
#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/init_child.h"
#include "runtime/plan.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"
#include "sys/fdpass.h"

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
  bool armed = true;
  ~CreateRollback() {
    if (!armed) return;
    if (child > 0) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
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

// Joins the pid and time namespaces of the spec (they apply to children) or
// makes a new time namespace with its offsets, before clone.
Status PrepareParentNamespaces(const oci::Linux& lx) {
  for (auto& ns : lx.namespaces) {
    if (ns.type != "pid" && ns.type != "time") continue;
    int flag = NamespaceFlag(ns.type);
    if (!ns.path.empty()) {
      UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return ErrnoErr("open {} namespace {}", ns.type, ns.path);
      if (::setns(fd.get(), flag) != 0) return ErrnoErr("join {} namespace {}", ns.type, ns.path);
    } else if (ns.type == "time") {
      if (::unshare(flag) != 0) return ErrnoErr("unshare time namespace");
      std::string offsets;
      for (auto& [clock, off] : lx.time_offsets)
        offsets +=
            clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
      if (!offsets.empty())
        TRY(fs::WriteFile("/proc/self/timens_offsets", offsets).wrap("set time offsets"));
    }
  }
  return Ok();
}

std::string OwnerName() {
  struct passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
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
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) args.cgroup = static_cast<uint64_t>(cgroup_fd);
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

Status ParentChannel::Send(MsgType t) {
  Message m{};
  m.type = t;
  if (::send(fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m))
    return ErrnoErr("send {} to container init", MsgName(t));
  return Ok();
}

Status ParentChannel::SendBytes(const std::string& data) {
  if (::send(fd, data.data(), data.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(data.size()))
    return ErrnoErr("send state to container init");
  return Ok();
}

Status ParentChannel::Expect(MsgType want) {
  Message m{};
  ssize_t n;
  do {
    n = ::recv(fd, &m, sizeof m, 0);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof m)) {
    if (m.type == MsgType::kError) {
      m.text[sizeof m.text - 1] = 0;
      return Error{m.err, m.text};
    }
    if (m.type == want) return Ok();
    return Err("container init: expected {}, got {}", MsgName(want), MsgName(m.type));
  }
  if (n < 0) return ErrnoErr("waiting for {} from container init", MsgName(want));
  // End of file: the child is gone (or, for exec, has exec'd when want is kReady).
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

  auto cg_owned = TRY(cgroup::Open(lx.cgroups_path, o.id, false));
  TRY(cg_owned->Create());
  // A cgroup someone froze would freeze init mid-setup: refuse it, and leave it
  // alone (it is not ours to remove).
  if (auto frozen = cg_owned->Frozen(); frozen.ok() && *frozen)
    return Err("container's cgroup unexpectedly frozen");
  if (auto pids = cg_owned->Pids(); pids.ok() && !pids->empty())
    log::Warnf("container's cgroup is not empty: {} process(es) found", pids->size());
  rollback.cg = std::move(cg_owned);
  cgroup::Manager* cg = rollback.cg.get();

  PlanInputs in;
  in.spec = &spec;
  in.rootfs = rootfs;
  in.bundle = bundle;
  in.no_pivot = o.no_pivot;
  in.cgroup = cg;
  InitPlan plan = TRY(BuildInitPlan(in));

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

  TRY(PrepareParentNamespaces(lx));
  auto cgfd = TRY(cg->OpenForClone());
  pid_t pid = Clone3(plan.clone_flags, cgfd.get());
  if (pid < 0 && cgfd.valid()) pid = Clone3(plan.clone_flags, -1);
  if (pid < 0) return ErrnoErr("clone container init");
  if (pid == 0) ChildMain(plan);
  rollback.child = pid;
  child_end.reset();
  fifo_r.reset();
  fifo_w.reset();
  console.reset();

  ParentChannel ch{parent_end.get(), pid};
  TRY(cg->AddProcess(pid));
  if (plan.clone_flags & CLONE_NEWUSER) TRY(WriteIdMaps(pid, lx));

  ContainerState st;
  st.id = o.id;
  st.init_pid = pid;
  st.bundle = bundle;
  st.rootfs = rootfs;
  st.created = time::Rfc3339Nano(time::Now());
  st.owner = OwnerName();
  st.annotations = spec.annotations;
  st.cgroup_path = cg->path();
  std::string state_json = StateToJson(st, ContainerStatus::kCreating);
  if (state_json.size() > plan.state_buf.size()) return Err("state JSON is too large");

  TRY(ch.Send(MsgType::kGo));
  TRY(ch.SendBytes(state_json));
  TRY(ch.Expect(MsgType::kMountsDone));
  // Limits apply once the rootfs is built, as with runc: init must be able to
  // mknod the spec's devices even when the device cgroup will deny them.
  oci::Resources resources = lx.resources.value_or(oci::Resources{});
  AddDefaultDeviceRules(&resources);
  TRY(cg->Apply(resources));
  TRY(RunHooks(spec.hooks.prestart, "prestart", state_json));
  TRY(RunHooks(spec.hooks.create_runtime, "createRuntime", state_json));
  TRY(ch.Send(MsgType::kHooksDone));
  TRY(ch.Expect(MsgType::kReady));

  st.init_start_time = ProcessStartTime(pid);
  TRY(store.SaveConfig(o.id, config_text));
  TRY(store.Save(st));
  if (!pid_file.empty()) TRY(fs::WriteFileAtomic(pid_file, std::to_string(pid), 0644));
  rollback.armed = false;
  created.pid = pid;
  return created;
}

Status Create(const GlobalOptions& g, const CreateOptions& o) {
  TRY_CTX(CreateContainer(g, o, false), "create {}", o.id);
  return Ok();
}

}  // namespace husk::runtime
