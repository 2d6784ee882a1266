// Stats in the shape of runc's `events --stats` "data" object (runc's types/events.go).
// Go's encoding/json drops zero fields tagged omitempty but always writes nested structs,
// so "usage", "throttling", "swap", "kernel" are always present while zero counters
// inside them are left out; "limit", "failcnt", "kernel" and "user" always appear.
// Files a kernel doesn't offer leave their fields out rather than failing the call.
#include <unistd.h>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup::internal {

namespace {

using nlohmann::json;

void PutNonZero(json& j, const char* key, uint64_t v) {
  if (v != 0) j[key] = v;
}

uint64_t Uint(const std::string& dir, std::string_view file) {
  return ReadUint(dir, file).value_or(0);
}

std::vector<uint64_t> Uints(const std::string& dir, std::string_view file) {
  std::vector<uint64_t> out;
  auto s = Read(dir, file);
  if (!s) return out;
  for (const auto& f : strings::Split(*s, ' '))
    if (auto v = strings::ParseUint(strings::Trim(f))) out.push_back(*v);
  return out;
}

std::map<std::string, uint64_t> Keyed(const std::string& dir, std::string_view file) {
  return ReadKeyed(dir, file).value_or(std::map<std::string, uint64_t>{});
}

json MemoryEntry(uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt) {
  json e = json::object();
  e["limit"] = limit;
  PutNonZero(e, "usage", usage);
  PutNonZero(e, "max", max);
  e["failcnt"] = failcnt;
  return e;
}

// "8:0 Read 123" lines of the v1 blkio files.
json BlkioEntries(const std::string& dir, std::string_view file) {
  json out = json::array();
  auto s = Read(dir, file);
  if (!s) return out;
  for (const auto& line : strings::Split(*s, '\n')) {
    auto f = strings::Split(line, ' ');
    if (f.size() != 3) continue;  // "Total N" has no device
    auto mm = strings::Split(f[0], ':');
    if (mm.size() != 2) continue;
    json e = json::object();
    PutNonZero(e, "major", strings::ParseUint(mm[0]).value_or(0));
    PutNonZero(e, "minor", strings::ParseUint(mm[1]).value_or(0));
    if (!f[1].empty()) e["op"] = f[1];
    PutNonZero(e, "value", strings::ParseUint(f[2]).value_or(0));
    out.push_back(std::move(e));
  }
  return out;
}

json Throttling(uint64_t periods, uint64_t throttled, uint64_t time_ns) {
  json t = json::object();
  PutNonZero(t, "periods", periods);
  PutNonZero(t, "throttledPeriods", throttled);
  PutNonZero(t, "throttledTime", time_ns);
  return t;
}

json Pids(const std::string& dir) {
  json p = json::object();
  PutNonZero(p, "current", Uint(dir, "pids.current"));
  uint64_t limit = Uint(dir, "pids.max");
  PutNonZero(p, "limit", limit == UINT64_MAX ? 0 : limit);
  return p;
}

json Empty() {
  json d = json::object();
  d["cpu"] = {{"usage", {{"kernel", 0}, {"user", 0}}}, {"throttling", json::object()}};
  d["cpuset"] = json::object();
  d["memory"] = {{"usage", MemoryEntry(0, 0, 0, 0)},
                 {"swap", MemoryEntry(0, 0, 0, 0)},
                 {"kernel", MemoryEntry(0, 0, 0, 0)},
                 {"kernelTCP", MemoryEntry(0, 0, 0, 0)}};
  d["pids"] = json::object();
  d["blkio"] = json::object();
  d["hugetlb"] = json::object();
  d["intel_rdt"] = json::object();
  d["network_interfaces"] = nullptr;
  return d;
}

void Cpuset(json& out, const std::string& dir, std::string_view cpus_file,
            std::string_view mems_file) {
  // runc lists cpus and mems as arrays of numbers; expand "0-3,6".
  auto expand = [&](std::string_view file) {
    json a = json::array();
    auto s = Read(dir, file);
    if (!s) return a;
    for (const auto& r : strings::Split(strings::Trim(*s), ',')) {
      auto ends = strings::Split(r, '-');
      auto lo = strings::ParseUint(ends[0]);
      auto hi = ends.size() == 2 ? strings::ParseUint(ends[1]) : lo;
      if (!lo || !hi || *hi < *lo || *hi - *lo > 65535) continue;
      for (uint64_t i = *lo; i <= *hi; ++i) a.push_back(i);
    }
    return a;
  };
  auto cpus = expand(cpus_file), mems = expand(mems_file);
  if (!cpus.empty()) out["cpus"] = cpus;
  if (!mems.empty()) out["mems"] = mems;
}

}  // namespace

