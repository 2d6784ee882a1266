// run: create + start, then (in the foreground) forward signals, proxy the
// terminal, wait for the container's init and delete the container.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "runtime/console.h"
#include "runtime/create.h"
#include "runtime/runtime.h"
#include "runtime/state.h"

namespace husk::runtime {

namespace {

volatile sig_atomic_t g_forward_pid = 0;

void ForwardSignal(int sig) {
  pid_t pid = g_forward_pid;
  if (pid > 0) ::kill(pid, sig);
}

// Signals a user sends to `huskrun run` go to the container's init, as with runc.
void InstallForwarding(pid_t pid) {
  g_forward_pid = pid;
  struct sigaction sa {};
  sa.sa_handler = ForwardSignal;
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT, SIGTSTP})
    ::sigaction(sig, &sa, nullptr);
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

Result<int> Run(const GlobalOptions& g, const CreateOptions& o) {
  // With a terminal and nobody to hand the pty to, we proxy it ourselves.
  auto created = TRY_CTX(CreateContainer(g, o, !o.detach), "run {}", o.id);
  UniqueFd master;
  if (created.console) master = TRY_CTX(ReceiveMaster(created.console.get()), "run {}", o.id);
  if (!o.detach) InstallForwarding(created.pid);
  StateStore store(g.root);
  // In the foreground we wait for init anyway: no need to see it exec first.
  if (auto st = StartCreated(store, created.state, created.hooks.poststart, o.detach); !st) {
    if (auto d = Delete(g, o.id, true); !d) log::Warnf("{}", d.error().message());
    return std::move(st).error();
  }
  if (o.detach) return 0;

  if (master) {
    if (auto st = ProxyUntilHangup(master.get()); !st)
      log::Warnf("run {}: console: {}", o.id, st.error().message());
  }
  int status = 0;
  while (::waitpid(created.pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoErr("run {}: wait for container init", o.id);
  }
  g_forward_pid = 0;
  int code = ExitCode(status);
  if (!o.keep) {
    // Init is gone: what is left is `delete` of a stopped container.
    if (auto st = RemoveStopped(store, created.state, created.cgroup.get(), created.hooks.poststop,
                                created.host_mounts);
        !st)
      log::Warnf("{}", st.error().message());
  } else {
    if (auto st = store.Load(o.id); st.ok()) {
      st->stopped_on_record = true;
      (void)store.Save(*st);
    }
  }
  return code;
}

}  // namespace husk::runtime
