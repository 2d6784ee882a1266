// The cgroup v1 manager, for legacy and hybrid hosts: one directory per mounted
// hierarchy, plus the cgroup2 directory on hybrid hosts, which is joined best effort
// (nothing is limited there; it only keeps tools that look at /proc/PID/cgroup "0::"
// consistent, as runc does).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup::internal {

namespace {

using namespace std::chrono_literals;

constexpr unsigned long kCgroupMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// A new cpuset cgroup starts with empty cpus and mems, and the kernel refuses to move
// a process into it (ENOSPC) until both are set. Copy them down from the parent at every
// level we create.
Status InheritCpuset(const std::string& parent, const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    auto cur = TRY(Read(dir, file));
    if (!strings::Trim(cur).empty()) continue;
    auto from = TRY(Read(parent, file));
    TRY(Write(dir, file, from));
  }
  return Ok();
}

bool CpusetSet(const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    auto cur = Read(dir, file);
    if (!cur || strings::Trim(*cur).empty()) return false;
  }
  return true;
}

// The levels of path are made as needed. A level below which cgroups are made
// gets cgroup.clone_children when we make it, or when it is huskrun's own
// /huskrun: the kernel then starts a new child with the parent's cpus and
// mems, and a new container's cpuset costs two reads instead of copies at
// every level.
Status MkdirCpuset(const std::string& mountpoint, const std::string& path, bool* made_leaf) {
  std::string leaf = fs::Join(mountpoint, path);
  std::vector<std::string> levels = {mountpoint};
  bool made = false;
  for (const auto& part : strings::Split(path, '/')) {
    if (part.empty()) continue;
    std::string dir = fs::Join(levels.back(), part);
    made = ::mkdir(dir.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return ErrnoErr("mkdir {}", dir);
    if (made && dir != leaf) {
      // Set before anything is made below it: its children inherit these.
      TRY(InheritCpuset(levels.back(), dir));
      TRY(Write(dir, "cgroup.clone_children", "1"));
    }
    levels.push_back(dir);
  }
  *made_leaf = made;
  if (levels.size() < 2 || CpusetSet(leaf)) return Ok();
  // A level made by someone else without clone_children: copy down as needed.
  for (size_t i = 1; i < levels.size(); ++i) TRY(InheritCpuset(levels[i - 1], levels[i]));
  if (levels.size() > 2 && levels[levels.size() - 2] == mountpoint + "/huskrun")
    (void)Write(levels[levels.size() - 2], "cgroup.clone_children", "1");
  return Ok();
}

std::string Num(int64_t v) {
  return std::to_string(v);
}

Status SetMemory(const std::string& dir, const oci::MemoryResources& m) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = m.swap.value_or(0);
  // Without swap accounting (swapaccount=0, no CONFIG_MEMCG_SWAP) there is no memsw
  // file; runc then ignores the swap limit rather than failing the container.
  bool has_memsw = Has(dir, "memory.memsw.limit_in_bytes");
  if (!has_memsw) {
    if (swap != 0) log::Debugf("cgroup: swap limit ignored: no swap accounting in {}", dir);
    swap = 0;
  }
  // An unlimited memory update with no swap given means unlimited swap too; otherwise
  // the old memsw limit would keep memory capped.
  if (limit == -1 && swap == 0 && has_memsw) swap = -1;

  auto set_limit = [&]() -> Status {
    if (limit == 0) return Ok();
    return Write(dir, "memory.limit_in_bytes", Num(limit));
  };
  auto set_swap = [&]() -> Status {
    if (swap == 0) return Ok();
    return Write(dir, "memory.memsw.limit_in_bytes", Num(swap));
  };
  // The kernel keeps limit <= memsw at every step, so raising both must write memsw
  // first and lowering both must write the limit first.
  bool swap_first = false;
  if (limit != 0 && swap != 0) {
    auto cur = TRY(ReadUint(dir, "memory.limit_in_bytes"));
    swap_first = swap == -1 || cur < static_cast<uint64_t>(swap);
  }
  if (swap_first) {
    TRY(set_swap());
    TRY(set_limit());
  } else {
    TRY(set_limit());
    TRY(set_swap());
  }
  if (m.reservation && *m.reservation != 0)
    TRY(Write(dir, "memory.soft_limit_in_bytes", Num(*m.reservation)));
  // kernel and kernelTCP limits are deprecated by the kernel and ignored, as runc does.
  if (m.disable_oom_killer.value_or(false)) TRY(Write(dir, "memory.oom_control", "1"));
  if (m.swappiness) {
    // -1 in JSON arrives as a huge unsigned value: "leave as is".
    if (*m.swappiness == UINT64_MAX) return Ok();
    if (*m.swappiness > 100)
      return Err("invalid memory swappiness value: {} (valid range is 0-100)", *m.swappiness);
    TRY(Write(dir, "memory.swappiness", std::to_string(*m.swappiness)));
  }
  return Ok();
}

