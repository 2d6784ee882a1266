// start, state, list, kill, delete, pause, resume, update, events, ps.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/log.h"
#include "runtime/create.h"
#include "runtime/hooks.h"
#include "runtime/rootless.h"
#include "runtime/runtime.h"
#include "runtime/state.h"
#include "sys/cgroup/cgroup.h"
#include "sys/mount_options.h"

namespace husk::runtime {

namespace {

struct Loaded {
  ContainerState state;
  ContainerStatus status;
};

Result<Loaded> LoadContainer(const StateStore& store, const std::string& id) {
  auto st = TRY(store.Load(id));
  ContainerStatus s = store.StatusOf(st);
  return Loaded{std::move(st), s};
}

// Waits until the container's init is gone (it may not be our child).
bool WaitGone(const ContainerState& st, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    uint64_t start = ProcessStartTime(st.init_pid);
    if (start == 0 || (st.init_start_time && start != st.init_start_time)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Returns once init has exec'd the user program (its exe is no longer this
// binary, which it was as our clone), it died, or a second passed: a caller
// that signals right after `start` then reaches the program, not huskrun.
void WaitForExec(pid_t pid) {
  struct stat self;
  if (::stat("/proc/self/exe", &self) != 0) return;
  std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  for (int i = 0; i < 5000; ++i) {
    struct stat st;
    if (::stat(exe.c_str(), &st) != 0) return;
    if (st.st_dev != self.st_dev || st.st_ino != self.st_ino) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

Status KillProcesses(const ContainerState& st, int sig, bool all) {
  if (all && !st.cgroup_path.empty()) {
    auto cg = TRY(cgroup::Load(st.cgroup_path));
    return cg->KillAll(sig);
  }
  if (all) return SignalWithoutCgroup(st.init_pid, sig);  // rootless, no cgroup
  if (::kill(st.init_pid, sig) != 0) return ErrnoErr("kill {} with signal {}", st.init_pid, sig);
  return Ok();
}

}  // namespace

Status StartCreated(const StateStore& store, const ContainerState& st,
                    const std::vector<oci::Hook>& poststart, bool wait_for_exec) {
  const std::string& id = st.id;
  std::string fifo = store.FifoPath(id);
  UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENXIO) return Err("start {}: container init is gone", id);
    return ErrnoErr("start {}: open {}", id, fifo);
  }
  // Unlink first: from now on the status reads "running".
  ::unlink(fifo.c_str());
  if (::write(fd.get(), "0", 1) != 1) return ErrnoErr("start {}: write {}", id, fifo);
  fd.reset();
  if (wait_for_exec) WaitForExec(st.init_pid);
  if (!poststart.empty()) {
    std::string state = StateToJson(st, ContainerStatus::kRunning);
    // As runc: a failing poststart hook stops the container and fails start.
    if (auto r = RunHooks(poststart, "poststart", state); !r) {
      ::kill(st.init_pid, SIGKILL);
      return std::move(r).error().wrap("start " + id);
    }
  }
  return Ok();
}

Status Start(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "start");
  switch (c.status) {
    case ContainerStatus::kCreated:
      break;
    case ContainerStatus::kStopped:
      return Err("start {}: cannot start a container that has stopped", id);
    default:
      return Err("start {}: cannot start a container in state \"{}\"", id, StatusName(c.status));
  }
  auto spec = store.LoadConfig(id);
  return StartCreated(store, c.state, spec.ok() ? spec->hooks.poststart : std::vector<oci::Hook>{},
                      true);
}

Result<std::string> StateJson(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "state");
  return StateToJson(c.state, c.status);
}

Result<std::vector<ContainerInfo>> List(const GlobalOptions& g) {
  StateStore store(g.root);
  std::vector<ContainerInfo> out;
  for (auto& id : TRY(store.Ids())) {
    auto c = LoadContainer(store, id);
    if (!c) continue;  // deleted meanwhile
    ContainerInfo info;
    info.oci_version = oci::kVersion;
    info.id = id;
    info.rootfs = c->state.rootfs;
    info.status = StatusName(c->status);
    info.pid = c->status == ContainerStatus::kStopped ? 0 : c->state.init_pid;
    info.bundle = c->state.bundle;
    info.created = c->state.created;
    info.owner = c->state.owner;
    info.annotations = c->state.annotations;
    out.push_back(std::move(info));
  }
  return out;
}

Status Kill(const GlobalOptions& g, const std::string& id, int signal, bool all) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "kill");
  if (c.status == ContainerStatus::kStopped) {
    // runc: signalling every process of a stopped container is not an error.
    if (all) return Ok();
    return Err("kill {}: container not running", id);
  }
  return KillProcesses(c.state, signal, all).wrap("kill " + id);
}

