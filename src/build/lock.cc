#include "build/lock.h"

#include <nlohmann/json.hpp>

#include "base/fs.h"

namespace husk::build {

Result<LockFile> ReadLockFile(const std::string& path) {
  auto text = TRY(fs::ReadFile(path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Err("{}: not a JSON object", path);
  if (j.value("lockVersion", 0) != 1) return Err("{}: unsupported lockVersion", path);
  LockFile lock;
  lock.architecture = j.value("architecture", "");
  auto pkgs = j.find("packages");
  if (pkgs == j.end() || !pkgs->is_array()) return Err("{}: \"packages\" missing", path);
  for (size_t i = 0; i < pkgs->size(); i++) {
    auto& e = (*pkgs)[i];
    LockedPackage p;
    if (!e.is_object()) return Err("{}: packages[{}] is not an object", path, i);
    p.name = e.value("name", "");
    p.version = e.value("version", "");
    p.architecture = e.value("architecture", "");
    p.sha256 = e.value("sha256", "");
    p.size = e.value("size", uint64_t{0});
    p.url = e.value("url", "");
    if (p.name.empty() || p.version.empty() || p.sha256.size() != 64 || p.url.empty())
      return Err("{}: packages[{}] ({}) lacks name, version, sha256 or url", path, i, p.name);
    lock.packages.push_back(std::move(p));
  }
  return lock;
}

Status WriteLockFile(const std::string& path, const LockFile& lock) {
  nlohmann::ordered_json j;
  j["lockVersion"] = 1;
  j["architecture"] = lock.architecture;
  j["packages"] = nlohmann::ordered_json::array();
  for (auto& p : lock.packages) {
    j["packages"].push_back({{"name", p.name},
                             {"version", p.version},
                             {"architecture", p.architecture},
                             {"sha256", p.sha256},
                             {"size", p.size},
                             {"url", p.url}});
  }
  return fs::WriteFileAtomic(path, j.dump(2) + "\n", 0644, /*durable=*/true);
}

}  // namespace husk::build
