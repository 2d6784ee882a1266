// The foreground terminal proxy of `huskrun run` and `huskrun exec --tty`
// when no --console-socket is given (runc does the same).
//
// The container's process opens its pty inside the container and sends the
// master over a socketpair that stands in for the console socket. We then
// connect that master to our own stdin/stdout: the local terminal goes raw, so
// every key, Ctrl-C and Ctrl-Z included, reaches the container's tty as a
// byte, and the container's line discipline turns it into SIGINT/SIGTSTP for
// *its* foreground process group. Window size changes follow via SIGWINCH.
//
//   huskrun (parent)                         container process
//   MakeConsoleSocketPair ── child end ──▶   OpenPtyNoAlloc, SendFdNoAlloc
//   ReceiveMaster          ◀── master ────   MakeControllingTtyNoAlloc, exec
//   ProxyUntilHangup: stdin ─▶ master ─▶ slave (container's 0,1,2)
//                     stdout ◀─ master ◀─ slave
//   returns when every holder of the slave has closed it (the container
//   exited), or when opts.stop_fd becomes readable.
#pragma once

#include <termios.h>
#include <unistd.h>

#include "base/result.h"
#include "base/unique_fd.h"

namespace husk::runtime {

// A connected AF_UNIX SOCK_STREAM pair, both ends O_CLOEXEC. The returned end
// stays with us; *child_end goes to the container process (across clone; clear
// O_CLOEXEC if it must survive an exec), which sends the pty master over it
// exactly as it would to a --console-socket.
Result<UniqueFd> MakeConsoleSocketPair(UniqueFd* child_end);

// Receives the pty master from our end of the pair; refuses anything that is
// not a terminal. Fails (rather than blocking forever) once the child end is
// closed everywhere without a send, e.g. because the child died.
Result<UniqueFd> ReceiveMaster(int parent_end);

// Puts a terminal into raw mode and restores the saved mode when destroyed,
// on every return path. Movable; a default-constructed one does nothing.
class RawTerminal {
 public:
  RawTerminal() = default;
  RawTerminal(RawTerminal&& o) noexcept;
  RawTerminal& operator=(RawTerminal&& o) noexcept;
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() { Restore(); }

  // Raw mode (cfmakeraw) on fd if it is a terminal; a no-op guard otherwise.
  static Result<RawTerminal> Enable(int fd);
  // Puts the saved mode back now (idempotent). Only async-signal-safe calls,
  // so a fatal-signal handler may call it too.
  void Restore();
  bool active() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  termios saved_{};
};

struct ProxyOptions {
  int in = STDIN_FILENO;    // the local terminal or whatever stdin is
  int out = STDOUT_FILENO;  // where the container's output goes
  // When readable (a pidfd of the process, an eventfd...), the master is
  // drained of what is already written and the proxy returns without waiting
  // for a hangup. For `exec`, whose process may leave background children that
  // keep the tty open; -1 waits for the hangup only.
  int stop_fd = -1;
  // On stdin EOF we stop reading stdin (as runc does). With this set we also
  // pass the EOF on as the tty's VEOF character (twice after a partial line),
  // so `echo data | huskrun run` with a canonical-mode tty sees end of input.
  bool forward_eof = true;
};

// Copies bytes both ways until the slave side hangs up. Makes `in` raw if it
// is a terminal (restored on return, error or not), copies the window size of
// `in` (or else `out`) to the master at once and on every SIGWINCH. Sets
// O_NONBLOCK on `master` only: stdin and stdout share their open file
// description with our parent shell, which would inherit the flag.
//
// While running, SIGWINCH and SIGPIPE are blocked in the calling thread (a
// signalfd reads SIGWINCH; a closed `out` shows as EPIPE, after which output
// is discarded but still drained so the container never blocks on its tty).
// Other signals interrupt poll() and are simply resumed, so the caller's
// forwarding handlers keep working.
Status ProxyUntilHangup(int master, const ProxyOptions& opts = {});

}  // namespace husk::runtime