json StatsV1(const std::map<std::string, std::string>& dirs) {
  json d = Empty();
  auto dir = [&](const char* c) {
    auto it = dirs.find(c);
    return it == dirs.end() ? std::string() : it->second;
  };
  if (auto a = dir("cpuacct"); !a.empty()) {
    json& u = d["cpu"]["usage"];
    PutNonZero(u, "total", Uint(a, "cpuacct.usage"));
    auto percpu = Uints(a, "cpuacct.usage_percpu");
    if (!percpu.empty()) u["percpu"] = percpu;
    // "cpu user system" header, then one line per cpu, in ns.
    if (auto all = Read(a, "cpuacct.usage_all"); all) {
      std::vector<uint64_t> user, kernel;
      for (const auto& line : strings::Split(*all, '\n')) {
        auto f = strings::Split(line, ' ');
        if (f.size() != 3 || !strings::ParseUint(f[0])) continue;
        user.push_back(strings::ParseUint(f[1]).value_or(0));
        kernel.push_back(strings::ParseUint(f[2]).value_or(0));
      }
      if (!kernel.empty()) u["percpu_kernel"] = kernel;
      if (!user.empty()) u["percpu_user"] = user;
    }
    // cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds.
    auto st = Keyed(a, "cpuacct.stat");
    long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    u["user"] = st["user"] * (1000000000ull / hz);
    u["kernel"] = st["system"] * (1000000000ull / hz);
  }
  if (auto c = dir("cpu"); !c.empty()) {
    auto st = Keyed(c, "cpu.stat");
    d["cpu"]["throttling"] = Throttling(st["nr_periods"], st["nr_throttled"], st["throttled_time"]);
  }
  if (auto c = dir("cpuset"); !c.empty()) Cpuset(d["cpuset"], c, "cpuset.cpus", "cpuset.mems");
  if (auto m = dir("memory"); !m.empty()) {
    json& mem = d["memory"];
    auto entry = [&](const std::string& prefix) {
      return MemoryEntry(Uint(m, prefix + "limit_in_bytes"), Uint(m, prefix + "usage_in_bytes"),
                         Uint(m, prefix + "max_usage_in_bytes"), Uint(m, prefix + "failcnt"));
    };
    mem["usage"] = entry("memory.");
    if (Has(m, "memory.memsw.usage_in_bytes")) mem["swap"] = entry("memory.memsw.");
    if (Has(m, "memory.kmem.usage_in_bytes")) mem["kernel"] = entry("memory.kmem.");
    if (Has(m, "memory.kmem.tcp.usage_in_bytes")) mem["kernelTCP"] = entry("memory.kmem.tcp.");
    auto raw = Keyed(m, "memory.stat");
    PutNonZero(mem, "cache", raw["cache"]);
    if (!raw.empty()) mem["raw"] = raw;
  }
  if (auto p = dir("pids"); !p.empty()) d["pids"] = Pids(p);
  if (auto b = dir("blkio"); !b.empty()) {
    json& io = d["blkio"];
    // CFQ's files are empty with other schedulers; the throttle files always count.
    auto put = [&](const char* key, const char* cfq, const char* throttle) {
      json e = BlkioEntries(b, cfq);
      if (e.empty() && throttle) e = BlkioEntries(b, throttle);
      if (!e.empty()) io[key] = e;
    };
    put("ioServiceBytesRecursive", "blkio.io_service_bytes_recursive",
        "blkio.throttle.io_service_bytes_recursive");
    put("ioServicedRecursive", "blkio.io_serviced_recursive",
        "blkio.throttle.io_serviced_recursive");
    put("ioQueueRecursive", "blkio.io_queued_recursive", nullptr);
    put("ioServiceTimeRecursive", "blkio.io_service_time_recursive", nullptr);
    put("ioWaitTimeRecursive", "blkio.io_wait_time_recursive", nullptr);
    put("ioMergedRecursive", "blkio.io_merged_recursive", nullptr);
    put("ioTimeRecursive", "blkio.time_recursive", nullptr);
    put("sectorsRecursive", "blkio.sectors_recursive", nullptr);
  }
  if (auto h = dir("hugetlb"); !h.empty()) {
    for (const auto& size : HugePageSizes()) {
      std::string p = "hugetlb." + size + ".";
      json e = json::object();
      PutNonZero(e, "usage", Uint(h, p + "usage_in_bytes"));
      PutNonZero(e, "max", Uint(h, p + "max_usage_in_bytes"));
      e["failcnt"] = Uint(h, p + "failcnt");
      d["hugetlb"][size] = e;
    }
  }
  return d;
}

