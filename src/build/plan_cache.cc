#include "build/plan_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "base/fs.h"
#include "digest/digest.h"

#ifndef HUSK_BUILD_VERSION
#define HUSK_BUILD_VERSION "dev"
#endif

namespace husk::build {
namespace {

// Bumped when what a plan means changes (the solver's choices, the format).
constexpr const char* kPlanFormat = "2";
constexpr int64_t kMaxIdleSeconds = 30 * 86400;

std::string PlanPath(const std::string& cache_dir, const std::string& key) {
  return fs::Join(fs::Join(cache_dir, "plans"), key + ".json");
}

void PruneIdlePlans(const std::string& dir) {
  auto names = fs::ListDir(dir);
  if (!names) return;
  int64_t now = static_cast<int64_t>(::time(nullptr));
  for (const std::string& name : *names) {
    std::string path = fs::Join(dir, name);
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && now - st.st_mtime > kMaxIdleSeconds)
      ::unlink(path.c_str());
  }
}

}  // namespace

std::string PlanKey(const std::string& releases_fingerprint, const BuildSpec& spec,
                    const std::string& arch) {
  Sha256 h;
  auto field = [&](std::string_view s) {
    // Length-prefixed, so that no two different inputs run together alike.
    h.Update(std::to_string(s.size()));
    h.Update(":");
    h.Update(s);
  };
  field("husk " HUSK_BUILD_VERSION " plan ");
  field(kPlanFormat);
  field(releases_fingerprint);
  field(arch);
  field(spec.include_essential ? "essential" : "");
  for (const PackageRequest& p : spec.packages) {
    field(p.package);
    field(p.version);
    field(p.arch);
    field(p.follow_depends ? "depends" : "alone");
  }
  return h.Final().hex();
}

std::optional<LockFile> LoadCachedPlan(const std::string& cache_dir, const std::string& key) {
  std::string path = PlanPath(cache_dir, key);
  if (!fs::Exists(path)) return std::nullopt;
  auto plan = ReadLockFile(path);
  if (!plan || plan->packages.empty()) return std::nullopt;
  (void)::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // in use: not idle
  return std::move(*plan);
}

Status StoreCachedPlan(const std::string& cache_dir, const std::string& key, const LockFile& plan) {
  std::string dir = fs::Join(cache_dir, "plans");
  TRY(fs::MkdirAll(dir, 0755));
  PruneIdlePlans(dir);
  return WriteLockFile(PlanPath(cache_dir, key), plan);
}

}  // namespace husk::build
