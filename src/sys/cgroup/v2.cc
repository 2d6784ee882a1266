// The cgroup v2 manager: one directory in the unified hierarchy.
//
// Device rules (linux.resources.devices) have no file on v2: they become an eBPF
// program attached to the cgroup (device_bpf.h), replaced as a whole on update.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "sys/cgroup/device_bpf.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup::internal {

// runc's mapping of cpu.shares [2, 262144] onto cpu.weight [1, 10000].
uint64_t SharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  return 1 + ((shares - 2) * 9999) / 262142;
}

// runc's conversion of the v1-style memory+swap limit to v2's swap-only limit.
Result<int64_t> SwapToV2(int64_t swap, int64_t memory) {
  if (memory == -1 && swap == 0) return -1;  // "unlimited memory" lifts swap too
  if (swap == -1 || swap == 0) return swap;
  if (memory == 0 || memory == -1) return Err("unable to set swap limit without memory limit");
  if (memory < 0) return Err("invalid memory value: {}", memory);
  if (swap < memory) return Err("memory+swap limit should be >= memory limit");
  return swap - memory;
}

namespace {

using namespace std::chrono_literals;

std::string Num(int64_t v) {
  return std::to_string(v);
}

// v2 spells "no limit" as "max"; 0 means "not set" in the OCI fields handled here.
std::string Limit(int64_t v) {
  return v == -1 ? "max" : Num(v);
}

Status SetCpu(const std::string& dir, const oci::CpuResources& c) {
  if (c.shares && *c.shares != 0) {
    if (*c.shares < 2 || *c.shares > 262144)
      return Err("cpu shares {} out of range [2, 262144]", *c.shares);
    TRY(Write(dir, "cpu.weight", std::to_string(SharesToWeight(*c.shares))));
  }
  if ((c.quota && *c.quota != 0) || (c.period && *c.period != 0)) {
    // cpu.max holds both; keep the current half that the spec leaves out.
    std::string quota = "max", period;
    if (auto cur = Read(dir, "cpu.max"); cur) {
      auto parts = strings::Split(*cur, ' ');
      if (parts.size() == 2) quota = parts[0], period = parts[1];
    }
    if (c.quota && *c.quota != 0) quota = *c.quota > 0 ? Num(*c.quota) : "max";
    if (c.period && *c.period != 0) period = std::to_string(*c.period);
    TRY(Write(dir, "cpu.max", period.empty() ? quota : quota + " " + period));
  }
  if (c.burst) TRY(Write(dir, "cpu.max.burst", std::to_string(*c.burst)));
  if (c.idle) TRY(Write(dir, "cpu.idle", Num(*c.idle)));
  if (!c.cpus.empty()) TRY(Write(dir, "cpuset.cpus", c.cpus));
  if (!c.mems.empty()) TRY(Write(dir, "cpuset.mems", c.mems));
  return Ok();
}

Status SetMemory(const std::string& dir, const oci::MemoryResources& m) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = TRY(SwapToV2(m.swap.value_or(0), limit));
  // swap == 0 after conversion is "unset" unless the spec asked for memory == swap,
  // which means "no swap at all".
  bool no_swap = swap == 0 && m.swap.value_or(0) > 0;
  if (swap != 0 || no_swap) {
    std::string v = no_swap ? "0" : Limit(swap);
    auto st = Write(dir, "memory.swap.max", v);
    // Without swap accounting the file is absent; "max" and "0" then already hold.
    if (!st && !(st.error().code == ENOENT && (v == "max" || v == "0"))) return st;
  }
  if (limit != 0) TRY(Write(dir, "memory.max", Limit(limit)));
  if (m.reservation && *m.reservation != 0) TRY(Write(dir, "memory.low", Limit(*m.reservation)));
  // swappiness, oom-killer disable and kernel limits have no v2 files; runc ignores them.
  return Ok();
}

