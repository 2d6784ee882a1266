#include "sys/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace husk::sys {

namespace {

// One sendmsg(2) of len bytes with fd as SCM_RIGHTS; the bytes sent or -errno.
ssize_t SendWithFd(int sock, const void* data, size_t len, int fd) {
  iovec iov;
  iov.iov_base = const_cast<void*>(data);
  iov.iov_len = len;
  // A union keeps the control buffer aligned for cmsghdr.
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

}  // namespace

int SendFdNoAlloc(int sock, int fd, const char* name) {
  if (fd < 0) return -EBADF;
  size_t len = name == nullptr ? 0 : strlen(name);
  if (len > kMaxFdNameLen) return -ENAMETOOLONG;
  static const char kNul = '\0';
  const char* data = len == 0 ? &kNul : name;
  if (len == 0) len = 1;
  ssize_t n = SendWithFd(sock, data, len, fd);
  if (n < 0) return static_cast<int>(n);
  // A stream socket may take part of the name; the fd rode on the first
  // byte, the rest goes as plain data so the receiver sees the whole name.
  size_t sent = static_cast<size_t>(n);
  while (sent < len) {
    n = send(sock, data + sent, len - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    sent += static_cast<size_t>(n);
  }
  return 0;
}

int SendMsgFdNoAlloc(int sock, const void* data, size_t len, int fd) {
  if (fd < 0) return -EBADF;
  ssize_t n = SendWithFd(sock, data, len, fd);
  if (n < 0) return static_cast<int>(n);
  return static_cast<size_t>(n) == len ? 0 : -EMSGSIZE;
}

long RecvMsgFdNoAlloc(int sock, void* data, size_t len, int* fd) {
  *fd = -1;
  iovec iov;
  iov.iov_base = data;
  iov.iov_len = len;
  union {
    char buf[CMSG_SPACE(4 * sizeof(int))];
    cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      if (*fd < 0)
        *fd = got;
      else
        close(got);
    }
  }
  return static_cast<long>(n);
}

int ConnectUnixNoAlloc(const char* path) {
  if (path == nullptr || path[0] == '\0') return -EINVAL;
  sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
  memcpy(addr.sun_path, path, len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  // connect() interrupted by a signal keeps connecting in the background;
  // retrying would fail with EALREADY, so EINTR is an error to the caller.
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

Result<UniqueFd> RecvFd(int sock, std::string* name) {
  std::string buf(kMaxFdNameLen, '\0');
  iovec iov;
  iov.iov_base = buf.data();
  iov.iov_len = buf.size();
  // Room for a few fds, so a confused sender is detected rather than having
  // its extra fds dropped by the kernel with MSG_CTRUNC.
  union {
    char buf[CMSG_SPACE(sizeof(int) * 8)];
    cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof(control.buf);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoErr("receive fd");

  UniqueFd fd;
  int count = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < nfds; ++k) {
      int got;
      memcpy(&got, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      if (count++ == 0) {
        fd.reset(got);
      } else {
        close(got);
      }
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) return Err("receive fd: control data truncated");
  if (count == 0) {
    if (n == 0) return Err("receive fd: peer closed the socket without sending one");
    return Err("receive fd: message carried no fd");
  }
  if (count > 1) return Err("receive fd: expected 1 fd, got {}", count);
  if (name != nullptr) {
    buf.resize(static_cast<size_t>(n));
    // An empty name travels as one NUL byte.
    if (buf.size() == 1 && buf[0] == '\0') buf.clear();
    *name = std::move(buf);
  }
  return fd;
}

Result<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return CodeErr(ENAMETOOLONG, "listen on {}", path);
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoErr("listen on {}: socket", path);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return ErrnoErr("listen on {}: bind", path);
  }
  if (listen(fd.get(), SOMAXCONN) < 0) return ErrnoErr("listen on {}", path);
  return fd;
}

}  // namespace husk::sys