Status SetCpu(const std::string& dir, const oci::CpuResources& c) {
  // The rt period bounds the runtime, so it goes first.
  if (c.realtime_period && *c.realtime_period != 0)
    TRY(Write(dir, "cpu.rt_period_us", std::to_string(*c.realtime_period)));
  if (c.realtime_runtime && *c.realtime_runtime != 0)
    TRY(Write(dir, "cpu.rt_runtime_us", Num(*c.realtime_runtime)));
  if (c.shares && *c.shares != 0) {
    TRY(Write(dir, "cpu.shares", std::to_string(*c.shares)));
    // The kernel clamps out-of-range shares silently; tell the user instead.
    auto got = TRY(ReadUint(dir, "cpu.shares"));
    if (*c.shares > got) return Err("the maximum allowed cpu-shares is {}", got);
    if (*c.shares < got) return Err("the minimum allowed cpu-shares is {}", got);
  }
  int64_t quota = c.quota.value_or(0);
  bool period_pending = false;
  if (c.period && *c.period != 0) {
    auto st = Write(dir, "cpu.cfs_period_us", std::to_string(*c.period));
    if (!st) {
      // A shorter period can exceed the parent's quota ratio until the new quota is in;
      // write it again after the quota.
      if (st.error().code != EINVAL || quota == 0) return st;
      period_pending = true;
    }
  }
  if (quota != 0) {
    TRY(Write(dir, "cpu.cfs_quota_us", Num(quota)));
    if (period_pending) TRY(Write(dir, "cpu.cfs_period_us", std::to_string(*c.period)));
  }
  if (c.burst && Has(dir, "cpu.cfs_burst_us"))
    TRY(Write(dir, "cpu.cfs_burst_us", std::to_string(*c.burst)));
  if (c.idle && Has(dir, "cpu.idle")) TRY(Write(dir, "cpu.idle", Num(*c.idle)));
  return Ok();
}

Status SetBlkio(const std::string& dir, const oci::BlockIoResources& b) {
  // Which weight files exist depends on the I/O scheduler (CFQ vs BFQ); as runc,
  // the CFQ names when blkio.weight exists, else BFQ's.
  bool cfq = Has(dir, "blkio.weight");
  if (b.weight && *b.weight != 0) {
    if (cfq)
      TRY(Write(dir, "blkio.weight", std::to_string(*b.weight)));
    else if (Has(dir, "blkio.bfq.weight"))
      TRY(Write(dir, "blkio.bfq.weight", std::to_string(*b.weight)));
  }
  if (b.leaf_weight && *b.leaf_weight != 0 && Has(dir, "blkio.leaf_weight"))
    TRY(Write(dir, "blkio.leaf_weight", std::to_string(*b.leaf_weight)));
  for (const auto& d : b.weight_device) {
    if (d.weight && *d.weight != 0)
      TRY(Write(dir, cfq ? "blkio.weight_device" : "blkio.bfq.weight_device",
                fmt::format("{}:{} {}", d.major, d.minor, *d.weight)));
    if (d.leaf_weight && *d.leaf_weight != 0)
      TRY(Write(dir, "blkio.leaf_weight_device",
                fmt::format("{}:{} {}", d.major, d.minor, *d.leaf_weight)));
  }
  auto throttle = [&](const char* file,
                      const std::vector<oci::BlockIoResources::DeviceValue>& v) -> Status {
    for (const auto& d : v)
      TRY(Write(dir, file, fmt::format("{}:{} {}", d.major, d.minor, d.rate)));
    return Ok();
  };
  TRY(throttle("blkio.throttle.read_bps_device", b.throttle_read_bps));
  TRY(throttle("blkio.throttle.write_bps_device", b.throttle_write_bps));
  TRY(throttle("blkio.throttle.read_iops_device", b.throttle_read_iops));
  TRY(throttle("blkio.throttle.write_iops_device", b.throttle_write_iops));
  return Ok();
}