Status Delete(const GlobalOptions& g, const std::string& id, bool force) {
  StateStore store(g.root);
  // As runc: --force on a container that does not exist is not an error.
  if (force && StateStore::ValidateId(id).ok() && !fs::Exists(store.Dir(id) + "/state.json")) {
    (void)store.Remove(id);
    return Ok();
  }
  auto c = TRY_CTX(LoadContainer(store, id), "delete");
  if (c.status == ContainerStatus::kRunning || c.status == ContainerStatus::kPaused) {
    if (!force)
      return Err("delete {}: cannot delete a container that is {} (use --force)", id,
                 StatusName(c.status));
  }
  std::unique_ptr<cgroup::Manager> cg;
  if (!c.state.cgroup_path.empty()) {
    if (auto l = cgroup::Load(c.state.cgroup_path); l.ok()) cg = std::move(*l);
  }
  if (c.status != ContainerStatus::kStopped) {
    // A created container is simply destroyed, as runc does.
    if (cg) {
      (void)cg->KillAll(SIGKILL);
      if (c.status == ContainerStatus::kPaused) (void)cg->Thaw();
    }
    ::kill(c.state.init_pid, SIGKILL);
    if (!WaitGone(c.state, 10000))
      return Err("delete {}: init {} did not die", id, c.state.init_pid);
  }
  auto spec = store.LoadConfig(id);
  bool host_mounts = spec.ok() && spec->linux_ &&
                     std::none_of(spec->linux_->namespaces.begin(), spec->linux_->namespaces.end(),
                                  [](const oci::Namespace& ns) { return ns.type == "mount"; });
  return RemoveStopped(store, c.state, cg.get(),
                       spec.ok() ? spec->hooks.poststop : std::vector<oci::Hook>{}, host_mounts);
}

void DetachMountsUnder(const std::string& dir) {
  auto info = fs::ReadFile("/proc/self/mountinfo");
  if (!info) return;
  auto points = sys::MountsUnder(*info, dir);
  for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}

Status RemoveStopped(const StateStore& store, const ContainerState& st, cgroup::Manager* cg,
                     const std::vector<oci::Hook>& poststop, bool host_mounts) {
  const std::string& id = st.id;
  if (host_mounts) DetachMountsUnder(st.rootfs);
  if (cg) {
    if (auto r = cg->Destroy(); !r) log::Warnf("delete {}: {}", id, r.error().message());
  }
  if (!poststop.empty()) {
    std::string state = StateToJson(st, ContainerStatus::kStopped);
    if (auto r = RunHooks(poststop, "poststop", state); !r)
      log::Warnf("delete {}: {}", id, r.error().message());
  }
  return store.Remove(id).wrap("delete " + id);
}

Result<std::vector<pid_t>> Pids(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "ps");
  if (c.status == ContainerStatus::kStopped) return std::vector<pid_t>{};
  auto cg = TRY_CTX(ContainerCgroup(c.state, "list processes"), "ps {}", id);
  return cg->Pids();
}

Status Pause(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "pause");
  if (c.status != ContainerStatus::kRunning && c.status != ContainerStatus::kCreated)
    return Err("pause {}: container not running (status \"{}\")", id, StatusName(c.status));
  auto cg = TRY_CTX(ContainerCgroup(c.state, "toggle freezer"), "pause {}", id);
  return cg->Freeze().wrap("pause " + id);
}

Status Resume(const GlobalOptions& g, const std::string& id) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "resume");
  if (c.status != ContainerStatus::kPaused) return Err("resume {}: container not paused", id);
  auto cg = TRY_CTX(ContainerCgroup(c.state, "toggle freezer"), "resume {}", id);
  return cg->Thaw().wrap("resume " + id);
}

Status Update(const GlobalOptions& g, const std::string& id, const oci::Resources& r) {
  StateStore store(g.root);
  auto c = TRY_CTX(LoadContainer(store, id), "update");
  if (c.status == ContainerStatus::kStopped) return Err("update {}: container not running", id);
  auto cg = TRY_CTX(ContainerCgroup(c.state, "set limits"), "update {}", id);
  return ApplyLimits(*cg, r, Rootless(g)).wrap("update " + id);
}

Status Events(const GlobalOptions& g, const std::string& id, bool stats_only, int interval_ms) {
  StateStore store(g.root);
  std::string quoted_id = nlohmann::json(id).dump();
  auto emit = [&](std::string_view type, const nlohmann::json* data) -> Status {
    // runc's field order: type, id, data.
    std::string line = fmt::format(R"({{"type":"{}","id":{})", type, quoted_id);
    if (data) line += R"(,"data":)" + data->dump();
    line += "}\n";
    if (::write(1, line.data(), line.size()) < 0) return ErrnoErr("write events");
    return Ok();
  };
  // OOM events are noticed by polling the cgroup's counter between stats, often enough
  // that a short-lived OOM is reported while the container still exists.
  constexpr int kOomPollMs = 100;
  std::optional<uint64_t> ooms;
  int since_stats = interval_ms;
  for (bool first = true;; first = false) {
    auto c = LoadContainer(store, id);
    // A container that goes away while we watch ends the stream, as with runc.
    if (!first && (!c || c->status == ContainerStatus::kStopped)) return Ok();
    if (!c) return std::move(c).error().wrap("events");
    if (c->status == ContainerStatus::kStopped) return Err("events {}: container not running", id);
    auto cg = TRY_CTX(ContainerCgroup(c->state, "read stats"), "events {}", id);
    if (stats_only || since_stats >= interval_ms) {
      auto data = TRY_CTX(cg->Stats(), "events {}", id);
      TRY(emit("stats", &data));
      if (stats_only) return Ok();
      since_stats = 0;
    }
    if (auto n = cg->OomCount(); n.ok()) {
      if (ooms && *n > *ooms) TRY(emit("oom", nullptr));
      ooms = *n;
    }
    int step = std::min(kOomPollMs, interval_ms);
    std::this_thread::sleep_for(std::chrono::milliseconds(step));
    since_stats += step;
  }
}

}  // namespace husk::runtime
