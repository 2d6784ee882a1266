#include "build/builder.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <optional>

#include "base/fs.h"
#include "build/apt_repo.h"
#include "build/assemble.h"
#include "build/deb.h"
#include "build/deb_cache.h"
#include "build/layering.h"
#include "build/lock.h"
#include "build/plan_cache.h"
#include "build/sbom.h"
#include "build/spec.h"
#include "debian/deb822.h"
#include "debian/solver.h"
#include "image/reference.h"

namespace husk::build {
namespace {

void Log(const BuildOptions& o, const std::string& line) {
  if (o.log) o.log(line);
}

// A directory under the store's tmp/ removed when the build ends, however it ends.
struct TempTree {
  std::string path;
  ~TempTree() {
    if (!path.empty()) (void)fs::RemoveAll(path);
  }
};

// The newest mtime of the regular files the packages brought: the default
// SOURCE_DATE_EPOCH, so the image changes date only when its content does.
int64_t NewestMtime(const std::string& root) {
  int64_t newest = 0;
  std::deque<std::string> todo{root};
  while (!todo.empty()) {
    std::string dir = todo.front();
    todo.pop_front();
    auto entries = fs::ListDir(dir);
    if (!entries) continue;
    for (auto& e : *entries) {
      std::string p = fs::Join(dir, e);
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode))
        todo.push_back(p);
      else if (S_ISREG(st.st_mode))
        newest = std::max<int64_t>(newest, st.st_mtime);
    }
  }
  return newest;
}

std::string DefaultName(const std::string& file) {
  std::string dir = fs::Absolute(file);
  dir = dir.substr(0, dir.rfind('/'));
  std::string base = dir.substr(dir.rfind('/') + 1);
  std::string clean;
  for (char c : base) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    clean +=
        (std::isalnum(static_cast<unsigned char>(l)) || l == '-' || l == '_' || l == '.') ? l : '-';
  }
  if (clean.empty() || !std::isalnum(static_cast<unsigned char>(clean[0]))) clean = "image";
  return "localhost/" + clean + ":latest";
}

// The packages to install, in order, each with the .deb to fetch: from the
// lock when there is one (no index needed), else solved from the indexes.
struct Plan {
  std::vector<DebSource> sources;
  std::vector<std::string> names;
  LockFile lock;
};

Plan PlanFromLock(const LockFile& lock) {
  Plan plan;
  plan.lock = lock;
  for (auto& p : lock.packages) {
    plan.sources.push_back(
        {p.url, p.sha256, p.size, p.name + " " + p.version + " " + p.architecture});
    plan.names.push_back(p.name);
  }
  return plan;
}

Result<Plan> PlanFromIndex(const BuildSpec& spec, const std::string& arch, const std::string& cache,
                           const BuildOptions& o, std::unique_ptr<AptIndex>& index_out) {
  std::vector<Repository> repos = spec.repositories;
  if (repos.empty()) repos = TRY(SystemRepositories());
  if (repos.empty())
    return Err("no repositories: none in {} and none on this machine", spec.source);
  AptOptions ao;
  ao.cache_dir = cache;
  ao.arch = arch;
  ao.log = o.log;
  // The suites are checked every time; when none changed since a build that
  // asked for the same packages, that build's answer still holds and the
  // indexes need not be read at all.
  const std::string key = PlanKey(TRY(CheckReleases(repos, ao)), spec, arch);
  if (auto cached = LoadCachedPlan(cache, key)) {
    Log(o, "Suites unchanged: using the packages solved before");
    return PlanFromLock(*cached);
  }
  ao.cached_releases = true;  // CheckReleases just fetched and verified them
  index_out = std::make_unique<AptIndex>(TRY(LoadAptIndex(repos, ao)));
  std::vector<std::string> req;
  std::vector<const PackageRequest*> alone;  // `dependencies: false`
  for (auto& p : spec.packages) {
    if (p.follow_depends)
      req.push_back(p.name);
    else
      alone.push_back(&p);
  }
  debian::SolveOptions so;
  so.arch = arch;
  so.essential_pulled_in = spec.include_essential;
  std::vector<const debian::Package*> pkgs;
  if (!req.empty() || spec.include_essential) {
    auto sol = TRY(debian::Resolve(index_out->packages, req, so));
    for (auto& n : sol.notes) Log(o, "note: " + n);
    for (auto& s : sol.packages) pkgs.push_back(s.package);
  }
  // Packages installed without their dependencies come last: nothing in the
  // image depends on them, and their own dependencies are deliberately absent.
  for (auto* r : alone) {
    bool have =
        std::any_of(pkgs.begin(), pkgs.end(), [&](auto* p) { return p->name == r->package; });
    if (have) continue;
    const debian::Package* pick = nullptr;
    for (auto* cand : index_out->packages.Lookup(r->package, r->arch.empty() ? arch : r->arch)) {
      if (r->version.empty() || cand->version == r->version) {
        pick = cand;
        break;
      }
    }
    if (!pick)
      return Err("cannot install {}: no such package{} for {}", r->name,
                 r->version.empty() ? "" : " version", arch);
    pkgs.push_back(pick);
  }
  Plan plan;
  plan.sources = DebSources(*index_out, pkgs);
  plan.lock.architecture = arch;
  for (size_t i = 0; i < pkgs.size(); i++) {
    plan.names.push_back(pkgs[i]->name);
    plan.lock.packages.push_back({pkgs[i]->name, pkgs[i]->version, pkgs[i]->architecture,
                                  pkgs[i]->sha256, pkgs[i]->size, plan.sources[i].url});
  }
  TRY(StoreCachedPlan(cache, key, plan.lock));
  return plan;
}