std::string DeviceRule(const oci::DeviceCgroupRule& r) {
  auto num = [](const std::optional<int64_t>& v) {
    return v && *v >= 0 ? std::to_string(*v) : std::string("*");
  };
  return fmt::format("{} {}:{} {}", r.type.empty() ? "a" : r.type, num(r.major), num(r.minor),
                     r.access.empty() ? "rwm" : r.access);
}

Status SetDevices(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  // An update of a running container changes only what differs, allowing before
  // denying, so that nothing it keeps is refused meanwhile.
  if (auto list = fs::ReadFile(dir + "/devices.list"); list.ok()) {
    if (auto writes = MinimalDeviceTransitions(*list, rules)) {
      for (const auto& w : *writes)
        TRY(Write(dir, w.allow ? "devices.allow" : "devices.deny", w.rule));
      return Ok();
    }
  }
  // Otherwise (a new cgroup allows all) start from deny-all, so that the
  // rules, applied in order, are the whole policy.
  TRY(Write(dir, "devices.deny", "a"));
  for (const auto& r : rules)
    TRY(Write(dir, r.allow ? "devices.allow" : "devices.deny", DeviceRule(r)));
  return Ok();
}

class V1Manager final : public Manager {
 public:
  V1Manager(Mounts mounts, Layout layout, std::string path)
      : mounts_(std::move(mounts)), layout_(layout), path_(std::move(path)) {}

  Layout layout() const override { return layout_; }
  const std::string& path() const override { return path_; }

  Status Create() override {
    made_ = true;
    for (const auto& h : mounts_.v1) {
      bool cpuset = std::count(h.controllers.begin(), h.controllers.end(), "cpuset") > 0;
      bool made = false;
      auto st = cpuset ? MkdirCpuset(h.mountpoint, path_, &made) : MkdirLeafFirst(Dir(h), &made);
      if (!st) return std::move(st).wrap(fmt::format("create cgroup {}", path_));
      made_ = made_ && made;
    }
    if (auto u = UnifiedDir(); !u.empty()) {
      // Enabling controllers matters when a controller lives only in the unified
      // hierarchy (hugetlb on many hybrid hosts).
      if (auto st = MkdirEnabling(mounts_.v2->mountpoint, path_); !st)
        log::Debugf("cgroup: unified hierarchy skipped: {}", st.error().message());
    }
    return Ok();
  }

  bool MadeByCreate() const override { return made_; }

  Status Apply(const oci::Resources& r) override {
    if (!r.unified.empty())
      return Err("invalid configuration: linux.resources.unified requires cgroup v2");
    if (auto d = Dir("memory"); !d.empty() && r.memory) TRY(SetMemory(d, *r.memory));
    if (r.cpu) {
      if (auto d = Dir("cpu"); !d.empty()) TRY(SetCpu(d, *r.cpu));
      if (auto d = Dir("cpuset"); !d.empty()) {
        if (!r.cpu->cpus.empty()) TRY(Write(d, "cpuset.cpus", r.cpu->cpus));
        if (!r.cpu->mems.empty()) TRY(Write(d, "cpuset.mems", r.cpu->mems));
      }
    }
    if (auto d = Dir("pids"); !d.empty() && r.pids)
      TRY(Write(d, "pids.max", r.pids->limit > 0 ? Num(r.pids->limit) : "max"));
    if (auto d = Dir("blkio"); !d.empty() && r.block_io) TRY(SetBlkio(d, *r.block_io));
    if (auto d = Dir("hugetlb"); !d.empty()) {
      for (const auto& h : r.hugepage_limits)
        TRY(Write(d, fmt::format("hugetlb.{}.limit_in_bytes", h.page_size),
                  std::to_string(h.limit)));
    } else if (auto u = UnifiedDir(); !u.empty()) {
      // Hybrid hosts may attach hugetlb to the cgroup2 side only.
      for (const auto& h : r.hugepage_limits) {
        std::string file = fmt::format("hugetlb.{}.max", h.page_size);
        if (Has(u, file)) TRY(Write(u, file, std::to_string(h.limit)));
      }
    }
    if (auto d = Dir("devices"); !d.empty() && !r.devices.empty()) TRY(SetDevices(d, r.devices));
    return Ok();
  }

