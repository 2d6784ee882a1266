#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/log.h"
#include "sys/fdpass.h"

namespace husk::runtime {
namespace {

constexpr size_t kBufSize = 32 * 1024;
// A write of at most PIPE_BUF bytes after POLLOUT never blocks on a pipe, and
// stdout stays in blocking mode (see ProxyUntilHangup), so we write in chunks
// of this size to keep one slow reader from stalling the other direction.
constexpr size_t kOutChunk = 4096;

// Bytes read in one go and written out possibly in pieces. We read only into
// an empty buffer, which is all the flow control a proxy needs.
struct Buffer {
  std::vector<char> data = std::vector<char>(kBufSize);
  size_t pos = 0;
  size_t len = 0;
  bool empty() const { return pos == len; }
  size_t pending() const { return len - pos; }
  const char* head() const { return data.data() + pos; }
  void Filled(size_t n) {
    pos = 0;
    len = n;
  }
  void Clear() { pos = len = 0; }
};

void CopyWinsize(int from, int master) {
  winsize ws{};
  if (ioctl(from, TIOCGWINSZ, &ws) != 0) return;
  // A terminal that does not know its size reports 0x0; telling the
  // container so would only make full-screen programs misdraw.
  if (ws.ws_row == 0 && ws.ws_col == 0) return;
  if (ioctl(master, TIOCSWINSZ, &ws) != 0) log::Debugf("console: set window size: {}", errno);
}

// Writes all of [p, p+n) to a blocking or non-blocking fd, waiting with poll
// on EAGAIN; for the final flush only. Returns false on an error (EPIPE...).
bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

// Blocks SIGWINCH and SIGPIPE for the duration of the proxy and reads SIGWINCH
// from a signalfd. On exit a SIGPIPE we caused is consumed before the old mask
// returns, so it cannot kill the process after the fact.
class SignalScope {
 public:
  SignalScope() = default;
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  ~SignalScope() {
    if (!active_) return;
    fd_.reset();
    if (!sigismember(&old_, SIGPIPE)) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

  Status Start() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigaddset(&set, SIGPIPE);
    if (int e = pthread_sigmask(SIG_BLOCK, &set, &old_); e != 0) {
      return CodeErr(e, "console: block SIGWINCH");
    }
    active_ = true;
    sigset_t winch;
    sigemptyset(&winch);
    sigaddset(&winch, SIGWINCH);
    fd_.reset(signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_) return ErrnoErr("console: signalfd");
    return Ok();
  }
  int fd() const { return fd_.get(); }
  // Reads every queued SIGWINCH; true if there was at least one.
  bool Drain() {
    bool any = false;
    signalfd_siginfo si;
    while (read(fd_.get(), &si, sizeof(si)) == static_cast<ssize_t>(sizeof(si))) any = true;
    return any;
  }

 private:
  bool active_ = false;
  sigset_t old_{};
  UniqueFd fd_;
};

// The bytes that make a canonical-mode reader of the tty see end of input:
// VEOF ends a partial line first, so it takes two unless we ended on a newline.
size_t EofBytes(int master, bool mid_line, char* out) {
  termios t{};
  if (tcgetattr(master, &t) != 0) return 0;  // on a master this reads the slave's mode
  if (!(t.c_lflag & ICANON) || t.c_cc[VEOF] == _POSIX_VDISABLE) return 0;
  out[0] = out[1] = static_cast<char>(t.c_cc[VEOF]);
  return mid_line ? 2 : 1;
}

}  // namespace

Result<UniqueFd> MakeConsoleSocketPair(UniqueFd* child_end) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return ErrnoErr("console socketpair");
  }
  if (child_end != nullptr) {
    child_end->reset(sv[1]);
  } else {
    close(sv[1]);
  }
  return UniqueFd(sv[0]);
}

Result<UniqueFd> ReceiveMaster(int parent_end) {
  UniqueFd fd = TRY_CTX(sys::RecvFd(parent_end), "receive pty master");
  if (!isatty(fd.get())) return Err("receive pty master: received fd is not a terminal");
  return fd;
}

RawTerminal::RawTerminal(RawTerminal&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), saved_(o.saved_) {}

RawTerminal& RawTerminal::operator=(RawTerminal&& o) noexcept {
  if (this != &o) {
    Restore();
    fd_ = std::exchange(o.fd_, -1);
    saved_ = o.saved_;
  }
  return *this;
}

Result<RawTerminal> RawTerminal::Enable(int fd) {
  RawTerminal t;
  if (fd < 0 || !isatty(fd)) return t;
  if (tcgetattr(fd, &t.saved_) != 0) return ErrnoErr("console: read terminal mode");
  termios raw = t.saved_;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSANOW, &raw) != 0) return ErrnoErr("console: set terminal raw");
  t.fd_ = fd;
  return t;
}