const Slice* SliceFor(const BuildSpec& spec, const std::string& name) {
  for (auto& p : spec.packages) {
    if (p.package == name && p.slice) return &*p.slice;
  }
  return nullptr;
}

}  // namespace

Result<BuildResult> Build(store::Store& st, const BuildOptions& o) {
  auto spec = TRY(LoadBuildSpec(o.file));
  std::string arch = !o.arch.empty()               ? o.arch
                     : !spec.architectures.empty() ? spec.architectures[0]
                                                   : HostDebianArch();
  BuildResult res;
  res.name = o.name.empty() ? DefaultName(o.file) : TRY(image::ParseReference(o.name)).String();
  if (!o.name.empty() && image::ParseReference(o.name)->digest)
    return Err("-t {}: an image name cannot carry a digest", o.name);

  std::string cache = DebCacheDir(st.root());
  std::string lock_path =
      fs::Join(fs::Absolute(o.file).substr(0, fs::Absolute(o.file).rfind('/')), "husk.lock");
  std::unique_ptr<AptIndex> index;
  Plan plan;
  if (!o.write_lock && fs::Exists(lock_path)) {
    auto lock = TRY(ReadLockFile(lock_path));
    if (!lock.architecture.empty() && lock.architecture != arch)
      return Err("{} is for {}, the build is for {}", lock_path, lock.architecture, arch);
    Log(o, fmt::format("Using {} ({} packages)", lock_path, lock.packages.size()));
    plan = PlanFromLock(lock);
  } else {
    plan = TRY(PlanFromIndex(spec, arch, cache, o, index));
  }
  Log(o, fmt::format("Fetching {} packages", plan.sources.size()));
  DebFetchOptions fo;
  fo.jobs = o.jobs;
  auto debs = TRY(FetchDebs(plan.sources, cache, fo));

  // The tree is assembled in the store's tmp/ and removed afterwards.
  auto tmp_root = fs::Join(st.root(), "tmp");
  TRY(fs::MkdirAll(tmp_root, 0700));
  char tmpl[4096];
  snprintf(tmpl, sizeof(tmpl), "%s/build.XXXXXX", tmp_root.c_str());
  if (!mkdtemp(tmpl)) return ErrnoErr("mkdtemp in {}", tmp_root);
  TempTree tree{tmpl};
  std::string root = fs::Join(tree.path, "rootfs");
  TRY(fs::MkdirAll(root, 0755));
  TRY(PrepareRoot(root, arch));

  // Package metadata for status.d and the SBOM comes from each .deb's control
  // file, so a locked build needs no index.
  std::vector<debian::Package> parsed(debs.size());
  std::vector<InstalledPackage> installed;
  for (size_t i = 0; i < debs.size(); i++) {
    InstalledPackage ip;
    ip.deb_path = debs[i];
    ip.contents = TRY_CTX(ReadDeb(debs[i]), "{}", plan.sources[i].id);
    auto paras =
        TRY_CTX(debian::ParseDeb822(ip.contents.control), "{}: control", plan.sources[i].id);
    if (paras.empty()) return Err("{}: empty control file", plan.sources[i].id);
    parsed[i] = TRY_CTX(debian::ParsePackage(paras[0]), "{}", plan.sources[i].id);
    parsed[i].sha256 = plan.sources[i].sha256;
    parsed[i].size = plan.sources[i].size;
    ExtractFilter filter;
    if (auto* sl = SliceFor(spec, parsed[i].name)) {
      filter.keep = sl->keep;
      filter.drop = sl->drop;
      ip.sliced = true;
    }
    auto data = TRY_CTX(ExtractDebData(debs[i], root, filter), "{}", plan.sources[i].id);
    ip.files = std::move(data.files);
    ip.landed = std::move(data.landed);
    installed.push_back(std::move(ip));
  }
  for (size_t i = 0; i < installed.size(); i++) installed[i].pkg = &parsed[i];

  res.epoch = NewestMtime(root);
  const char* sde = getenv("SOURCE_DATE_EPOCH");
  if (sde && *sde) res.epoch = std::strtoll(sde, nullptr, 10);
  // Which package put what where, taken before assembly changes the tree.
  std::optional<PackageEntries> recorded;
  if (spec.layering.strategy == Layering::Strategy::kByPackage)
    recorded = TRY(RecordPackageEntries(root, installed));
  TRY(AssembleTree(root, spec, installed));

  // The copyright files (which AssembleTree keeps) name the licences.
  SbomInput sin;
  // Named after the build file's directory, not -t: tagging the same input
  // differently must not change the image's digest.
  sin.image_name = DefaultName(o.file);
  sin.created = res.epoch;
  sin.tool_version = "husk " HUSK_BUILD_VERSION;
  if (auto osr = fs::ReadFile(fs::Join(root, "usr/lib/os-release")); osr.ok())
    sin.distro = DistroFromOsRelease(*osr);
  sin.packages = TRY(SbomPackages(root, installed));
  TRY(fs::MkdirAll(fs::Join(root, "usr/share/sbom"), 0755));
  TRY(fs::WriteFile(fs::Join(root, std::string(kSpdxPath).substr(1)), SpdxJson(sin)));
  TRY(fs::WriteFile(fs::Join(root, std::string(kCycloneDxPath).substr(1)), CycloneDxJson(sin)));

  ImageWriteOptions wo;
  wo.name = res.name;
  wo.architecture = arch;
  wo.user = TRY(ResolveRunAs(spec));
  wo.epoch = res.epoch;
  wo.zstd = o.zstd;
  std::vector<TreeLayer> layers{TreeLayer{}};
  if (recorded) {
    layers = TRY(PlanLayers(root, *recorded, spec.layering.max_layers));
    // An explicit SOURCE_DATE_EPOCH is every layer's time, as it is single's.
    if (sde && *sde)
      for (auto& l : layers) l.mtime.reset();
  }
  Log(o, layers.size() == 1 ? "Writing image " + res.name
                            : fmt::format("Writing image {} ({} layers)", res.name, layers.size()));
  res.image = TRY(WriteImage(st, root, spec, wo, layers));
  res.packages = installed.size();
  if (o.write_lock) {
    TRY(WriteLockFile(lock_path, plan.lock));
    Log(o, "Wrote " + lock_path);
  }
  return res;
}

Result<std::string> ReadImageFile(const store::Store& st, const std::string& image,
                                  const std::string& path) {
  auto img = TRY(st.Resolve(image));
  auto chains = image::ChainIds(img.config.diff_ids);
  for (auto it = chains.rbegin(); it != chains.rend(); ++it) {
    auto li = st.FindLayer(*it);
    if (!li) return Err("image {}: layer {} is not unpacked in the store", image, it->str());
    std::string p = fs::Join(li->path, path.substr(1));
    if (fs::Exists(p)) return fs::ReadFile(p);
  }
  return Err("image {} has no {} (was it built by husk build?)", image, path);
}

}  // namespace husk::build
