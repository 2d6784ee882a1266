// The last step of `husk build`: the assembled tree becomes a layer (or the
// layers layering.h cuts it into), the spec becomes an image config, and both
// go into the store under a name, written so that the same tree and spec
// always give the same digests.
#pragma once

#include <cstdint>
#include <optional>
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

// What one layer holds of the tree.
struct TreeLayer {
  // Entries relative to the tree ("usr/bin/x"), sorted bytewise, their parent
  // directories listed too; empty: the whole tree.
  std::vector<std::string> paths;
  // Every entry's mtime; nullopt: ImageWriteOptions::epoch.
  std::optional<int64_t> mtime;
  // The image config history's comment ("libc6 2.36-9+deb12u10"); "" for none.
  std::string comment;
};

// Writes tree as `layers`, bottom first (by default one layer of all of it),
// with spec's config into the store.
Result<WrittenImage> WriteImage(store::Store& st, const std::string& tree, const BuildSpec& spec,
                                const ImageWriteOptions& o,
                                const std::vector<TreeLayer>& layers = {TreeLayer{}});

// The image config JSON (exposed for tests): one history entry per diff ID,
// with comments[i] when there is one.
std::string ImageConfigJson(const BuildSpec& spec, const ImageWriteOptions& o,
                            const std::vector<Digest>& diff_ids,
                            const std::vector<std::string>& comments = {});

}  // namespace husk::build
