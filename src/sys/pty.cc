#include "sys/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace husk::sys {
namespace {

int Ioctl(int fd, unsigned long req, unsigned long arg) {
  int r;
  do {
    r = ioctl(fd, req, arg);
  } while (r < 0 && errno == EINTR);
  return r;
}

// "/dev/pts/<n>" for the fallback path; snprintf may allocate for locales.
int PtsPathNoAlloc(unsigned n, char* buf, size_t len) {
  static constexpr char kPrefix[] = "/dev/pts/";
  constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
  char digits[16];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  if (len < kPrefixLen + d + 1) return -ENAMETOOLONG;
  memcpy(buf, kPrefix, kPrefixLen);
  for (size_t k = 0; k < d; ++k) buf[kPrefixLen + k] = digits[d - 1 - k];
  buf[kPrefixLen + d] = '\0';
  return 0;
}

int OpenSlave(int master) {
  int slave = Ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave >= 0) return slave;
  // ENOTTY/EINVAL: a kernel before 4.13. Anything else is a real error.
  if (errno != ENOTTY && errno != EINVAL) return -errno;
  unsigned n = 0;
  if (ioctl(master, TIOCGPTN, &n) < 0) return -errno;
  char path[32];
  int r = PtsPathNoAlloc(n, path, sizeof(path));
  if (r < 0) return r;
  slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  return slave >= 0 ? slave : -errno;
}

}  // namespace

int OpenPtyNoAlloc(PtyPair* out) {
  if (out == nullptr) return -EINVAL;
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -errno;
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
    int e = errno;
    close(master);
    return -e;
  }
  int slave = OpenSlave(master);
  if (slave < 0) {
    close(master);
    return slave;
  }
  out->master = master;
  out->slave = slave;
  return 0;
}

int SetWinsizeNoAlloc(int fd, unsigned rows, unsigned cols) {
  if (rows > 0xffff || cols > 0xffff) return -EINVAL;
  winsize ws;
  memset(&ws, 0, sizeof(ws));
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return -errno;
  return 0;
}

int MakeControllingTtyNoAlloc(int slave) {
  if (slave < 0) return -EBADF;
  // setsid() fails with EPERM for a process group leader; a session leader
  // already has what we need, anyone else must not be a group leader here.
  if (getsid(0) != getpid() && setsid() < 0) return -errno;
  if (Ioctl(slave, TIOCSCTTY, 0) < 0) return -errno;
  for (int target = 0; target <= 2; ++target) {
    if (slave == target) {
      // dup2 onto itself keeps O_CLOEXEC; clear it so the fd survives exec.
      if (fcntl(slave, F_SETFD, 0) < 0) return -errno;
      continue;
    }
    int r;
    do {
      r = dup2(slave, target);
    } while (r < 0 && (errno == EINTR || errno == EBUSY));
    if (r < 0) return -errno;
  }
  if (slave > 2) close(slave);
  return 0;
}

Result<std::string> PtsName(int master) {
  unsigned n = 0;
  if (ioctl(master, TIOCGPTN, &n) < 0) return ErrnoErr("get pty number of fd {}", master);
  return fmt::format("/dev/pts/{}", n);
}

}  // namespace husk::sys
