// The "linux" object of config.json, and linux.resources (also `update --resources`).
#include <set>
#include <string>
#include <string_view>

#include "oci/json_reader.h"

namespace husk::oci {

namespace {

const std::set<std::string>& NamespaceTypes() {
  static const std::set<std::string> kTypes = {"pid", "network", "mount",  "ipc",
                                               "uts", "user",    "cgroup", "time"};
  return kTypes;
}

Status ParseIdMappings(Reader& r, const json& o, const char* key, std::vector<IdMapping>* out) {
  auto* a = TRY(r.Array(o, key, "linux."));
  if (!a) return Ok();
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iw = Idx(std::string("linux.") + key, i);
    const auto& e = (*a)[i];
    if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
    IdMapping m;
    TRY(r.Int(e, "containerID", iw, &m.container_id));
    TRY(r.Int(e, "hostID", iw, &m.host_id));
    TRY(r.Int(e, "size", iw, &m.size));
    if (m.size == 0) return r.Bad(iw + "size", "must be positive");
    out->push_back(m);
  }
  return Ok();
}

Status ParseDevices(Reader& r, const json& o, std::vector<Device>* out) {
  auto* a = TRY(r.Array(o, "devices", "linux."));
  if (!a) return Ok();
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iw = Idx("linux.devices", i);
    const auto& e = (*a)[i];
    if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
    Device d;
    TRY(r.String(e, "type", iw, &d.type));
    TRY(r.String(e, "path", iw, &d.path));
    TRY(r.Int(e, "major", iw, &d.major));
    TRY(r.Int(e, "minor", iw, &d.minor));
    TRY(r.OptInt(e, "fileMode", iw, &d.file_mode));
    TRY(r.OptInt(e, "uid", iw, &d.uid));
    TRY(r.OptInt(e, "gid", iw, &d.gid));
    if (d.path.empty() || d.path.front() != '/')
      return r.Bad(iw + "path", "must be an absolute path");
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      return r.Bad(iw + "type", "must be one of c, b, u, p; got \"" + d.type + "\"");
    out->push_back(std::move(d));
  }
  return Ok();
}

Status ParseSeccomp(Reader& r, const json& o, Seccomp* s) {
  const std::string w = "linux.seccomp.";
  TRY(r.String(o, "defaultAction", w, &s->default_action));
  if (s->default_action.empty()) return r.Bad(w + "defaultAction", "is required");
  TRY(r.OptInt(o, "defaultErrnoRet", w, &s->default_errno_ret));
  TRY(r.Strings(o, "architectures", w, &s->architectures));
  TRY(r.Strings(o, "flags", w, &s->flags));
  TRY(r.String(o, "listenerPath", w, &s->listener_path));
  TRY(r.String(o, "listenerMetadata", w, &s->listener_metadata));
  auto* a = TRY(r.Array(o, "syscalls", w));
  if (!a) return Ok();
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iw = Idx(w + "syscalls", i);
    const auto& e = (*a)[i];
    if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
    SeccompSyscall sc;
    TRY(r.Strings(e, "names", iw, &sc.names));
    if (sc.names.empty()) return r.Bad(iw + "names", "must list at least one syscall");
    TRY(r.String(e, "action", iw, &sc.action));
    if (sc.action.empty()) return r.Bad(iw + "action", "is required");
    TRY(r.OptInt(e, "errnoRet", iw, &sc.errno_ret));
    if (auto* args = TRY(r.Array(e, "args", iw))) {
      for (size_t j = 0; j < args->size(); ++j) {
        std::string aw = Idx(iw + "args", j);
        const auto& ae = (*args)[j];
        if (!ae.is_object()) return r.Bad(aw.substr(0, aw.size() - 1), "must be an object");
        SeccompArg arg;
        TRY(r.Int(ae, "index", aw, &arg.index));
        TRY(r.Int(ae, "value", aw, &arg.value));
        TRY(r.Int(ae, "valueTwo", aw, &arg.value_two));
        TRY(r.String(ae, "op", aw, &arg.op));
        if (arg.op.empty()) return r.Bad(aw + "op", "is required");
        sc.args.push_back(std::move(arg));
      }
    }
    s->syscalls.push_back(std::move(sc));
  }
  return Ok();
}

Status ParseThrottles(Reader& r, const json& o, const char* key, const std::string& w,
                      std::vector<BlockIoResources::DeviceValue>* out) {
  auto* a = TRY(r.Array(o, key, w));
  if (!a) return Ok();
  for (size_t i = 0; i < a->size(); ++i) {
    std::string iw = Idx(w + key, i);
    const auto& e = (*a)[i];
    if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
    BlockIoResources::DeviceValue v;
    TRY(r.Int(e, "major", iw, &v.major));
    TRY(r.Int(e, "minor", iw, &v.minor));
    TRY(r.Int(e, "rate", iw, &v.rate));
    out->push_back(v);
  }
  return Ok();
}

}  // namespace

