// Internal to the runtime module: the parent's half of create, shared by
// `create` and `run`.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "oci/spec.h"
#include "runtime/protocol.h"
#include "runtime/runtime.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"

namespace husk::runtime {

struct CreatedContainer {
  pid_t pid = 0;
  // With proxy_terminal and a terminal but no --console-socket: our end of the
  // socket the child sends the pty master over.
  UniqueFd console;
  // What state.json now says, the spec's hooks and the container's cgroup:
  // `run` starts, waits for and removes the container with these instead of
  // reading them back from the state dir.
  ContainerState state;
  oci::Hooks hooks;
  std::unique_ptr<cgroup::Manager> cgroup;
  // No mount namespace: its mounts are in ours, under the rootfs.
  bool host_mounts = false;
};

// Creates the container. With proxy_terminal (foreground run), a terminal
// without --console-socket goes to a socketpair of ours instead.
Result<CreatedContainer> CreateContainer(const GlobalOptions& g, const CreateOptions& o,
                                         bool proxy_terminal);

// The halves of `start` and `delete` that `run` shares once it holds the
// container's state. StartCreated releases init from exec.fifo, optionally waits
// until it has exec'd, and runs the poststart hooks. RemoveStopped removes the
// cgroup of a container whose init is gone, runs the poststop hooks and removes
// the state dir.
Status StartCreated(const StateStore& store, const ContainerState& st,
                    const std::vector<oci::Hook>& poststart, bool wait_for_exec);
// host_mounts: the container had no mount namespace; its mounts, all strictly
// under the rootfs in ours, are detached.
Status RemoveStopped(const StateStore& store, const ContainerState& st, cgroup::Manager* cg,
                     const std::vector<oci::Hook>& poststop, bool host_mounts);
// Detaches (MNT_DETACH) every mount strictly under dir in our mount namespace,
// the most recent first.
void DetachMountsUnder(const std::string& dir);

// Sends every message of a state JSON over the sync socket and waits for the
// child's answer; shared with exec.
struct ParentChannel {
  int fd = -1;
  pid_t child = -1;
  // Handles kSeccompFd while waiting: gets the listener fd and the child's pid.
  std::function<Status(UniqueFd, pid_t)> on_seccomp_fd;
  // Waits for `want`; a kError from the child, or its death, becomes the error.
  // kSeccompFd on the way goes to on_seccomp_fd, then kSeccompDone is sent.
  // want == kError waits for end-of-file instead (exec: the child has exec'd).
  // got (when given) receives the message.
  Status Expect(MsgType want, Message* got = nullptr);
  Status Send(MsgType t);
  Status SendBytes(const std::string& data);
  // A message of type t carrying fd (SCM_RIGHTS).
  Status SendFd(MsgType t, int fd);
  // When `failed` is an error, a kError the child queued before it died is the
  // better explanation (our write to its cgroup or socket failed because it was
  // gone): that is returned instead. Does not block.
  Status PreferChildError(Status failed);
};

// Sends the seccomp listener fd with runc's ContainerProcessState JSON to the
// agent listening at s.listener_path.
Status SendToSeccompAgent(const oci::Seccomp& s, const std::string& state_json, pid_t pid,
                          int listener_fd);

// Connects to --console-socket; the error names the socket.
Result<UniqueFd> ConnectConsole(const std::string& path);

// Raw clone3 returning 0 in the child, like fork. cgroup_fd >= 0 adds CLONE_INTO_CGROUP.
// With CLONE_PARENT the new process is our parent's child (and signals it as we do).
pid_t Clone3(uint64_t flags, int cgroup_fd);

struct InitPlan;
// Starts the child (create's init, or exec's process) with clone3 in the
// namespaces the plan joins by path, entered for the moment (sys/ns_switch.h),
// and in the new ones; the child runs ChildMain. Errors name `what`.
Result<pid_t> CloneChild(InitPlan& plan, int cgroup_fd, const char* what);

}  // namespace husk::runtime
