// exec: a new process in a running container's namespaces and cgroup, set up
// from the container's process as a template (runc's semantics).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/fs.h"
#include "base/log.h"
#include "runtime/console.h"
#include "runtime/create.h"
#include "runtime/plan.h"
#include "runtime/rootless.h"
#include "runtime/runtime.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"
#include "sys/fdpass.h"

namespace husk::runtime {

namespace {

volatile sig_atomic_t g_exec_pid = 0;

void Forward(int sig) {
  pid_t pid = g_exec_pid;
  if (pid > 0) ::kill(pid, sig);
}

Result<oci::Process> ProcessFromOptions(const ExecOptions& o, const oci::Spec& spec) {
  if (o.process) return *o.process;
  if (!spec.process) return Err("the container has no process to use as a template");
  oci::Process p = *spec.process;
  if (o.args.empty()) return Err("exec: no command given");
  p.args = o.args;
  for (auto& e : o.env) p.env.push_back(e);
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (o.uid) p.user.uid = *o.uid;
  if (o.gid) p.user.gid = *o.gid;
  for (auto g : o.additional_gids) p.user.additional_gids.push_back(g);
  if (!o.caps.empty()) {
    if (!p.capabilities) p.capabilities = oci::Capabilities{};
    for (auto& c : o.caps) {
      p.capabilities->bounding.push_back(c);
      p.capabilities->effective.push_back(c);
      p.capabilities->permitted.push_back(c);
      p.capabilities->inheritable.push_back(c);
      p.capabilities->ambient.push_back(c);
    }
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  p.terminal = o.tty;
  return p;
}

}  // namespace

Result<int> Exec(const GlobalOptions& g, const ExecOptions& o) {
  StateStore store(g.root);
  auto st = TRY_CTX(store.Load(o.id), "exec");
  ContainerStatus status = store.StatusOf(st);
  if (status == ContainerStatus::kStopped)
    return Err("exec {}: cannot exec in a stopped container", o.id);
  if (status == ContainerStatus::kPaused && !o.ignore_paused)
    return Err("exec {}: cannot exec in a paused container", o.id);
  oci::Spec spec = TRY_CTX(store.LoadConfig(o.id), "exec {}", o.id);
  oci::Process proc = TRY_CTX(ProcessFromOptions(o, spec), "exec {}", o.id);
  const oci::Linux lx = spec.linux_.value_or(oci::Linux{});

  if (proc.terminal && o.console_socket.empty() && o.detach)
    return Err("exec {}: cannot allocate a tty with --detach without --console-socket", o.id);

  std::string proc_dir = "/proc/" + std::to_string(st.init_pid);
  UniqueFd rootfd(::open((proc_dir + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  InitPlan plan;
  plan.is_exec = true;
  plan.process = TRY_CTX(BuildProcessPlan(proc, &lx, rootfd.get()), "exec {}", o.id);
  // A rootless container's user namespace denies setgroups(2).
  if (auto sg = fs::ReadFile(proc_dir + "/setgroups"); sg.ok() && sg->starts_with("deny"))
    plan.process.set_groups = false;
  // Not root: the container's user namespace first, or nothing else can be joined.
  bool user_joined = TRY_CTX(EnterUserNamespaceForExec(proc_dir, lx), "exec {}", o.id);

  // Every namespace the container has, joined as plan.h says: the parent enters
  // all but user and cgroup around clone3 (so that those owned by the host's
  // user namespace are joined with the host's rights); the child joins these two.
  for (auto& ns : lx.namespaces) {
    std::string path = proc_dir + "/ns/" + NamespaceProcName(ns.type);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoErr("exec {}: open {}", o.id, path);
    AddJoin(&plan, NsJoin{NamespaceFlag(ns.type), std::move(fd), path});
  }
  // No mount namespace of its own: the container's root is init's chroot.
  if (std::none_of(lx.namespaces.begin(), lx.namespaces.end(),
                   [](const oci::Namespace& ns) { return ns.type == "mount"; }))
    plan.exec_chroot = proc_dir + "/root";

  if (user_joined) {
    // Already in it (setns to one's own user namespace is refused), and without
    // rights over our own namespaces now: pid and time apply to children only,
    // so we stay in them (this process starts no other); the child joins the rest.
    plan.user_join = NsJoin{};
    for (auto& j : plan.parent_joins) {
      if (j.nstype == CLONE_NEWPID || j.nstype == CLONE_NEWTIME) {
        if (::setns(j.fd.get(), j.nstype) != 0) return ErrnoErr("exec {}: join {}", o.id, j.path);
      } else {
        plan.child_joins.push_back(std::move(j));
      }
    }
    plan.parent_joins.clear();
  }

  UniqueFd console, console_parent, console_child;
  if (proc.terminal) {
    if (!o.console_socket.empty()) {
      console = TRY_CTX(ConnectConsole(o.console_socket), "exec {}", o.id);
    } else {
      console_parent = TRY(MakeConsoleSocketPair(&console_child));
      console = std::move(console_child);
    }
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return ErrnoErr("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  plan.sync_fd = child_end.get();
  plan.console_fd = console.get();
  plan.preserve_fds = o.preserve_fds;

  std::unique_ptr<cgroup::Manager> cg;
  cgroup::SubCgroups sub = TRY_CTX(cgroup::ParseSubCgroups(o.cgroups), "exec {}", o.id);
  UniqueFd cgfd;
  if (!st.cgroup_path.empty()) {
    cg = TRY_CTX(cgroup::Load(st.cgroup_path), "exec {}", o.id);
    // A (sub-)cgroup that can't be opened is reported by AddProcessTo, in runc's words.
    if (auto fd = cg->OpenForClone(sub); fd) cgfd = std::move(*fd);
  } else if (!sub.empty()) {
    return Err("exec {}: --cgroup: the container has no cgroup", o.id);
  }
  // Step names as in runc's debug log (see create.cc).
  log::Debugf("nsexec container setup: joining {} namespaces of pid {}", lx.namespaces.size(),
              st.init_pid);
  pid_t pid = TRY_CTX(CloneChild(plan, cgfd.get(), "process"), "exec {}", o.id);
  child_end.reset();
  console.reset();

  auto fail = [&](Error e) -> Error {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return e.wrap("exec " + o.id);
  };
  // Before kGo: the child runs nothing of the user's until it is in its cgroup.
  if (cg) {
    if (auto r = cg->AddProcessTo(pid, sub, st.init_pid); !r) return fail(std::move(r).error());
  }
  ParentChannel ch{parent_end.get(), pid, {}};
  if (lx.seccomp)
    ch.on_seccomp_fd = [&](UniqueFd listener, pid_t p) -> Status {
      std::string state_json = TRY(StateJson(g, o.id));
      return SendToSeccompAgent(*lx.seccomp, state_json, p, listener.get());
    };
  if (auto r = ch.Send(MsgType::kGo); !r) return fail(std::move(r).error());
  log::Debugf("child process in init(): pid {}", pid);
  UniqueFd master;
  if (console_parent) {
    auto m = ReceiveMaster(console_parent.get());
    if (!m) return fail(std::move(m).error());
    master = std::move(*m);
  }
  // The child answers kError, or closes the socket by exec'ing.
  if (auto r = ch.Expect(MsgType::kError); !r) return fail(std::move(r).error());
  log::Debugf("setns_init: about to exec: pid {} has exec'd", pid);
  if (!o.pid_file.empty())
    TRY(fs::WriteFileAtomic(fs::Absolute(o.pid_file), std::to_string(pid), 0644));
  if (o.detach) return 0;

  g_exec_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
    ::sigaction(sig, &sa, nullptr);
  if (master) {
    // Stop when the process exits even if a child it left behind holds the tty.
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    ProxyOptions popts;
    popts.stop_fd = pidfd.get();
    if (auto r = ProxyUntilHangup(master.get(), popts); !r)
      log::Warnf("exec {}: console: {}", o.id, r.error().message());
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return ErrnoErr("exec {}: wait", o.id);
  }
  g_exec_pid = 0;
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

}  // namespace husk::runtime
