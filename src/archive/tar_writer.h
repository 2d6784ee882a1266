// Deterministic tar writing: layers from a directory tree (the image builder,
// commit) and small archives of named members (docker-archive / oci-archive
// `save`).
//
// The same tree always gives the same bytes: entries sorted bytewise by path
// (so parents precede children), pax format through libarchive's
// pax_restricted writer (ustar headers, pax records only where ustar cannot
// say it: long names, big ids, xattrs), numeric owners without user or group
// names, mtimes in whole seconds (or exactly SOURCE_DATE_EPOCH), no atime or
// ctime, no padding after the end-of-archive blocks, and compression as
// compress.h fixes it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "archive/compress.h"
#include "archive/decompress.h"
#include "base/result.h"
#include "digest/digest.h"

namespace husk::archive {

struct LayerWriteOptions {
  Compression compression = Compression::kGzip;  // kNone, kGzip or kZstd
  // SOURCE_DATE_EPOCH: when set, every entry's mtime is exactly this.
  std::optional<int64_t> mtime;
  // The tree is an overlayfs upper dir: 0:0 character devices become
  // ".wh.NAME" entries and directories with trusted.overlay.opaque="y" get a
  // ".wh..wh..opq" entry, the forms a layer tarball carries.
  bool convert_whiteouts = true;
  // When set, only the entries it accepts are written: it gets each path
  // relative to the tree ("usr/bin/x"); directories it refuses are still
  // walked into. Parents are not added: accept them too, or unpackers make
  // them with modes of their own. One tree cut into several layers.
  std::function<bool(const std::string& rel)> include;
};

struct LayerBlob {
  Digest digest;  // of the bytes written to out_fd (compressed)
  uint64_t size = 0;
  Digest diff_id;  // of the uncompressed tar
  std::string media_type;
};

// "application/vnd.oci.image.layer.v1.tar" with "+gzip" / "+zstd".
std::string LayerMediaType(Compression c);

// Writes the tree under `dir` (not `dir` itself), or what options.include
// accepts of it, as a layer to out_fd.
// Kept: regular files, directories, symlinks, hardlinks (files sharing an
// inode: the first path in order holds the data, the others link to it),
// devices, fifos, owners, modes, xattrs other than overlayfs's own and
// security.selinux (a host label, not image content). Sockets are skipped.
Result<LayerBlob> WriteLayerFromDir(const std::string& dir, int out_fd,
                                    const LayerWriteOptions& options = {});

namespace internal {
class TarSink;
}

// Writes a plain tar of named members to an fd it does not own: uid/gid 0,
// the given mtime for every member, members in the order they are added.
// The first error sticks: later calls return it again.
class TarArchiveWriter {
 public:
  explicit TarArchiveWriter(int out_fd, int64_t mtime = 0);
  ~TarArchiveWriter();
  TarArchiveWriter(const TarArchiveWriter&) = delete;
  TarArchiveWriter& operator=(const TarArchiveWriter&) = delete;

  Status AddDir(std::string_view name, mode_t mode = 0755);
  Status AddFile(std::string_view name, std::string_view data, mode_t mode = 0644);
  // Streams the file at `path` (which must not change meanwhile) as `name`.
  Status AddFileFromPath(std::string_view name, const std::string& path, mode_t mode = 0644);
  Status AddSymlink(std::string_view name, std::string_view target);
  // Writes the end-of-archive blocks; nothing may be added after.
  Status Finish();

 private:
  Status Check();

  std::unique_ptr<Writer> fd_out_;
  std::unique_ptr<Writer> buffered_;
  std::unique_ptr<internal::TarSink> sink_;
  int64_t mtime_;
  Status status_;
  bool finished_ = false;
};

}  // namespace husk::archive
