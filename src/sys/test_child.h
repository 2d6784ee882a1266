// Tests only: running a piece of a test in a forked child, for what must not
// touch the test process itself (seccomp filters, dropped capabilities).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace husk::testutil {

// Runs fn in a forked child; its exit status, or 128 + N when signal N killed it.
inline int InChild(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace husk::testutil
