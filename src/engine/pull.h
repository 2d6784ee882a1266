// `husk pull`: manifest (and index) → config → layers, downloaded in parallel,
// each verified while stored, unpacked once per chain ID, and the image record
// written last. A failure leaves the store as it was (apart from resumable
// partial downloads in ingest/).
#pragma once

#include <string>

#include "base/result.h"
#include "engine/progress.h"
#include "engine/remote.h"
#include "image/manifest.h"
#include "store/store.h"

namespace husk::engine {

struct PullOptions {
  image::Platform platform = image::HostPlatform();
  int jobs = 3;  // layers downloaded (and unpacked) at once
  RemoteOptions remote;
};

struct PullResult {
  std::string name;         // the record written, "127.0.0.1:5000/x/y:tag"
  Digest manifest;          // the platform manifest's digest
  Digest config;            // the image ID
  uint64_t downloaded = 0;  // bytes fetched over the network
};

Result<PullResult> Pull(store::Store& st, const std::string& name, const PullOptions& o,
                        Progress& progress);

}  // namespace husk::engine