Status SetIo(const std::string& dir, const oci::BlockIoResources& b) {
  if (b.weight && *b.weight != 0) {
    // BFQ uses the v1 range [1, 1000]; io.weight is [1, 10000].
    if (Has(dir, "io.bfq.weight")) {
      TRY(Write(dir, "io.bfq.weight", std::to_string(*b.weight)));
    } else if (Has(dir, "io.weight")) {
      uint64_t w = 1 + (static_cast<uint64_t>(std::max<uint16_t>(*b.weight, 10)) - 10) * 9999 / 990;
      TRY(Write(dir, "io.weight", "default " + std::to_string(w)));
    }
  }
  // Per-device weights exist only with BFQ (io.bfq.weight takes "MAJ:MIN W").
  if (Has(dir, "io.bfq.weight")) {
    for (const auto& d : b.weight_device)
      if (d.weight && *d.weight != 0)
        TRY(Write(dir, "io.bfq.weight", fmt::format("{}:{} {}", d.major, d.minor, *d.weight)));
  }
  auto throttle = [&](const char* key,
                      const std::vector<oci::BlockIoResources::DeviceValue>& v) -> Status {
    for (const auto& d : v)
      TRY(Write(dir, "io.max", fmt::format("{}:{} {}={}", d.major, d.minor, key, d.rate)));
    return Ok();
  };
  TRY(throttle("rbps", b.throttle_read_bps));
  TRY(throttle("wbps", b.throttle_write_bps));
  TRY(throttle("riops", b.throttle_read_iops));
  TRY(throttle("wiops", b.throttle_write_iops));
  return Ok();
}

Status SetUnified(const std::string& dir, const std::map<std::string, std::string>& files) {
  for (const auto& [key, value] : files) {
    if (key.empty() || key.find('/') != std::string::npos || key[0] == '.')
      return Err("linux.resources.unified: \"{}\" is not a cgroup file name", key);
    auto st = Write(dir, key, value);
    if (!st && st.error().code == ENOENT)
      return std::move(st).wrap(
          fmt::format("linux.resources.unified: no file \"{}\" (is its "
                      "controller enabled?)",
                      key));
    TRY(std::move(st));
  }
  return Ok();
}

class V2Manager final : public Manager {
 public:
  V2Manager(Hierarchy unified, std::string path)
      : root_(std::move(unified.mountpoint)), path_(std::move(path)), dir_(root_ + path_) {}

  Layout layout() const override { return Layout::kUnified; }
  const std::string& path() const override { return path_; }

  Status Create() override {
    return MkdirEnabling(root_, path_, &made_).wrap(fmt::format("create cgroup {}", path_));
  }
  bool MadeByCreate() const override { return made_; }

  Status Apply(const oci::Resources& r) override {
    if (r.cpu) TRY(SetCpu(dir_, *r.cpu));
    if (r.memory) TRY(SetMemory(dir_, *r.memory));
    if (r.pids) TRY(Write(dir_, "pids.max", r.pids->limit > 0 ? Num(r.pids->limit) : "max"));
    if (r.block_io) TRY(SetIo(dir_, *r.block_io));
    for (const auto& h : r.hugepage_limits)
      TRY(Write(dir_, fmt::format("hugetlb.{}.max", h.page_size), std::to_string(h.limit)));
    TRY(SetUnified(dir_, r.unified));
    if (!r.devices.empty()) TRY(SetDevices(r.devices));
    return Ok();
  }

  Status AddProcess(pid_t pid) override { return Write(dir_, "cgroup.procs", std::to_string(pid)); }

  Status AddProcessTo(pid_t pid, const SubCgroups& sub, pid_t init) override {
    std::string dir = TRY(ExecDir(sub));
    auto st = EnterCgroup(dir, pid);
    if (!st && st.error().code == EBUSY && sub.empty() && init > 0) {
      // The container enabled domain controllers for its sub-cgroups, so its own cgroup
      // may hold no process; init has moved down into one of them. So does exec (runc).
      // An explicit --cgroup, even "/", means that cgroup and no other.
      auto from = UnifiedDirOf(root_, init);
      if (from && (*from == dir_ || strings::StartsWith(*from, dir_ + "/"))) {
        log::Debugf("cgroup: {}; joining init's cgroup {}", st.error().message(), *from);
        st = EnterCgroup(*from, pid);
      }
    }
    if (!st) return JoinError(pid, st.error());
    return Ok();
  }

