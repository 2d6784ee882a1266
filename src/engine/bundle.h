// `husk bundle IMAGE DIR`: an OCI runtime bundle that huskrun (or runc) runs:
// DIR/rootfs is an overlay of the image's layers with a private upper layer
// (or a flattened copy when overlay is unavailable or asked for), and
// DIR/config.json is the default spec filled from the image config.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "image/manifest.h"
#include "store/store.h"

namespace husk::engine {

struct BundleOptions {
  bool copy = false;  // flatten into DIR/rootfs instead of mounting an overlay
  // Overrides of the image's command (like `podman run IMAGE ARGS...`).
  std::vector<std::string> args;
};

struct BundleResult {
  std::string rootfs;
  bool overlay = false;  // rootfs is a mount the caller must unmount (`husk unbundle`)
};

Result<BundleResult> MakeBundle(store::Store& st, const std::string& image, const std::string& dir,
                                const BundleOptions& o);
// Unmounts DIR/rootfs if husk mounted it and removes DIR.
Status RemoveBundle(const std::string& dir);

// The config.json for an image config (exposed for tests): process args from
// Entrypoint + Cmd (or args), env with a default PATH, cwd, user resolved
// against the rootfs's /etc/passwd and /etc/group, labels as annotations.
Result<std::string> BundleSpecJson(const image::ImageConfig& cfg, const std::string& rootfs,
                                   const std::vector<std::string>& args);

}  // namespace husk::engine
