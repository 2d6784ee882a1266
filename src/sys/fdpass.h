// Passing fds over AF_UNIX sockets with SCM_RIGHTS.
//
// The wire format is runc's console-socket protocol: one message whose data is
// a name (runc sends the pty master's name, "/dev/ptmx") and whose ancillary
// data is exactly one fd. containerd (go-runc's console socket), conmon and
// runc's own recvtty read it, so `--console-socket` works with all of them.
// *NoAlloc functions run in the cloned child and return an fd / 0 or -errno.
#pragma once

#include <stddef.h>

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace husk::sys {

// Names longer than this are refused, as by runc; receivers use buffers of it.
inline constexpr size_t kMaxFdNameLen = 4096;

// Sends `fd` with `name` as the payload (an empty name sends one NUL byte:
// SCM_RIGHTS needs at least one byte of data). Never raises SIGPIPE. Returns 0
// or -errno (-ENAMETOOLONG when name exceeds kMaxFdNameLen).
int SendFdNoAlloc(int sock, int fd, const char* name);

// Sends one message of exactly len bytes with fd attached (the runtime's
// SOCK_SEQPACKET sync socket). Returns 0 or -errno.
int SendMsgFdNoAlloc(int sock, const void* data, size_t len, int fd);

// Receives one message into data (at most len bytes) and the fd that came with
// it (O_CLOEXEC), or *fd = -1 when none did; extra fds are closed. Returns the
// byte count (0 at end-of-file) or -errno.
long RecvMsgFdNoAlloc(int sock, void* data, size_t len, int* fd);

// Connects a SOCK_STREAM AF_UNIX socket (O_CLOEXEC) to `path`. Returns the fd
// or -errno (-ENAMETOOLONG when the path does not fit sockaddr_un).
int ConnectUnixNoAlloc(const char* path);

// Receives one fd (O_CLOEXEC) and its name. Fails if the peer closed first,
// sent no fd, or sent more than one (the extras are closed).
Result<UniqueFd> RecvFd(int sock, std::string* name = nullptr);

// A listening SOCK_STREAM AF_UNIX socket bound to `path`, which must not exist.
Result<UniqueFd> ListenUnix(const std::string& path);

}  // namespace husk::sys
