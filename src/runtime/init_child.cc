// The child's half of the create/exec protocol (see protocol.h). Everything
// here makes syscalls on data the parent prepared; nothing allocates.
#include "runtime/init_child.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include <linux/keyctl.h>

#include "runtime/child_util.h"
#include "runtime/create.h"
#include "runtime/hooks.h"
#include "runtime/mounts_child.h"
#include "sys/fdpass.h"
#include "sys/pty.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace husk::runtime {

namespace {

[[noreturn]] void Die(const InitPlan& p, Message* m) {
  if (p.sync_fd >= 0) {
    m->type = MsgType::kError;
    ::send(p.sync_fd, m, sizeof *m, MSG_NOSIGNAL);
  } else {
    // After `create` returned nobody listens on the socket: say it on stderr.
    const char prefix[] = "huskrun: ";
    (void)!::write(2, prefix, sizeof prefix - 1);
    (void)!::write(2, m->text, strnlen(m->text, sizeof m->text));
    if (m->err) {
      (void)!::write(2, ": ", 2);
      const char* s = strerror(m->err);  // glibc: a static table, no allocation
      (void)!::write(2, s, strlen(s));
    }
    (void)!::write(2, "\n", 1);
  }
  _exit(m->type == MsgType::kError && m->err == ENOENT ? 127 : 1);
}

int Send(const InitPlan& p, MsgType t, Message* err) {
  Message m{};
  m.type = t;
  if (::send(p.sync_fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m))
    return ChildFail(err, errno, "send ", MsgName(t));
  return 0;
}

int Expect(const InitPlan& p, MsgType want, Message* err) {
  Message m{};
  ssize_t n;
  do {
    n = ::recv(p.sync_fd, &m, sizeof m, 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof m))
    return ChildFail(err, n < 0 ? errno : EPIPE, "waiting for ", MsgName(want),
                     ": parent went away");
  if (m.type != want)
    return ChildFail(err, EPROTO, "expected ", MsgName(want), ", got ", MsgName(m.type));
  return 0;
}

// Receives the state JSON the parent sends right after kGo.
int ReceiveState(InitPlan& p, Message* err) {
  ssize_t n;
  do {
    n = ::recv(p.sync_fd, p.state_buf.get(), p.state_cap, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ChildFail(err, errno, "receive state");
  p.state_len = static_cast<size_t>(n);
  return 0;
}

// Finds argv[0] as execvp would, inside the container, into buf.
int LookPath(const ProcessPlan& pp, char* buf, size_t len, Message* err) {
  const char* name = pp.argv.ptrs[0];
  if (strchr(name, '/')) {
    if (strlen(name) + 1 > len) return ChildFail(err, ENAMETOOLONG, "exec: ", name);
    strcpy(buf, name);
    if (::access(buf, X_OK) != 0) return ChildFail(err, errno, "exec: \"", name, "\"");
    return 0;
  }
  const char* dir = pp.path_env.c_str();
  while (true) {
    const char* end = strchrnul(dir, ':');
    size_t dlen = static_cast<size_t>(end - dir);
    if (dlen == 0) {
      dir = ".";
      dlen = 1;
    }
    if (dlen + 1 + strlen(name) + 1 <= len) {
      memcpy(buf, dir, dlen);
      buf[dlen] = '/';
      strcpy(buf + dlen + 1, name);
      struct stat st;
      if (::stat(buf, &st) == 0 && S_ISREG(st.st_mode) && ::access(buf, X_OK) == 0) return 0;
    }
    if (*end == 0) break;
    dir = end + 1;
  }
  return ChildFail(err, 0, "exec: \"", name, "\": executable file not found in $PATH");
}

int SetupTerminal(const InitPlan& p, Message* err) {
  const ProcessPlan& pp = p.process;
  sys::PtyPair pty;
  int r = sys::OpenPtyNoAlloc(&pty);
  if (r < 0) return ChildFail(err, -r, "open pty");
  if (pp.rows || pp.cols) sys::SetWinsizeNoAlloc(pty.master, pp.rows, pp.cols);
  // The terminal belongs to the process's user, as runc makes it.
  // The group stays the one devpts gives (tty, by the gid= mount option).
  if (::fchown(pty.slave, pp.uid, static_cast<gid_t>(-1)) != 0) {
    int e = errno;
    ::close(pty.master);
    ::close(pty.slave);
    return ChildFail(err, e, "chown pty");
  }
  r = sys::SendFdNoAlloc(p.console_fd, pty.master, "/dev/ptmx");
  ::close(pty.master);
  if (r < 0) return ChildFail(err, -r, "send pty master to console socket");
  ::close(p.console_fd);
  // Also closes the slave's own fd once it is on 0, 1 and 2.
  r = sys::MakeControllingTtyNoAlloc(pty.slave);
  if (r < 0) return ChildFail(err, -r, "make pty the controlling terminal");
  return 0;
}

// Loads the filter; a notify listener goes to the parent (for the seccomp agent)
// and is closed once the parent says it was handed over.
int LoadSeccomp(const InitPlan& p, Message* err) {
  int r = sys::LoadSeccompNoAlloc(*p.process.seccomp);
  if (r < 0) return ChildFail(err, -r, "load seccomp filter");
  if (r == 0) return 0;
  int listener = r;
  Message m{};
  m.type = MsgType::kSeccompFd;
  int sent = p.sync_fd < 0 ? -EPIPE : sys::SendMsgFdNoAlloc(p.sync_fd, &m, sizeof m, listener);
  if (sent < 0) return ChildFail(err, -sent, "send seccomp listener to the runtime");
  if (Expect(p, MsgType::kSeccompDone, err) != 0) return -1;
  ::close(listener);
  return 0;
}

// The bind sources the parent opened for us (plan.h: source_from_parent).
int ReceiveMountSources(InitPlan& p, Message* err) {
  for (auto& m : p.mounts) {
    if (!m.source_from_parent) continue;
    Message msg{};
    long n = sys::RecvMsgFdNoAlloc(p.sync_fd, &msg, sizeof msg, &m.source_fd);
    if (n != static_cast<long>(sizeof msg) || msg.type != MsgType::kMountSource || m.source_fd < 0)
      return ChildFail(err, n < 0 ? static_cast<int>(-n) : EPROTO, "receive bind source ",
                       m.source.c_str());
  }
  return 0;
}

int SetupIdentity(const InitPlan& p, Message* err) {
  const ProcessPlan& pp = p.process;
  if (pp.caps && caps::DropBoundingNoAlloc(*pp.caps) != 0)
    return ChildFail(err, errno, "drop bounding capabilities");
  if (pp.set_groups && ::setgroups(pp.groups.size(), pp.groups.data()) != 0)
    return ChildFail(err, errno, "setgroups");
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return ChildFail(err, errno, "keep capabilities");
  // Without no_new_privs the filter needs CAP_SYS_ADMIN: load it while we are root.
  if (pp.seccomp && !pp.no_new_privs && LoadSeccomp(p, err) != 0) return -1;
  if (::setresgid(pp.gid, pp.gid, pp.gid) != 0)
    return ChildFail(err, errno, "setgid ", static_cast<long>(pp.gid));
  if (::setresuid(pp.uid, pp.uid, pp.uid) != 0)
    return ChildFail(err, errno, "setuid ", static_cast<long>(pp.uid));
  if (pp.caps) {
    int r = caps::ApplyNoAlloc(*pp.caps);
    if (r < 0) return ChildFail(err, -r, "apply capabilities");
  }
  ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  if (pp.umask) ::umask(*pp.umask);
  return 0;
}

int SetupFds(const InitPlan& p, Message* err) {
  unsigned first = 3 + static_cast<unsigned>(p.preserve_fds);
  if (::syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    return ChildFail(err, errno, "mark fds close-on-exec");
  for (int fd = 3; fd < static_cast<int>(first); ++fd) {
    if (fd == p.sync_fd || fd == p.fifo_read_fd || fd == p.fifo_write_fd) continue;
    ::fcntl(fd, F_SETFD, 0);
  }
  return 0;
}

// The user namespace joined by path (plan.h: user_join), first thing: the
// namespaces made in it next belong to it. A new pid namespace applies to
// children only, so that one needs a clone3: init is made as huskrun's child
// (CLONE_PARENT), this process reports init's pid and exits.
int JoinUserNamespace(InitPlan& p, Message* err) {
  const char* path = p.user_join.path.c_str();
  if (::setns(p.user_join.fd.get(), CLONE_NEWUSER) != 0)
    return ChildFail(err, errno, "join namespace ", path);
  if (p.is_exec) return 0;
  if (!p.ForksInit()) {
    if (p.clone_flags && ::unshare(static_cast<int>(p.clone_flags)) != 0)
      return ChildFail(err, errno, "create namespaces in user namespace ", path);
    return 0;
  }
  pid_t init = Clone3(p.clone_flags | CLONE_PARENT, -1);
  if (init < 0) return ChildFail(err, errno, "clone container init in user namespace ", path);
  if (init == 0) return 0;
  Message m{};
  m.type = MsgType::kInitPid;
  m.pid = init;
  if (::send(p.sync_fd, &m, sizeof m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof m)) {
    ChildFail(err, errno, "send ", MsgName(m.type));
    ::kill(init, SIGKILL);
    return -1;
  }
  _exit(0);
}

}  // namespace

void ChildMain(InitPlan& p) noexcept {
  Message err{};
  const ProcessPlan& pp = p.process;
  char exec_path[PATH_MAX];

  if (p.user_join.fd.valid() && JoinUserNamespace(p, &err) != 0) Die(p, &err);
  if (Expect(p, MsgType::kGo, &err) != 0) Die(p, &err);
  if (!p.is_exec && ReceiveState(p, &err) != 0) Die(p, &err);
  if (!p.is_exec && ReceiveMountSources(p, &err) != 0) Die(p, &err);

  // Root of the user namespace builds the container (files it makes belong to
  // it); exec'd processes take their user later.
  if ((p.clone_flags & CLONE_NEWUSER) || (!p.is_exec && p.user_join.fd.valid())) {
    if (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0) {
      ChildFail(&err, errno, "become root in the user namespace");
      Die(p, &err);
    }
  }
  if (p.cgroup_join.fd.valid() && ::setns(p.cgroup_join.fd.get(), CLONE_NEWCGROUP) != 0) {
    ChildFail(&err, errno, "join namespace ", p.cgroup_join.path.c_str());
    Die(p, &err);
  }
  for (auto& j : p.child_joins) {
    if (::setns(j.fd.get(), j.nstype) != 0) {
      ChildFail(&err, errno, "join namespace ", j.path.c_str());
      Die(p, &err);
    }
  }
  if (!p.exec_chroot.empty() && (::chdir(p.exec_chroot.c_str()) != 0 || ::chroot(".") != 0)) {
    ChildFail(&err, errno, "chroot to ", p.exec_chroot.c_str());
    Die(p, &err);
  }
  for (auto& [res, lim] : pp.rlimits) {
    struct rlimit rl = {lim.first, lim.second};
    if (::setrlimit(res, &rl) != 0) {
      ChildFail(&err, errno, "setrlimit ", static_cast<long>(res));
      Die(p, &err);
    }
  }
  if (!pp.oom_score_adj.empty()) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, pp.oom_score_adj.data(), pp.oom_score_adj.size()) < 0) {
      ChildFail(&err, errno, "set oom_score_adj");
      Die(p, &err);
    }
    ::close(fd);
  }

