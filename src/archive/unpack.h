// Unpacking an image layer (a tar, possibly compressed) into a directory.
//
// The layer is untrusted. Every entry is created relative to a directory fd of
// the target with *at calls; parent directories are resolved with
// openat2(RESOLVE_IN_ROOT), so symlinks inside the tree (created as stored,
// never resolved at creation) are followed as if the target were the root and
// cannot lead a later entry outside it. An entry whose name climbs out with
// "..", or a hardlink to a path outside the layer, fails the whole unpack with
// `layer entry "<name>": ...`. Absolute names are taken relative to the target
// (as tar and docker do). libarchive only parses the tar; archive_write_disk
// is not used.
//
// Tar semantics: a later entry replaces an earlier one of the same name (a
// directory over a directory merges). Owners are kept when `keep_owners`
// (default: running as root), then modes (setuid/setgid/sticky included), then
// xattrs (security.capability needs to come after chown, which clears it),
// then mtimes; directory modes and mtimes are set at the end, after their
// children exist. Nothing is fsynced: a layer is verified by its diff_id and
// re-unpacked after a crash.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>

#include "archive/decompress.h"
#include "base/result.h"
#include "digest/digest.h"

namespace husk::archive {

enum class Whiteouts {
  // Each layer gets its own empty directory, later an overlayfs lowerdir:
  // ".wh.NAME" becomes a 0:0 character device NAME, and ".wh..wh..opq" in D
  // sets trusted.overlay.opaque="y" on D. Needs root (mknod, trusted.*).
  kOverlay,
  // Layers are unpacked on top of each other into one flattened tree:
  // ".wh.NAME" removes NAME (recursively); ".wh..wh..opq" in D removes what D
  // held before this layer, keeping what this layer put there.
  kApply,
};

struct UnpackOptions {
  Whiteouts whiteouts = Whiteouts::kOverlay;
  // chown entries to the uid/gid stored in the layer.
  bool keep_owners = ::geteuid() == 0;
};

struct UnpackStats {
  // SHA-256 of the uncompressed tar stream, every byte of it (the image
  // config's rootfs.diff_ids are checked against this).
  Digest diff_id;
  uint64_t tar_bytes = 0;
  // Tar entries read, whiteouts included.
  uint64_t entries = 0;
  Compression compression = Compression::kNone;
  // xattrs the target file system refused (ENOTSUP, or EPERM for trusted.* /
  // user.* where they cannot be set); the unpack goes on without them, as
  // docker does.
  uint64_t xattrs_skipped = 0;
};

// Unpacks the layer read from `src` into `target_dir`, which must exist.
// `src` may be gzip, zstd or xz compressed or a plain tar: the format is
// detected from its first bytes (see decompress.h). On error the target holds
// whatever was unpacked so far; the caller removes it.
Result<UnpackStats> UnpackLayer(Reader& src, const std::string& target_dir,
                                const UnpackOptions& options = {});

}  // namespace husk::archive
