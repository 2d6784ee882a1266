// Mounting an overlay of read-only layers with a writable upper directory.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace husk::engine {

// Mounts overlayfs at target: lowers[0] is the top layer. Uses the new mount
// API ("lowerdir+" one layer at a time, kernel 6.8+), which has no limit on
// the number of layers; falls back to mount(2) with a lowerdir list.
Status MountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target);
// Whether this kernel and file system can mount overlays (probed once, in dir).
bool OverlaySupported(const std::string& dir);

}  // namespace husk::engine