  if (!p.session_keyring.empty() &&
      ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, p.session_keyring.c_str()) < 0 &&
      errno != ENOSYS) {
    ChildFail(&err, errno, "join session keyring ", p.session_keyring.c_str());
    Die(p, &err);
  }
  if (!p.is_exec) {
    // The parent joins us to the cgroups while we build the rootfs; a cgroup
    // namespace must be rooted at the container's cgroup, so it waits for that.
    if (p.new_cgroupns) {
      if (Expect(p, MsgType::kCgroupJoined, &err) != 0) Die(p, &err);
      if (::unshare(CLONE_NEWCGROUP) != 0) {
        ChildFail(&err, errno, "unshare cgroup namespace");
        Die(p, &err);
      }
    }
    if (p.hostname && ::sethostname(p.hostname->data(), p.hostname->size()) != 0) {
      ChildFail(&err, errno, "sethostname");
      Die(p, &err);
    }
    if (p.domainname && ::setdomainname(p.domainname->data(), p.domainname->size()) != 0) {
      ChildFail(&err, errno, "setdomainname");
      Die(p, &err);
    }
    int rootfd = SetupRootfsNoAlloc(p, &err);
    if (rootfd < 0) Die(p, &err);
    if (!p.new_cgroupns && Expect(p, MsgType::kCgroupJoined, &err) != 0) Die(p, &err);
    if (p.limits_before_devices && Expect(p, MsgType::kLimitsSet, &err) != 0) Die(p, &err);
    if (SetupDevicesNoAlloc(p, rootfd, &err) != 0) Die(p, &err);
    ::close(rootfd);
    if (Send(p, MsgType::kMountsDone, &err) != 0) Die(p, &err);
    if (p.await_hooks_done && Expect(p, MsgType::kHooksDone, &err) != 0) Die(p, &err);
    // As runc: createContainer hooks run in the rootfs (relative paths in them
    // name files of the container), before pivot_root.
    if (!p.create_container_hooks.empty() && ::chdir(p.rootfs.c_str()) != 0) {
      ChildFail(&err, errno, "chdir ", p.rootfs.c_str());
      Die(p, &err);
    }
    for (auto& h : p.create_container_hooks) {
      if (RunHookNoAlloc(h, p.state_buf.get(), p.state_len, &err) != 0) Die(p, &err);
    }
    if (EnterRootfsNoAlloc(p, &err) != 0) Die(p, &err);
    if (FinishRootfsNoAlloc(p, &err) != 0) Die(p, &err);
  }

  if (!pp.personality.empty()) {
    if (::personality(pp.personality == "LINUX32" ? PER_LINUX32 : PER_LINUX) < 0) {
      ChildFail(&err, errno, "personality");
      Die(p, &err);
    }
  }
  if (pp.terminal && SetupTerminal(p, &err) != 0) Die(p, &err);
  // cwd first as root (it may be unreadable by the user but reachable), then
  // again after switching user so permission problems surface here.
  bool cwd_ok = ::chdir(pp.cwd.c_str()) == 0;
  // Before seccomp: a profile may not know close_range.
  if (SetupFds(p, &err) != 0) Die(p, &err);
  if (SetupIdentity(p, &err) != 0) Die(p, &err);
  if (::chdir(pp.cwd.c_str()) != 0 && !cwd_ok) {
    ChildFail(&err, errno, "chdir to cwd \"", pp.cwd.c_str(), "\"");
    Die(p, &err);
  }
  if (LookPath(pp, exec_path, sizeof exec_path, &err) != 0) Die(p, &err);
  if (pp.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    ChildFail(&err, errno, "set no_new_privs");
    Die(p, &err);
  }
  // As runc: as late as possible, but while the parent still listens (a notify
  // listener must reach it). startContainer hooks run under the filter.
  if (pp.seccomp && pp.no_new_privs && LoadSeccomp(p, &err) != 0) Die(p, &err);

  if (!p.is_exec) {
    if (Send(p, MsgType::kReady, &err) != 0) Die(p, &err);
    p.sync_fd = -1;  // from here errors go to stderr
    // Block until `huskrun start` writes to the fifo. We hold a write end
    // ourselves so the read waits rather than seeing end-of-file.
    ::fcntl(p.fifo_read_fd, F_SETFL, 0);
    char byte;
    ssize_t n;
    do {
      n = ::read(p.fifo_read_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      ChildFail(&err, n < 0 ? errno : EPIPE, "wait for start");
      Die(p, &err);
    }
    ::close(p.fifo_read_fd);
    ::close(p.fifo_write_fd);
  }
  if (!p.is_exec) {
    for (auto& h : p.start_container_hooks) {
      if (RunHookNoAlloc(h, p.state_buf.get(), p.state_len, &err) != 0) Die(p, &err);
    }
  }
  ::execve(exec_path, pp.argv.get(), pp.envp.get());
  ChildFail(&err, errno, "exec ", exec_path);
  Die(p, &err);
}

}  // namespace husk::runtime
