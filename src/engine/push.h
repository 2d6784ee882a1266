// `husk push`: an image from the store to a registry, blobs first (in
// parallel, skipping those the registry has, mounting from another repository
// of the same registry where the image came from there), then the manifest,
// byte for byte as stored, so its digest is unchanged.
#pragma once

#include <string>

#include "base/result.h"
#include "engine/progress.h"
#include "engine/remote.h"
#include "store/store.h"

namespace husk::engine {

struct PushOptions {
  int jobs = 3;
  RemoteOptions remote;
};

struct PushResult {
  std::string name;
  Digest manifest;
  std::string media_type;  // of the manifest
  int64_t size = 0;        // of the manifest
  uint64_t uploaded = 0;
};

// Pushes local (a name or ID in the store) to dest (defaults to local's name).
Result<PushResult> Push(store::Store& st, const std::string& local, const std::string& dest,
                        const PushOptions& o, Progress& progress);

}  // namespace husk::engine