  Status AddProcess(pid_t pid) override {
    for (const auto& h : mounts_.v1) TRY(Write(Dir(h), "cgroup.procs", std::to_string(pid)));
    if (auto u = UnifiedDir(); !u.empty() && fs::IsDir(u)) {
      if (auto st = Write(u, "cgroup.procs", std::to_string(pid)); !st)
        log::Debugf("cgroup: unified hierarchy not joined: {}", st.error().message());
    }
    return Ok();
  }

  Status AddProcessTo(pid_t pid, const SubCgroups& sub, pid_t /*init*/) override {
    auto dirs = TRY(ExecDirs(sub));
    for (const auto& d : dirs)
      if (auto st = EnterCgroup(d, pid); !st) return JoinError(pid, st.error());
    if (auto u = UnifiedDir(); !u.empty() && fs::IsDir(u)) {
      // Best effort, as in AddProcess: a sub-cgroup named for every hierarchy, when the
      // unified side has it too, else the container's own.
      auto all = sub.find("");
      std::string d = all == sub.end() ? u : SubDir(u, all->second);
      auto st = EnterCgroup(d, pid);
      if (!st && d != u) st = EnterCgroup(u, pid);
      if (!st) log::Debugf("cgroup: unified hierarchy not joined: {}", st.error().message());
    }
    return Ok();
  }

  Result<UniqueFd> OpenForClone(const SubCgroups& /*sub*/) override { return UniqueFd(); }

  Status Freeze() override {
    auto d = TRY(FreezerDir());
    // A freeze can stall in FREEZING (a task in an uninterruptible sleep); writing
    // FROZEN again retries it, as runc does. Give up after a few seconds and thaw, so
    // the container isn't left half-frozen.
    auto st = WaitUntil(
        [&]() -> Result<bool> {
          TRY(Write(d, "freezer.state", "FROZEN"));
          return TRY(Read(d, "freezer.state")) == "FROZEN";
        },
        5000ms, fmt::format("freeze {}", d));
    if (!st) (void)Write(d, "freezer.state", "THAWED");
    return st;
  }

  Status Thaw() override {
    auto d = TRY(FreezerDir());
    return WaitUntil(
        [&]() -> Result<bool> {
          TRY(Write(d, "freezer.state", "THAWED"));
          return TRY(Read(d, "freezer.state")) == "THAWED";
        },
        5000ms, fmt::format("thaw {}", d));
  }

  Result<bool> Frozen() override {
    auto d = Dir("freezer");
    if (d.empty()) return false;
    auto s = Read(d, "freezer.state");
    if (!s) {
      if (s.error().code == ENOENT) return false;
      return std::move(s).error();
    }
    return *s == "FROZEN";
  }

  Result<std::vector<pid_t>> Pids() override {
    // Every hierarchy holds the same processes; any one will do, but prefer those
    // runtimes always join.
    for (const char* c : {"freezer", "pids", "devices", "memory", "cpu"})
      if (auto d = Dir(c); !d.empty()) return ReadPidsRecursive(d);
    if (mounts_.v1.empty()) return std::vector<pid_t>{};
    return ReadPidsRecursive(Dir(mounts_.v1.front()));
  }

  Status KillAll(int signal) override {
    // Frozen processes can't fork, so the pid list stays complete while we signal.
    bool was_frozen = Frozen().value_or(false);
    bool froze = false;
    if (!was_frozen && !Dir("freezer").empty()) froze = Freeze().ok();
    Status result = SignalPids(Pids(), signal);
    // A v1-frozen task can't act on SIGKILL until thawed; a paused container that got
    // another signal stays paused.
    if (froze || (was_frozen && signal == SIGKILL)) TRY(Thaw());
    return result;
  }

  Status Destroy() override {
    Status first;
    std::set<std::string> seen;
    for (const auto& h : mounts_.v1) {
      auto d = Dir(h);
      if (!seen.insert(d).second) continue;
      if (auto st = RemoveCgroupDir(d); !st && first.ok()) first = std::move(st);
    }
    if (auto u = UnifiedDir(); !u.empty()) {
      if (auto st = RemoveCgroupDir(u); !st)
        log::Debugf("cgroup: unified hierarchy not removed: {}", st.error().message());
    }
    return first;
  }

