// husk.lock: the exact packages a build used, so the next build uses exactly
// those (and can run offline once they are cached). JSON, one entry per
// package in installation order:
//   {"lockVersion": 1, "architecture": "amd64", "packages": [
//     {"name": "libc6", "version": "2.36-9+deb12u10", "architecture": "amd64",
//      "sha256": "…", "size": 2757936,
//      "url": "http://deb.debian.org/debian/pool/main/g/glibc/libc6_….deb"}]}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace husk::build {

struct LockedPackage {
  std::string name;
  std::string version;
  std::string architecture;
  std::string sha256;  // hex
  uint64_t size = 0;
  std::string url;
};

struct LockFile {
  std::string architecture;
  std::vector<LockedPackage> packages;
};

Result<LockFile> ReadLockFile(const std::string& path);
// Written atomically; the same lock gives the same bytes.
Status WriteLockFile(const std::string& path, const LockFile& lock);

}  // namespace husk::build
