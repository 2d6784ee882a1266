#include "runtime/rootless.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace husk::runtime {

namespace {

// What an unprivileged user gets from a cgroup hierarchy it may not write:
// EROFS is what a read-only /sys/fs/cgroup (a container's) answers.
bool IsPermissionError(int code) {
  return code == EPERM || code == EACCES || code == EROFS;
}

std::string NsLink(pid_t pid) {
  char buf[PATH_MAX];
  std::string path = pid > 0 ? "/proc/" + std::to_string(pid) + "/ns/pid" : "/proc/self/ns/pid";
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

bool UidMapIsNested(std::string_view uid_map) {
  std::vector<std::vector<std::string>> lines;
  for (const auto& line : strings::Split(uid_map, '\n')) {
    std::vector<std::string> fields;
    for (const auto& f : strings::Split(strings::Trim(line), ' '))
      if (!f.empty()) fields.push_back(f);
    if (!fields.empty()) lines.push_back(std::move(fields));
  }
  bool identity = lines.size() == 1 && lines[0].size() == 3 && lines[0][0] == "0" &&
                  lines[0][1] == "0" && lines[0][2] == "4294967295";
  return !identity;
}

bool InUserNamespace() {
  static const bool nested = [] {
    auto text = fs::ReadFile("/proc/self/uid_map");
    return text.ok() && UidMapIsNested(*text);
  }();
  return nested;
}

bool RootlessFor(std::optional<bool> flag, uid_t euid, bool in_userns) {
  if (flag) return *flag;
  // runc (cgroupfs driver) cannot tell whether root of a nested user namespace
  // may write the cgroups, so it assumes not; so do we.
  return euid != 0 || in_userns;
}

bool Rootless(const GlobalOptions& g) {
  if (g.rootless) return *g.rootless;
  return RootlessFor(std::nullopt, ::geteuid(), InUserNamespace());
}

DefaultRoot DefaultRootFor(uid_t euid, bool in_userns, const char* xdg_runtime_dir,
                           const char* user) {
  bool honor = xdg_runtime_dir && *xdg_runtime_dir &&
               (euid != 0 || (in_userns && (!user || std::string_view(user) != "root")));
  // Real root keeps /run/huskrun even when $XDG_RUNTIME_DIR is /run/user/0, so
  // that its containers are found whatever the session.
  if (!honor) return {GlobalOptions{}.root, false};
  return {fs::Join(xdg_runtime_dir, "huskrun"), true};
}

Status PrepareXdgRoot(const std::string& root) {
  if (auto st = fs::MkdirAll(root, 0700); !st)
    return std::move(st).wrap("state root in $XDG_RUNTIME_DIR (must be writable by the user)");
  if (::chmod(root.c_str(), 0700 | S_ISVTX) != 0)
    return ErrnoErr("state root in $XDG_RUNTIME_DIR: chmod {}", root);
  return Ok();
}

std::vector<std::string> LimitsRequested(const oci::Resources& r) {
  std::vector<std::string> out;
  auto nz = [](const auto& v) { return v && *v != 0; };
  if (const auto& m = r.memory) {
    // Kernel memory limits are ignored anyway (deprecated by the kernel).
    if (nz(m->limit) || nz(m->reservation) || nz(m->swap) ||
        m->disable_oom_killer.value_or(false) || (m->swappiness && *m->swappiness != UINT64_MAX))
      out.push_back("memory");
  }
  if (const auto& c = r.cpu) {
    if (nz(c->shares) || nz(c->quota) || nz(c->period) || nz(c->realtime_runtime) ||
        nz(c->realtime_period) || c->burst || c->idle || !c->cpus.empty() || !c->mems.empty())
      out.push_back("cpu");
  }
  if (r.pids && r.pids->limit != 0) out.push_back("pids");
  if (const auto& b = r.block_io) {
    if (nz(b->weight) || nz(b->leaf_weight) || !b->weight_device.empty() ||
        !b->throttle_read_bps.empty() || !b->throttle_write_bps.empty() ||
        !b->throttle_read_iops.empty() || !b->throttle_write_iops.empty())
      out.push_back("blockIO");
  }
  if (!r.hugepage_limits.empty()) out.push_back("hugepageLimits");
  if (!r.unified.empty()) out.push_back("unified");
  return out;
}

CgroupPolicy CgroupPolicyFor(const GlobalOptions& g, const oci::Linux& lx) {
  CgroupPolicy p;
  p.rootless = Rootless(g);
  p.cgroups_path = lx.cgroups_path;
  if (lx.resources) p.limits = LimitsRequested(*lx.resources);
  p.uid = ::geteuid();
  return p;
}

std::optional<Error> CgroupFailure(Error err, const CgroupPolicy& p) {
  if (!p.rootless || !IsPermissionError(err.code)) return err;
  // As runc: a path the user chose must work; only the default may be skipped.
  if (!p.cgroups_path.empty())
    return std::move(err).wrap(
        fmt::format("linux.cgroupsPath \"{}\" is not delegated to uid {}", p.cgroups_path, p.uid));
  // runc's words (its tests look for them), then what would make it work.
  if (!p.limits.empty())
    return std::move(err).wrap(fmt::format(
        "cannot set {} limit{}: container could not join or create cgroup (rootless: limits need "
        "a cgroup delegated to uid {}, named in linux.cgroupsPath)",
        strings::Join(p.limits, ", "), p.limits.size() > 1 ? "s" : "", p.uid));
  return std::nullopt;
}

Result<std::unique_ptr<cgroup::Manager>> CreateCgroup(const oci::Linux& lx, const std::string& id,
                                                      const CgroupPolicy& p) {
  auto cg = TRY(cgroup::Open(lx.cgroups_path, id, false));
  if (auto made = cg->Create(); !made) {
    std::string why = made.error().message();
    if (auto e = CgroupFailure(std::move(made).error(), p)) return *std::move(e);
    log::Debugf("rootless: {} runs without a cgroup of its own: {}", id, why);
    // A hierarchy the user could write before the one it could not.
    (void)cg->Destroy();
    return std::unique_ptr<cgroup::Manager>();
  }
  // A cgroup someone froze would freeze init mid-setup: refuse it, and leave it
  // alone (it is not ours to remove). One we just made is neither.
  if (!cg->MadeByCreate()) {
    if (auto frozen = cg->Frozen(); frozen.ok() && *frozen)
      return Err("container's cgroup unexpectedly frozen");
    if (auto pids = cg->Pids(); pids.ok() && !pids->empty())
      log::Warnf("container's cgroup is not empty: {} process(es) found", pids->size());
  }
  return cg;
}

Status JoinCgroup(std::unique_ptr<cgroup::Manager>* cg, pid_t pid, const CgroupPolicy& p) {
  if (!*cg) return Ok();
  auto st = (*cg)->AddProcess(pid);
  if (st) return Ok();
  std::string why = st.error().message();
  if (auto e = CgroupFailure(std::move(st).error(), p)) return *std::move(e);
  // An existing cgroup the user may not enter (create found it, made nothing).
  log::Debugf("rootless: init {} runs without a cgroup of its own: {}", pid, why);
  if ((*cg)->MadeByCreate()) (void)(*cg)->Destroy();
  cg->reset();
  return Ok();
}

Status ApplyLimits(cgroup::Manager& cg, const oci::Resources& r, bool rootless) {
  if (!rootless || r.devices.empty()) return cg.Apply(r);
  oci::Resources rest = r;
  rest.devices.clear();
  TRY(cg.Apply(rest));
  // v1 device files and v2's BPF program both take privileges a delegated
  // cgroup does not give; runc ignores the failure.
  oci::Resources devices;
  devices.devices = r.devices;
  if (auto st = cg.Apply(devices); !st)
    log::Debugf("rootless: device rules not enforced: {}", st.error().message());
  return Ok();
}

Result<std::unique_ptr<cgroup::Manager>> ContainerCgroup(const ContainerState& st,
                                                         std::string_view action) {
  if (st.cgroup_path.empty())
    return Err(
        "cannot {}: cgroups not configured for container (created rootless without a cgroup "
        "of its own)",
        action);
  return cgroup::Load(st.cgroup_path);
}

Result<bool> EnterUserNamespaceForExec(const std::string& proc_dir, const oci::Linux& lx) {
  if (::geteuid() == 0) return false;
  bool has_user = false;
  for (const auto& ns : lx.namespaces) has_user = has_user || ns.type == "user";
  if (!has_user) return false;
  std::string path = proc_dir + "/ns/user";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", path);
  struct stat want, self;
  if (::fstat(fd.get(), &want) != 0 || ::stat("/proc/self/ns/user", &self) != 0)
    return ErrnoErr("stat user namespace {}", path);
  if (want.st_dev == self.st_dev && want.st_ino == self.st_ino) return false;  // already there
  if (::setns(fd.get(), CLONE_NEWUSER) != 0) return ErrnoErr("join {}", path);
  return true;
}

Status SignalWithoutCgroup(pid_t init, int signal) {
  std::string ns = NsLink(init);
  // Without a pid namespace of its own the container's processes cannot be told
  // from the caller's: signal init only.
  if (!ns.empty() && ns != NsLink(0)) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir("/proc"), ::closedir);
    if (!d) return ErrnoErr("open /proc");
    while (dirent* e = ::readdir(d.get())) {
      auto pid = strings::ParseUint(e->d_name);
      if (!pid || static_cast<pid_t>(*pid) == init) continue;
      if (NsLink(static_cast<pid_t>(*pid)) == ns) ::kill(static_cast<pid_t>(*pid), signal);
    }
  }
  if (::kill(init, signal) != 0) return ErrnoErr("kill {} with signal {}", init, signal);
  return Ok();
}

}  // namespace husk::runtime
