// huskrun update: change a container's cgroup limits, from flags or a resources JSON document.
#include "base/strings.h"
#include "cli/huskrun/cli.h"

namespace husk::cli {

namespace {

constexpr Flag kFlags[] = {
    {"resources", "r", FlagType::kString,
     "path to the file containing the resources to update or '-' to read from the standard "
     "input; all other options are then ignored"},
    {"blkio-weight", "", FlagType::kInt, "Specifies per cgroup weight, range is from 10 to 1000",
     "0"},
    {"cpu-period", "", FlagType::kString,
     "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-quota", "", FlagType::kString,
     "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpu-share", "", FlagType::kString, "CPU shares (relative weight vs. other containers)"},
    {"cpu-rt-period", "", FlagType::kString,
     "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
    {"cpu-rt-runtime", "", FlagType::kString,
     "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
    {"cpuset-cpus", "", FlagType::kString, "CPU(s) to use"},
    {"cpuset-mems", "", FlagType::kString, "Memory node(s) to use"},
    {"kernel-memory", "", FlagType::kString, "(obsoleted; do not use)", "", /*hidden=*/true},
    {"kernel-memory-tcp", "", FlagType::kString, "(obsoleted; do not use)", "", /*hidden=*/true},
    {"memory", "", FlagType::kString, "Memory limit (in bytes)"},
    {"memory-reservation", "", FlagType::kString, "Memory reservation or soft_limit (in bytes)"},
    {"memory-swap", "", FlagType::kString,
     "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
    {"pids-limit", "", FlagType::kInt, "Maximum number of pids allowed in the container", "0"},
    {"l3-cache-schema", "", FlagType::kString, "The string of Intel RDT/CAT L3 cache schema"},
    {"mem-bw-schema", "", FlagType::kString, "The string of Intel RDT/MBA memory bandwidth schema"},
};

// "-1" means unlimited; anything else goes through go-units' RAMInBytes, as in runc.
Result<int64_t> Memory(const std::string& flag, const std::string& v) {
  if (v == "-1") return int64_t{-1};
  return TRY_CTX(RamInBytes(v), "invalid value for --{}", flag);
}

Result<int> RunUpdate(const Invocation& inv) {
  const ParsedFlags& f = inv.flags;
  // runc checks these even with --resources; husk has no Intel RDT support at all.
  if (!f.Get("l3-cache-schema").empty())
    return Err("Intel RDT/CAT: l3 cache schema is not enabled");
  if (!f.Get("mem-bw-schema").empty())
    return Err("Intel RDT/MBA: memory bandwidth schema is not enabled");
  oci::Resources r;
  if (std::string path = f.Get("resources"); !path.empty()) {
    std::string json = TRY(ReadFileOrStdin(path));
    r = TRY_CTX(oci::ParseResources(json), "{}", path == "-" ? "standard input" : path);
  } else {
    r = TRY(ResourcesFromFlags(f));
  }
  TRY(runtime::Update(inv.global, inv.flags.args[0], r));
  return 0;
}

}  // namespace

Result<oci::Resources> ResourcesFromFlags(const ParsedFlags& f) {
  oci::Resources r;
  // runc's IntFlags treat 0 as "not given".
  if (int64_t w = f.Int("blkio-weight"); w != 0) {
    if (w < 0 || w > UINT16_MAX) return Err("invalid value for --blkio-weight: {}", w);
    r.block_io.emplace().weight = static_cast<uint16_t>(w);
  }
  auto cpu = [&]() -> oci::CpuResources& { return r.cpu ? *r.cpu : r.cpu.emplace(); };
  if (std::string v = f.Get("cpuset-cpus"); !v.empty()) cpu().cpus = v;
  if (std::string v = f.Get("cpuset-mems"); !v.empty()) cpu().mems = v;
  for (auto [flag, field] : {std::pair{"cpu-period", &oci::CpuResources::period},
                             std::pair{"cpu-rt-period", &oci::CpuResources::realtime_period},
                             std::pair{"cpu-share", &oci::CpuResources::shares}}) {
    std::string v = f.Get(flag);
    if (v.empty()) continue;
    auto n = strings::ParseUint(v);
    if (!n) return Err("invalid value for --{}: \"{}\" is not an unsigned integer", flag, v);
    cpu().*field = *n;
  }
  for (auto [flag, field] : {std::pair{"cpu-quota", &oci::CpuResources::quota},
                             std::pair{"cpu-rt-runtime", &oci::CpuResources::realtime_runtime}}) {
    std::string v = f.Get(flag);
    if (v.empty()) continue;
    auto n = strings::ParseInt(v);
    if (!n) return Err("invalid value for --{}: \"{}\" is not an integer", flag, v);
    cpu().*field = *n;
  }
  auto mem = [&]() -> oci::MemoryResources& { return r.memory ? *r.memory : r.memory.emplace(); };
  for (auto [flag, field] : {std::pair{"memory", &oci::MemoryResources::limit},
                             std::pair{"memory-swap", &oci::MemoryResources::swap},
                             std::pair{"memory-reservation", &oci::MemoryResources::reservation}}) {
    std::string v = f.Get(flag);
    if (!v.empty()) mem().*field = TRY(Memory(flag, v));
  }
  // Validated like runc, then dropped as runc does: kernel memory limits are gone from
  // cgroup v2 and deprecated in v1.
  for (const char* flag : {"kernel-memory", "kernel-memory-tcp"}) {
    std::string v = f.Get(flag);
    if (v.empty()) continue;
    TRY(Memory(flag, v));
    log::Warnf("Kernel memory settings are ignored and will be removed");
  }
  if (int64_t p = f.Int("pids-limit"); p != 0) r.pids.emplace().limit = p;
  return r;
}

const Command& UpdateCommand() {
  static constexpr Command kCommand{
      .name = "update",
      .summary = "update container resource constraints",
      .args_usage = "<container-id>",
      .description = R"(The --resources document is a linux.resources object of the runtime spec
(unchanged values can be omitted), for example:

{
  "memory": { "limit": 0, "reservation": 0, "swap": 0 },
  "cpu": { "shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
           "realtimePeriod": 0, "cpus": "", "mems": "" },
  "blockIO": { "weight": 0 }
})",
      .flags = kFlags,
      .min_args = 1,
      .max_args = 1,
      .run = RunUpdate,
  };
  return kCommand;
}

}  // namespace husk::cli