Status ParseResourcesObj(Reader& r, const json& o, const std::string& where, Resources* out) {
  if (auto* a = TRY(r.Array(o, "devices", where))) {
    for (size_t i = 0; i < a->size(); ++i) {
      std::string iw = Idx(where + "devices", i);
      const auto& e = (*a)[i];
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      DeviceCgroupRule d;
      TRY(r.Bool(e, "allow", iw, &d.allow));
      TRY(r.String(e, "type", iw, &d.type));
      TRY(r.OptInt(e, "major", iw, &d.major));
      TRY(r.OptInt(e, "minor", iw, &d.minor));
      TRY(r.String(e, "access", iw, &d.access));
      if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b")
        return r.Bad(iw + "type", "must be a, c or b; got \"" + d.type + "\"");
      // As runc, letters other than r, w, m are ignored ("rwa" is "rw"); the
      // kernel's device cgroup would refuse them. Nothing left is an error.
      if (!d.access.empty()) {
        std::string known;
        for (char c : std::string_view("rwm"))
          if (d.access.find(c) != std::string::npos) known += c;
        if (known.empty())
          return r.Bad(iw + "access", "must use r, w or m; got \"" + d.access + "\"");
        d.access = known;
      }
      out->devices.push_back(std::move(d));
    }
  }
  if (auto* m = TRY(r.Object(o, "memory", where))) {
    MemoryResources mem;
    std::string w = where + "memory.";
    TRY(r.OptInt(*m, "limit", w, &mem.limit));
    TRY(r.OptInt(*m, "reservation", w, &mem.reservation));
    TRY(r.OptInt(*m, "swap", w, &mem.swap));
    TRY(r.OptInt(*m, "kernel", w, &mem.kernel));
    TRY(r.OptInt(*m, "kernelTCP", w, &mem.kernel_tcp));
    TRY(r.OptInt(*m, "swappiness", w, &mem.swappiness));
    TRY(r.OptBool(*m, "disableOOMKiller", w, &mem.disable_oom_killer));
    TRY(r.OptBool(*m, "useHierarchy", w, &mem.use_hierarchy));
    TRY(r.OptBool(*m, "checkBeforeUpdate", w, &mem.check_before_update));
    out->memory = mem;
  }
  if (auto* c = TRY(r.Object(o, "cpu", where))) {
    CpuResources cpu;
    std::string w = where + "cpu.";
    TRY(r.OptInt(*c, "shares", w, &cpu.shares));
    TRY(r.OptInt(*c, "quota", w, &cpu.quota));
    TRY(r.OptInt(*c, "burst", w, &cpu.burst));
    TRY(r.OptInt(*c, "period", w, &cpu.period));
    TRY(r.OptInt(*c, "realtimeRuntime", w, &cpu.realtime_runtime));
    TRY(r.OptInt(*c, "realtimePeriod", w, &cpu.realtime_period));
    TRY(r.String(*c, "cpus", w, &cpu.cpus));
    TRY(r.String(*c, "mems", w, &cpu.mems));
    TRY(r.OptInt(*c, "idle", w, &cpu.idle));
    out->cpu = cpu;
  }
  if (auto* p = TRY(r.Object(o, "pids", where))) {
    PidsResources pids;
    TRY(r.Int(*p, "limit", where + "pids.", &pids.limit));
    out->pids = pids;
  }
  if (auto* b = TRY(r.Object(o, "blockIO", where))) {
    BlockIoResources bio;
    std::string w = where + "blockIO.";
    TRY(r.OptInt(*b, "weight", w, &bio.weight));
    TRY(r.OptInt(*b, "leafWeight", w, &bio.leaf_weight));
    if (auto* a = TRY(r.Array(*b, "weightDevice", w))) {
      for (size_t i = 0; i < a->size(); ++i) {
        std::string iw = Idx(w + "weightDevice", i);
        const auto& e = (*a)[i];
        if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
        BlockIoResources::DeviceWeight d;
        TRY(r.Int(e, "major", iw, &d.major));
        TRY(r.Int(e, "minor", iw, &d.minor));
        TRY(r.OptInt(e, "weight", iw, &d.weight));
        TRY(r.OptInt(e, "leafWeight", iw, &d.leaf_weight));
        bio.weight_device.push_back(d);
      }
    }
    TRY(ParseThrottles(r, *b, "throttleReadBpsDevice", w, &bio.throttle_read_bps));
    TRY(ParseThrottles(r, *b, "throttleWriteBpsDevice", w, &bio.throttle_write_bps));
    TRY(ParseThrottles(r, *b, "throttleReadIOPSDevice", w, &bio.throttle_read_iops));
    TRY(ParseThrottles(r, *b, "throttleWriteIOPSDevice", w, &bio.throttle_write_iops));
    out->block_io = std::move(bio);
  }
  if (auto* a = TRY(r.Array(o, "hugepageLimits", where))) {
    for (size_t i = 0; i < a->size(); ++i) {
      std::string iw = Idx(where + "hugepageLimits", i);
      const auto& e = (*a)[i];
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      HugepageLimit h;
      TRY(r.String(e, "pageSize", iw, &h.page_size));
      TRY(r.Int(e, "limit", iw, &h.limit));
      out->hugepage_limits.push_back(std::move(h));
    }
  }
  TRY(r.StringMap(o, "unified", where, &out->unified));
  return Ok();
}

