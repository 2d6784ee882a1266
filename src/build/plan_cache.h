// Solved package sets kept between builds, so that a warm build of an
// unchanged husk.yaml against unchanged suites does not parse 50 MB of
// Packages indexes to solve the same problem again — what apt's pkgcache.bin
// is to apt.
//
//   <cache_dir>/plans/<key>.json   husk.lock's format: the packages, in
//                                  installation order, with sha256 and URL
//
// The key hashes everything the answer depends on: the verified InRelease of
// every suite (CheckReleases' fingerprint: a changed suite is a new key), the
// architecture, the package requests of the spec, whether the Essential set is
// wanted, and husk's version (a new solver may answer differently). A plan
// that cannot be read is ignored, never an error: solving again is always
// possible.
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "build/lock.h"
#include "build/spec.h"

namespace husk::build {

std::string PlanKey(const std::string& releases_fingerprint, const BuildSpec& spec,
                    const std::string& arch);

std::optional<LockFile> LoadCachedPlan(const std::string& cache_dir, const std::string& key);

// Written atomically. Plans unused for 30 days are removed at the same time.
Status StoreCachedPlan(const std::string& cache_dir, const std::string& key, const LockFile& plan);

}  // namespace husk::build
