// Internal to the runtime module: the parent's half of create, shared by
// `create` and `run`.
#pragma once

#include <sys/types.h>

#include "base/unique_fd.h"
#include "runtime/protocol.h"
#include "runtime/runtime.h"

namespace husk::runtime {

struct CreatedContainer {
  pid_t pid = 0;
  // With proxy_terminal and a terminal but no --console-socket: our end of the
  // socket the child sends the pty master over.
  UniqueFd console;
};

// Creates the container. With proxy_terminal (foreground run), a terminal
// without --console-socket goes to a socketpair of ours instead.
Result<CreatedContainer> CreateContainer(const GlobalOptions& g, const CreateOptions& o,
                                         bool proxy_terminal);

// Sends every message of a state JSON over the sync socket and waits for the
// child's answer; shared with exec.
struct ParentChannel {
  int fd = -1;
  pid_t child = -1;
  // Waits for `want`; a kError from the child, or its death, becomes the error.
  Status Expect(MsgType want);
  Status Send(MsgType t);
  Status SendBytes(const std::string& data);
};

// Connects to --console-socket; the error names the socket.
Result<UniqueFd> ConnectConsole(const std::string& path);

// Raw clone3 returning 0 in the child, like fork. cgroup_fd >= 0 adds CLONE_INTO_CGROUP.
pid_t Clone3(uint64_t flags, int cgroup_fd);

}  // namespace husk::runtime
