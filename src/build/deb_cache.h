// The .deb cache of `husk build`: packages kept by SHA-256, so a rebuild, or
// another image that needs the same package, downloads nothing.
//
//   <store root>/debs/<sha256>.deb     verified; never written in place
//   <store root>/debs/.partial-<sha256>.XXXXXX   a download in progress (removed
//                                      on failure; a crash's leftovers after a day)
//
// A download is hashed as it is written to a temporary name and renamed to
// its final name only once its size and SHA-256 match the (signed) index, so
// a file under the final name is always the package the index describes.
// Store prune does not look into debs/; deleting the directory is always safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "build/apt_repo.h"
#include "debian/index.h"

namespace husk::build {

// <store root>/debs.
std::string DebCacheDir(const std::string& store_root);

// One file to fetch: what the index says about it.
struct DebSource {
  std::string url;     // http://deb.debian.org/debian/pool/main/h/hello/hello_2.10-3_amd64.deb
  std::string sha256;  // lowercase hex; required
  uint64_t size = 0;
  std::string id;  // "hello 2.10-3 amd64", for messages
};

// The sources of packages loaded by LoadAptIndex, in order.
std::vector<DebSource> DebSources(const AptIndex& index,
                                  const std::vector<const debian::Package*>& packages);

struct DebFetchEvent {
  size_t index = 0;  // into the sources given (the first, for a file listed twice)
  const DebSource* source = nullptr;
  bool cached = false;  // it was already there: nothing downloaded
  size_t done = 0;      // distinct files available so far, this one included
  size_t total = 0;     // distinct files
};

struct DebFetchOptions {
  int jobs = 4;  // downloads at once
  // Once per source when it is available; one call at a time, from any thread.
  std::function<void(const DebFetchEvent&)> progress;
};

// The local path of each source, in order: <cache_dir>/<sha256>.deb,
// downloaded unless already cached (a file of the right size under that name
// was verified when it got it and is not hashed again). Errors name the URL:
//   http://.../hello_2.10-3_amd64.deb: SHA256 mismatch (got ..., the index says ...)
// After a failure nothing is left under the failed file's final name; the
// files fetched before it stay (they are verified).
Result<std::vector<std::string>> FetchDebs(const std::vector<DebSource>& sources,
                                           const std::string& cache_dir,
                                           const DebFetchOptions& opts = {});
// The same for packages of an AptIndex.
Result<std::vector<std::string>> FetchDebs(const AptIndex& index,
                                           const std::vector<const debian::Package*>& packages,
                                           const std::string& cache_dir,
                                           const DebFetchOptions& opts = {});

}  // namespace husk::build
