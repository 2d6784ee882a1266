// The last step of `husk build`: the assembled tree becomes a layer, the spec
// becomes an image config, and both go into the store under a name, written
// so that the same tree and spec always give the same digests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "build/spec.h"
#include "digest/digest.h"
#include "store/store.h"

namespace husk::build {

struct ImageWriteOptions {
  std::string name;          // the record to write, normalised ("localhost/static:latest")
  std::string architecture;  // Debian and OCI agree on amd64, arm64, ...
  std::string user;          // "65532:65532"; empty: root
  int64_t epoch = 0;         // SOURCE_DATE_EPOCH: every mtime and the created time
  bool zstd = false;         // layer compression: gzip (default) or zstd
};

struct WrittenImage {
  Digest manifest;
  Digest config;
  uint64_t size = 0;  // config + layers, compressed, as a registry stores them
  int layers = 0;
};

// Writes tree (one layer) with spec's config into the store.
Result<WrittenImage> WriteImage(store::Store& st, const std::string& tree, const BuildSpec& spec,
                                const ImageWriteOptions& o);

// The image config JSON (exposed for tests).
std::string ImageConfigJson(const BuildSpec& spec, const ImageWriteOptions& o,
                            const std::vector<Digest>& diff_ids);

}  // namespace husk::build