json HugetlbV2(const std::string& dir) {
  json out = json::object();
  for (const auto& size : HugePageSizes()) {
    std::string p = "hugetlb." + size + ".";
    if (!Has(dir, p + "current")) continue;
    json e = json::object();
    // v2 keeps no peak for hugetlb, so "max" stays out.
    PutNonZero(e, "usage", Uint(dir, p + "current"));
    e["failcnt"] = Keyed(dir, p + "events")["max"];
    out[size] = e;
  }
  return out;
}

json StatsV2(const std::string& dir) {
  json d = Empty();
  auto cpu = Keyed(dir, "cpu.stat");  // always present: the cpu.stat core is not optional
  json& u = d["cpu"]["usage"];
  PutNonZero(u, "total", cpu["usage_usec"] * 1000);
  u["user"] = cpu["user_usec"] * 1000;
  u["kernel"] = cpu["system_usec"] * 1000;
  d["cpu"]["throttling"] =
      Throttling(cpu["nr_periods"], cpu["nr_throttled"], cpu["throttled_usec"] * 1000);

  if (Has(dir, "cpuset.cpus.effective"))
    Cpuset(d["cpuset"], dir, "cpuset.cpus.effective", "cpuset.mems.effective");

  if (Has(dir, "memory.current")) {
    json& mem = d["memory"];
    auto entry = [&](const std::string& prefix, uint64_t& limit, uint64_t& usage) {
      limit = Uint(dir, prefix + "max");
      usage = Uint(dir, prefix + "current");
      return MemoryEntry(limit, usage, Uint(dir, prefix + "peak"),
                         Keyed(dir, prefix + "events")["max"]);
    };
    uint64_t mlimit, musage, slimit = 0, susage = 0;
    mem["usage"] = entry("memory.", mlimit, musage);
    if (Has(dir, "memory.swap.current")) {
      json swap = entry("memory.swap.", slimit, susage);
      // v1 reported memory+swap; runc adds memory back in for compatibility and drops
      // the peak, which can't be combined.
      swap["usage"] = susage + musage;
      if (slimit != UINT64_MAX) swap["limit"] = slimit + mlimit;
      swap.erase("max");
      mem["swap"] = swap;
    }
    auto raw = Keyed(dir, "memory.stat");
    PutNonZero(mem, "cache", raw["file"]);
    if (!raw.empty()) mem["raw"] = raw;
  }
  if (Has(dir, "pids.current")) d["pids"] = Pids(dir);
  if (Has(dir, "io.stat")) {
    json bytes = json::array(), ios = json::array();
    auto s = Read(dir, "io.stat");
    for (const auto& line : strings::Split(s.value_or(""), '\n')) {
      auto f = strings::Split(line, ' ');
      auto mm = strings::Split(f[0], ':');
      if (mm.size() != 2) continue;
      for (size_t i = 1; i < f.size(); ++i) {
        auto eq = f[i].find('=');
        if (eq == std::string::npos) continue;
        std::string k = f[i].substr(0, eq);
        uint64_t v = strings::ParseUint(f[i].substr(eq + 1)).value_or(0);
        json e = json::object();
        PutNonZero(e, "major", strings::ParseUint(mm[0]).value_or(0));
        PutNonZero(e, "minor", strings::ParseUint(mm[1]).value_or(0));
        PutNonZero(e, "value", v);
        if (k == "rbytes" || k == "wbytes") {
          e["op"] = k == "rbytes" ? "Read" : "Write";
          bytes.push_back(e);
        } else if (k == "rios" || k == "wios") {
          e["op"] = k == "rios" ? "Read" : "Write";
          ios.push_back(e);
        }
      }
    }
    if (!bytes.empty()) d["blkio"]["ioServiceBytesRecursive"] = bytes;
    if (!ios.empty()) d["blkio"]["ioServicedRecursive"] = ios;
  }
  d["hugetlb"] = HugetlbV2(dir);
  return d;
}

}  // namespace husk::cgroup::internal