  Result<UniqueFd> OpenForClone(const SubCgroups& sub) override {
    std::string dir = TRY(ExecDir(sub));
    UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return ErrnoErr("open {}", dir);
    return fd;
  }

  Status Freeze() override { return SetFrozen(true); }
  Status Thaw() override { return SetFrozen(false); }

  Result<bool> Frozen() override {
    auto ev = ReadKeyed(dir_, "cgroup.events");
    if (!ev) {
      if (ev.error().code == ENOENT) return false;
      return std::move(ev).error();
    }
    return (*ev)["frozen"] == 1;
  }

  Result<std::vector<pid_t>> Pids() override { return ReadPidsRecursive(dir_); }

  Status KillAll(int signal) override {
    // cgroup.kill (5.14+) kills the whole subtree atomically, forks included.
    if (signal == SIGKILL && Has(dir_, "cgroup.kill")) return Write(dir_, "cgroup.kill", "1");
    bool was_frozen = Frozen().value_or(false);
    bool froze = false;
    if (!was_frozen && Has(dir_, "cgroup.freeze")) froze = Freeze().ok();
    Status result = SignalPids(Pids(), signal);
    // v2 frozen tasks still die of SIGKILL; a paused container stays paused.
    if (froze) TRY(Thaw());
    return result;
  }

  Status Destroy() override { return RemoveCgroupDir(dir_); }

  Result<nlohmann::json> Stats() override { return StatsV2(dir_); }

  Result<uint64_t> OomCount() override {
    if (!Has(dir_, "memory.events")) return uint64_t{0};
    auto keyed = TRY(ReadKeyed(dir_, "memory.events"));
    return keyed["oom"];
  }

  std::vector<SubMount> ContainerMounts(bool cgroupns) const override {
    if (cgroupns) return {{"cgroup", "cgroup2", "", "", MS_NOSUID | MS_NODEV | MS_NOEXEC}};
    return {{dir_, "bind", "", "", MS_BIND | MS_REC}};
  }

 private:
  // One hierarchy: only a sub-cgroup for every controller ("") can be named.
  Result<std::string> ExecDir(const SubCgroups& sub) const {
    for (const auto& kv : sub)
      if (!kv.first.empty())
        return Err(
            "unknown controller \"{}\" (cgroup v2 has one hierarchy: name the sub-cgroup "
            "without controllers)",
            kv.first);
    auto all = sub.find("");
    return all == sub.end() ? dir_ : SubDir(dir_, all->second);
  }

  Status SetDevices(const std::vector<oci::DeviceCgroupRule>& rules) {
    auto st = SetDeviceFilter(dir_, rules);
    // Loading BPF takes CAP_BPF or CAP_SYS_ADMIN. Without them (rootless, in a delegated
    // cgroup) the user can't reach devices the file modes refuse anyway; runc goes on too.
    if (!st && st.error().code == EPERM && ::geteuid() != 0) {
      log::Warnf("{} (device rules not enforced)", st.error().message());
      return Ok();
    }
    return st;
  }

  Status SetFrozen(bool frozen) {
    if (!Has(dir_, "cgroup.freeze"))
      return Err("cgroup {}: no cgroup.freeze (the v2 freezer needs Linux 5.2)", path_);
    TRY(Write(dir_, "cgroup.freeze", frozen ? "1" : "0"));
    // The write only starts the transition; cgroup.events says when every task is there.
    return WaitUntil([&]() -> Result<bool> { return TRY(Frozen()) == frozen; }, 5000ms,
                     fmt::format("{} {}", frozen ? "freeze" : "thaw", dir_));
  }

  std::string root_;
  std::string path_;
  bool made_ = false;
  std::string dir_;
};

}  // namespace

std::unique_ptr<Manager> NewV2(Hierarchy unified, std::string path) {
  return std::make_unique<V2Manager>(std::move(unified), std::move(path));
}

}  // namespace husk::cgroup::internal