Status ParseLinuxObj(Reader& r, const json& o, Linux* lx) {
  const std::string w = "linux.";
  if (auto* a = TRY(r.Array(o, "namespaces", w))) {
    std::set<std::string> seen;
    for (size_t i = 0; i < a->size(); ++i) {
      std::string iw = Idx(w + "namespaces", i);
      const auto& e = (*a)[i];
      if (!e.is_object()) return r.Bad(iw.substr(0, iw.size() - 1), "must be an object");
      Namespace ns;
      TRY(r.String(e, "type", iw, &ns.type));
      TRY(r.String(e, "path", iw, &ns.path));
      if (!NamespaceTypes().count(ns.type))
        return r.Bad(iw + "type", "unknown namespace type \"" + ns.type + "\"");
      if (!seen.insert(ns.type).second)
        return r.Bad(iw + "type", "namespace \"" + ns.type + "\" listed twice");
      if (!ns.path.empty() && ns.path.front() != '/')
        return r.Bad(iw + "path", "must be an absolute path");
      lx->namespaces.push_back(std::move(ns));
    }
  }
  TRY(ParseIdMappings(r, o, "uidMappings", &lx->uid_mappings));
  TRY(ParseIdMappings(r, o, "gidMappings", &lx->gid_mappings));
  if (auto* t = TRY(r.Object(o, "timeOffsets", w))) {
    for (const auto& [k, v] : t->items()) {
      if (k != "monotonic" && k != "boottime")
        return r.Bad(w + "timeOffsets." + k, "unknown clock (want monotonic or boottime)");
      if (!v.is_object()) return r.Bad(w + "timeOffsets." + k, "must be an object");
      TimeOffset off;
      TRY(r.Int(v, "secs", w + "timeOffsets." + k + ".", &off.secs));
      TRY(r.Int(v, "nanosecs", w + "timeOffsets." + k + ".", &off.nanosecs));
      lx->time_offsets[k] = off;
    }
  }
  TRY(ParseDevices(r, o, &lx->devices));
  TRY(r.String(o, "cgroupsPath", w, &lx->cgroups_path));
  if (auto* res = TRY(r.Object(o, "resources", w))) {
    Resources resources;
    TRY(ParseResourcesObj(r, *res, w + "resources.", &resources));
    lx->resources = std::move(resources);
  }
  TRY(r.String(o, "rootfsPropagation", w, &lx->rootfs_propagation));
  static const std::set<std::string> kProp = {"",       "private",    "rprivate",
                                              "shared", "rshared",    "slave",
                                              "rslave", "unbindable", "runbindable"};
  if (!kProp.count(lx->rootfs_propagation))
    return r.Bad(w + "rootfsPropagation", "unknown propagation \"" + lx->rootfs_propagation + "\"");
  if (auto* s = TRY(r.Object(o, "seccomp", w))) {
    Seccomp sc;
    TRY(ParseSeccomp(r, *s, &sc));
    lx->seccomp = std::move(sc);
  }
  TRY(r.StringMap(o, "sysctl", w, &lx->sysctl));
  TRY(r.Strings(o, "maskedPaths", w, &lx->masked_paths));
  TRY(r.Strings(o, "readonlyPaths", w, &lx->readonly_paths));
  TRY(r.String(o, "mountLabel", w, &lx->mount_label));
  if (auto* p = TRY(r.Object(o, "personality", w))) {
    std::string domain;
    TRY(r.String(*p, "domain", w + "personality.", &domain));
    if (domain != "LINUX" && domain != "LINUX32")
      return r.Bad(w + "personality.domain", "must be LINUX or LINUX32");
    lx->personality_domain = domain;
  }
  return Ok();
}

}  // namespace husk::oci