  Result<nlohmann::json> Stats() override {
    std::map<std::string, std::string> dirs;
    for (const auto& h : mounts_.v1)
      for (const auto& c : h.controllers) dirs[c] = Dir(h);
    auto d = StatsV1(dirs);
    if (auto u = UnifiedDir(); !u.empty() && !dirs.count("hugetlb")) d["hugetlb"] = HugetlbV2(u);
    return d;
  }

  Result<uint64_t> OomCount() override {
    auto d = Dir("memory");
    if (d.empty()) return uint64_t{0};
    auto keyed = TRY(ReadKeyed(d, "memory.oom_control"));
    // Kernels before 4.13 have no oom_kill: under_oom still says it happened.
    if (auto it = keyed.find("oom_kill"); it != keyed.end()) return it->second;
    return keyed["under_oom"];
  }

  std::vector<SubMount> ContainerMounts(bool cgroupns) const override {
    std::vector<SubMount> out;
    out.push_back({"tmpfs", "tmpfs", "", "mode=755", kCgroupMountFlags});
    std::vector<SubMount> links;
    for (const auto& h : mounts_.v1) {
      std::string name = h.mountpoint.substr(h.mountpoint.find_last_of('/') + 1);
      if (cgroupns) {
        // Under a cgroup namespace a fresh mount of the hierarchy shows the container's
        // cgroup as its root.
        bool named = h.controllers.size() == 1 && strings::StartsWith(h.controllers[0], "name=");
        std::string source = named ? h.controllers[0].substr(5) : "cgroup";
        out.push_back(
            {source, "cgroup", name, strings::Join(h.controllers, ","), kCgroupMountFlags});
      } else {
        out.push_back({Dir(h), "bind", name, "", MS_BIND | MS_REC});
      }
      if (h.controllers.size() > 1) {
        for (const auto& c : h.controllers)
          if (c != name && !strings::StartsWith(c, "name="))
            links.push_back({name, "symlink", c, "", 0});
      }
    }
    out.insert(out.end(), links.begin(), links.end());
    return out;
  }

 private:
  std::string Dir(const Hierarchy& h) const { return h.mountpoint + path_; }
  // The container's directory in the hierarchy holding controller; "" if not mounted.
  std::string Dir(std::string_view controller) const {
    for (const auto& h : mounts_.v1)
      if (std::find(h.controllers.begin(), h.controllers.end(), controller) != h.controllers.end())
        return Dir(h);
    return "";
  }
  // exec's directory in each hierarchy, in mounts_.v1 order: the sub-cgroup named for one
  // of its controllers, else the one named for all (""), else the container's.
  Result<std::vector<std::string>> ExecDirs(const SubCgroups& sub) const {
    for (const auto& kv : sub) {
      const std::string& c = kv.first;
      if (!c.empty() && Dir(c).empty()) {
        std::vector<std::string> known;
        for (const auto& h : mounts_.v1)
          known.insert(known.end(), h.controllers.begin(), h.controllers.end());
        return Err("unknown controller \"{}\" (mounted: {})", c, strings::Join(known, ", "));
      }
    }
    auto all = sub.find("");
    std::vector<std::string> dirs;
    for (const auto& h : mounts_.v1) {
      std::string rel = all == sub.end() ? "" : all->second;
      const std::string* by = nullptr;
      for (const auto& c : h.controllers) {
        auto it = sub.find(c);
        if (it == sub.end()) continue;
        // One directory per hierarchy: co-mounted controllers (cpu,cpuacct) go together.
        if (by && it->second != rel)
          return Err("controllers {} and {} share a hierarchy: give them the same sub-cgroup", *by,
                     c);
        rel = it->second;
        by = &c;
      }
      dirs.push_back(SubDir(Dir(h), rel));
    }
    return dirs;
  }
  std::string UnifiedDir() const {
    if (layout_ != Layout::kHybrid || !mounts_.v2) return "";
    return mounts_.v2->mountpoint + path_;
  }
  Result<std::string> FreezerDir() const {
    auto d = Dir("freezer");
    if (d.empty()) return Err("cgroup {}: the freezer controller is not mounted", path_);
    return d;
  }

  Mounts mounts_;
  Layout layout_;
  std::string path_;
  bool made_ = false;
};

}  // namespace

std::unique_ptr<Manager> NewV1(Mounts mounts, Layout layout, std::string path) {
  return std::make_unique<V1Manager>(std::move(mounts), layout, std::move(path));
}

}  // namespace husk::cgroup::internal
