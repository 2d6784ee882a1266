#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstring>

namespace husk::runtime {

namespace {

int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void WriteAllIgnoringPipe(int fd, const char* data, size_t len) {
  // A hook may exit without reading stdin: EPIPE is not our error, and SIGPIPE
  // must not kill the caller. The disposition is restored before anything execs.
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  ::sigaction(SIGPIPE, &old, nullptr);
}

}  // namespace

int RunHookNoAlloc(const HookCmd& h, const char* state, size_t len, Message* err) noexcept {
  MsgWriter w(err);
  err->type = MsgType::kError;
  err->err = 0;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    err->err = errno;
    w << "error running hook " << h.path.c_str() << ": pipe";
    return -1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    err->err = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    w << "error running hook " << h.path.c_str() << ": fork";
    return -1;
  }
  if (pid == 0) {
    ::dup2(pipefd[0], 0);
    ::execve(h.path.c_str(), h.argv.get(), h.envp.get());
    _exit(127);
  }
  ::close(pipefd[0]);
  WriteAllIgnoringPipe(pipefd[1], state, len);
  ::close(pipefd[1]);

  if (h.timeout_sec > 0) {
    int pfd = PidfdOpen(pid);
    if (pfd >= 0) {
      struct pollfd p = {pfd, POLLIN, 0};
      int r;
      do {
        r = ::poll(&p, 1, h.timeout_sec * 1000);
      } while (r < 0 && errno == EINTR);
      ::close(pfd);
      if (r == 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        w << "error running hook " << h.path.c_str() << ": timed out after " << long{h.timeout_sec}
          << "s";
        return -1;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      err->err = errno;
      w << "error running hook " << h.path.c_str() << ": wait";
      return -1;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    w << "error running hook " << h.path.c_str() << ": could not be executed (exit status 127)";
  } else if (WIFEXITED(status)) {
    w << "error running hook " << h.path.c_str() << ": exited with status "
      << long{WEXITSTATUS(status)};
  } else {
    // "killed by signal 31 (bad system call)": the number and what it means,
    // lower-cased as the rest of the line (sigdescr_np does not allocate).
    char what[64] = "unknown signal";
    if (const char* d = sigdescr_np(WTERMSIG(status))) {
      strncpy(what, d, sizeof what - 1);
      what[0] = static_cast<char>(tolower(static_cast<unsigned char>(what[0])));
    }
    w << "error running hook " << h.path.c_str() << ": killed by signal " << long{WTERMSIG(status)}
      << " (" << what << ")";
  }
  return -1;
}

Status RunHooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state) {
  for (auto& h : hooks) {
    HookCmd cmd = MakeHookCmd(h);
    Message m;
    if (RunHookNoAlloc(cmd, state.data(), state.size(), &m) != 0)
      return Error{m.err, m.text}.wrap(std::string(kind));
  }
  return Ok();
}

}  // namespace husk::runtime
