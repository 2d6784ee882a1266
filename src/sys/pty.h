// Pseudo-terminals for containers whose process.terminal is true.
//
// The pty is opened by the container's init after pivot_root, from the
// container's own /dev/ptmx (-> pts/ptmx on the container's devpts), so the
// slave is /dev/pts/N inside the container and the master can be handed out
// over the console socket. All *NoAlloc functions run in the cloned child: no
// allocation, no logging; they return 0 (or an fd) on success, -errno on error.
#pragma once

#include <string>

#include "base/result.h"

namespace husk::sys {

struct PtyPair {
  int master = -1;
  int slave = -1;
};

// Opens "/dev/ptmx" relative to the current root (O_RDWR|O_NOCTTY|O_CLOEXEC),
// unlocks it, and opens the slave through the master with TIOCGPTPEER (Linux
// 4.13), which needs no path and cannot be fooled by a /dev/pts/N swapped for
// something else. On older kernels it falls back to TIOCGPTN + "/dev/pts/N".
// Both fds are O_CLOEXEC. On failure nothing is left open.
int OpenPtyNoAlloc(PtyPair* out);

// TIOCSWINSZ on a master or slave fd; the kernel sends SIGWINCH to the slave's
// foreground process group when the size changes.
int SetWinsizeNoAlloc(int fd, unsigned rows, unsigned cols);

// Makes `slave` the controlling terminal of a new session and stdin, stdout
// and stderr: setsid() unless already a session leader, TIOCSCTTY, dup2 to 0,
// 1 and 2. Closes `slave` when it is above 2 (the copies are what the
// process keeps). Call it in the process that will exec the user's command.
int MakeControllingTtyNoAlloc(int slave);

// The slave's path as the process holding it sees it ("/dev/pts/3"), from the
// pty number of the master (TIOCGPTN). Parent side.
Result<std::string> PtsName(int master);

}  // namespace husk::sys
