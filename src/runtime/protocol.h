// The parent/child protocol of `huskrun create` (and exec), in one place.
//
// The parent plans everything (plan.h) and clones the child with the new
// namespaces. They talk over a SOCK_SEQPACKET socketpair with fixed-size
// messages; each wait names what it expects. The child never allocates: it
// fills a Message on its stack and send()s it.
//
//   parent (huskrun create)                      child (container init)
//   ───────────────────────                      ──────────────────────
//   enter the joined namespaces but user and
//   cgroup; new time ns + offsets
//   clone3(new namespaces [, INTO_CGROUP]) ───▶  starts
//   back in its own namespaces                   [joined userns: setns(user), then
//                                                 unshare(new namespaces), or with
//                                                 a new pid ns clone3(CLONE_PARENT
//                              ◀──────────────── | new namespaces) = init: kInitPid,
//   [init is that pid; reap the first child]      exit; init goes on]
//                                                 waits for kGo
//   uid/gid maps
//   kGo (+ state JSON for hooks) ─────────────▶
//   [kMountSource + fd, per userns bind] ─────▶  setresuid(0) in a user namespace,
//   cgroup.procs (v1)                             session keyring, rlimits,
//   kCgroupJoined ────────────────────────────▶  oom_score_adj, [kCgroupJoined,
//   [limits_before_devices: cgroup limits,        setns/unshare(cgroup)], hostname,
//    kLimitsSet] ─────────────────────────────▶  mounts, [kCgroupJoined],
//                                                 [kLimitsSet], devices
//                              ◀──────────────── kMountsDone
//   [else cgroup limits], prestart +
//   createRuntime hooks
//   kHooksDone (unless plan.await_hooks_done ─▶  [kHooksDone], createContainer hooks,
//   is false: no limits or hooks were left)
//   state.json, under a temp name                 pivot_root, masked/readonly
//                                                 paths, sysctl, pty → console
//                                                 socket, user, caps, seccomp,
//                                                 PATH lookup, no_new_privs
//                                                 (+ seccomp when set)
//                              ◀──────────────── [kSeccompFd + listener fd
//   send it to the seccomp agent                   when SCMP_ACT_NOTIFY]
//   [kSeccompDone] ───────────────────────────▶
//                              ◀──────────────── kReady
//   rename state.json in place, pid file; exit   block reading exec.fifo
//   ...
//   `huskrun start`: write a byte to exec.fifo ─▶ startContainer hooks, execve
//
// Any failure in the child is sent as kError (errno + message) and the child
// exits; the parent kills and reaps it, removes the cgroup and the state dir,
// and reports "create <id>: <message>".
#pragma once

#include <cstdint>
#include <cstring>

namespace husk::runtime {

enum class MsgType : uint32_t {
  kGo = 1,
  kMountsDone = 2,
  kHooksDone = 3,
  kReady = 4,
  kError = 5,
  // A filter with SCMP_ACT_NOTIFY was loaded: the child sends its listener fd
  // (SCM_RIGHTS), the parent hands it to linux.seccomp.listenerPath and answers
  // kSeccompDone; only then may the child close it and go on.
  kSeccompFd = 6,
  kSeccompDone = 7,
  // After kGo (and the state), one per bind mount that has source_from_parent,
  // in plan order: the source opened by the parent (SCM_RIGHTS).
  kMountSource = 8,
  // The parent put the child in its cgroups (v1; on v2 clone3 did). The child
  // waits for it before joining or unsharing a cgroup namespace, or else before
  // kMountsDone: it builds the rootfs meanwhile.
  kCgroupJoined = 9,
  // In a joined user namespace with a new pid namespace (plan.h: ForksInit),
  // before kGo: the child cloned init and sends its pid; then it exits.
  kInitPid = 10,
  // With plan.limits_before_devices: the parent wrote the cgroup limits (after
  // kCgroupJoined, while the child mounts); the child waits for it before it
  // makes the device nodes, so that no mknod races the device rules' writes.
  kLimitsSet = 11,
};

inline const char* MsgName(MsgType t) {
  switch (t) {
    case MsgType::kGo:
      return "go";
    case MsgType::kMountsDone:
      return "mounts-done";
    case MsgType::kHooksDone:
      return "hooks-done";
    case MsgType::kReady:
      return "ready";
    case MsgType::kError:
      return "error";
    case MsgType::kSeccompFd:
      return "seccomp-fd";
    case MsgType::kSeccompDone:
      return "seccomp-done";
    case MsgType::kMountSource:
      return "mount-source";
    case MsgType::kCgroupJoined:
      return "cgroup-joined";
    case MsgType::kInitPid:
      return "init-pid";
    case MsgType::kLimitsSet:
      return "limits-set";
  }
  return "unknown";
}

struct Message {
  MsgType type;
  int32_t err;      // errno for kError
  int32_t pid;      // kInitPid: init, as the parent sees it
  char text[1000];  // kError: what failed, NUL-terminated
};

// A fixed buffer the child formats error text into without allocating.
class MsgWriter {
 public:
  explicit MsgWriter(Message* m) : m_(m) { m_->text[0] = 0; }
  MsgWriter& operator<<(const char* s) {
    if (!s) s = "(null)";
    size_t room = sizeof(m_->text) - 1 - len_;
    size_t n = strnlen(s, room);
    memcpy(m_->text + len_, s, n);
    len_ += n;
    m_->text[len_] = 0;
    return *this;
  }
  MsgWriter& operator<<(long v) {
    char buf[24];
    int i = sizeof buf;
    buf[--i] = 0;
    bool neg = v < 0;
    unsigned long u = neg ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      buf[--i] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u && i > 1);
    if (neg) buf[--i] = '-';
    return *this << (buf + i);
  }

 private:
  Message* m_;
  size_t len_ = 0;
};

}  // namespace husk::runtime
