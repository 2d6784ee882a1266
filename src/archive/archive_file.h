// Plain tar archives that are not layers: docker-archive and oci-archive
// files given to `load`. They come from anywhere, so extraction follows the
// rules of unpack.h (names cleaned, "..", absolute symlinks and links out of
// the destination refused) but keeps only what such archives hold: regular
// files, directories, and symlinks and hardlinks that stay inside. No owners,
// no devices, no setuid bits, no xattrs.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"

namespace husk::archive {

struct ExtractStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // of file data written
};

// Extracts the tar at `archive_path` (plain or gzip/zstd/xz compressed, as
// `docker load` accepts) into `dest_dir`, which must exist. Errors name the
// member: `archive entry "../x": escapes the destination`.
Result<ExtractStats> ExtractArchive(const std::string& archive_path, const std::string& dest_dir);

// Reads one member (e.g. "manifest.json", "index.json") without extracting,
// refusing members larger than `max_size`. The name is matched after cleaning
// ("./manifest.json" is "manifest.json"); the first match is returned, so the
// rest of a large archive is not read. A missing member is an ENOENT error.
Result<std::string> ReadArchiveMember(const std::string& archive_path, const std::string& member,
                                      uint64_t max_size = 64 << 20);

}  // namespace husk::archive