void RawTerminal::Restore() {
  if (fd_ < 0) return;
  int saved_errno = errno;
  while (tcsetattr(fd_, TCSANOW, &saved_) != 0 && errno == EINTR) {
  }
  errno = saved_errno;
  fd_ = -1;
}

Status ProxyUntilHangup(int master, const ProxyOptions& o) {
  if (master < 0) return Err("console: no pty master");
  int master_flags = fcntl(master, F_GETFL);
  if (master_flags < 0) return ErrnoErr("console: pty master");
  RawTerminal raw = TRY(RawTerminal::Enable(o.in));
  SignalScope signals;
  TRY(signals.Start());
  int size_from = (o.in >= 0 && isatty(o.in)) ? o.in : (o.out >= 0 && isatty(o.out)) ? o.out : -1;
  if (size_from >= 0) CopyWinsize(size_from, master);
  // Only the master goes non-blocking: it is ours alone, while stdin and
  // stdout belong to an open file description our parent shell shares.
  if (fcntl(master, F_SETFL, master_flags | O_NONBLOCK) != 0) {
    return ErrnoErr("console: set pty master non-blocking");
  }

  Buffer to_master, to_out;
  bool in_open = o.in >= 0;
  bool out_open = o.out >= 0;
  bool mid_line = false;  // the last byte forwarded did not end a line
  bool hangup = false;
  Status result;

  enum { kSignal, kStop, kIn, kOut, kMaster, kCount };
  while (!hangup) {
    pollfd fds[kCount];
    fds[kSignal] = {signals.fd(), POLLIN, 0};
    fds[kStop] = {o.stop_fd, POLLIN, 0};
    fds[kIn] = {in_open && to_master.empty() ? o.in : -1, POLLIN, 0};
    fds[kOut] = {to_out.empty() ? -1 : o.out, POLLOUT, 0};
    short master_events =
        static_cast<short>((to_out.empty() ? POLLIN : 0) | (to_master.empty() ? 0 : POLLOUT));
    // With nothing to ask of the master we leave it out: a hung-up master
    // reports POLLHUP unconditionally and would spin us while stdout is slow.
    fds[kMaster] = {master_events ? master : -1, master_events, 0};

    if (poll(fds, kCount, -1) < 0) {
      if (errno == EINTR) continue;  // the caller's signal forwarding ran
      result = ErrnoErr("console: poll");
      break;
    }

    // Resize before forwarding input that arrived with the signal: a program
    // redrawing on that input should already see the new size.
    if (fds[kSignal].revents && signals.Drain() && size_from >= 0) CopyWinsize(size_from, master);
    if (fds[kStop].revents) break;

    if (fds[kIn].revents) {
      ssize_t n = read(o.in, to_master.data.data(), to_master.data.size());
      if (n > 0) {
        to_master.Filled(static_cast<size_t>(n));
        mid_line = to_master.data[n - 1] != '\n' && to_master.data[n - 1] != '\r';
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        // EOF (or a hung-up terminal): stop reading stdin, keep the session.
        in_open = false;
        if (o.forward_eof) to_master.Filled(EofBytes(master, mid_line, to_master.data.data()));
      }
    }

    if (fds[kOut].revents) {
      ssize_t n = write(o.out, to_out.head(), std::min(to_out.pending(), kOutChunk));
      if (n > 0) {
        to_out.pos += static_cast<size_t>(n);
      } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        // Nobody reads our output any more. Keep draining the master so the
        // container never blocks writing to its terminal.
        log::Debugf("console: write output: {}", strerror(errno));
        out_open = false;
        to_out.Clear();
      }
    }

    short rev = fds[kMaster].revents;
    if ((rev & POLLOUT) && !to_master.empty()) {
      ssize_t n = write(master, to_master.head(), to_master.pending());
      if (n > 0) {
        to_master.pos += static_cast<size_t>(n);
      } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        hangup = true;  // EIO: the slave side is gone
      }
    }
    if ((rev & (POLLIN | POLLHUP | POLLERR)) && to_out.empty()) {
      ssize_t n = read(master, to_out.data.data(), to_out.data.size());
      if (n > 0) {
        if (out_open) to_out.Filled(static_cast<size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        hangup = true;  // EIO once every slave fd is closed and the buffer is empty
      }
    }
  }

  // Whatever the container wrote before it went away still reaches the user.
  if (out_open && !WriteAll(o.out, to_out.head(), to_out.pending())) out_open = false;
  for (;;) {
    ssize_t n = read(master, to_out.data.data(), to_out.data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out_open && !WriteAll(o.out, to_out.data.data(), static_cast<size_t>(n))) out_open = false;
  }
  fcntl(master, F_SETFL, master_flags);
  return result;
}

}  // namespace husk::runtime
