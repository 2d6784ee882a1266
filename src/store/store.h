// The local image store: content-addressed blobs, image records, and layers
// unpacked once per chain ID. Layout (docs/image-store.md):
//
//   <root>/store.lock            shared by users of the store, exclusive for prune
//   <root>/images.json           image records (name → manifest digest), replaced atomically
//   <root>/images.lock           held while images.json is read-modified-written
//   <root>/blobs/sha256/<hex>    verified content, read-only
//   <root>/ingest/<hex>          a partial download (kept for resuming) + <hex>.lock
//   <root>/layers/<chain>/diff   an unpacked layer (overlayfs lowerdir form)
//   <root>/layers/<chain>/layer.json  {diffID, blob, size}
//   <root>/layers/.tmp/          unpacks in progress; stale ones are removed
//
// Nothing enters blobs/ or layers/ before it is verified: blobs are hashed
// while written and renamed into place only when the digest (and size)
// matches; a layer directory is renamed into place only when its DiffID does.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "digest/digest.h"
#include "image/manifest.h"

namespace husk::store {

// An flock held until destruction.
class FileLock {
 public:
  FileLock() = default;
  // Blocks until the lock is held. exclusive=false takes a shared lock.
  static Result<FileLock> Acquire(const std::string& path, bool exclusive);
  // Non-blocking; nullopt when someone else holds it.
  static Result<std::optional<FileLock>> TryAcquire(const std::string& path, bool exclusive);

 private:
  UniqueFd fd_;
};

// A blob being written: hashed as it grows; Commit verifies and publishes it.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) = default;
  BlobWriter& operator=(BlobWriter&&) = default;
  ~BlobWriter();

  Status Write(const void* data, size_t n);
  // Bytes written so far, including what a resumed partial file already held.
  uint64_t offset() const { return hasher_.bytes(); }
  // Checks the digest (and expected size when known), fsyncs and renames the
  // data into blobs/. On mismatch the partial data is discarded.
  Result<Digest> Commit();
  // Drops what was written (a download that must start over).
  Status Reset();

 private:
  friend class Store;
  BlobWriter() = default;
  std::string partial_path_;
  std::string final_path_;
  std::optional<Digest> expected_;
  int64_t expected_size_ = -1;
  UniqueFd fd_;
  Sha256 hasher_;
  FileLock lock_;
  bool done_ = false;
};

struct ImageRecord {
  std::string name;  // normalised reference, "docker.io/library/debian:12"
  Digest digest;     // of the manifest (or index) the name points to
  std::string media_type;
  std::string created;  // when the record was written (RFC 3339)
};

struct LayerInfo {
  Digest chain_id;
  Digest diff_id;
  Digest blob;        // the compressed blob it came from
  uint64_t size = 0;  // uncompressed tar bytes
  std::string path;   // <root>/layers/<chain>/diff
};

class Store {
 public:
  // Opens (creating if needed) the store at root; takes the store lock shared,
  // or exclusive for prune. Removes stale temporary unpack directories.
  static Result<Store> Open(const std::string& root, bool exclusive = false);
  // /var/lib/husk for root, else $XDG_DATA_HOME/husk or ~/.local/share/husk.
  static std::string DefaultRoot();

  const std::string& root() const { return root_; }

  // ---- blobs
  bool HasBlob(const Digest& d) const;
  std::string BlobPath(const Digest& d) const;
  Result<std::string> ReadBlob(const Digest& d) const;
  // Stores small content (manifests, configs) after hashing it.
  Result<Digest> PutBlob(std::string_view data);
  // Starts (or resumes, keeping what was already downloaded) a blob ingest.
  // Blocks while another process ingests the same digest; returns nullopt
  // when the blob is already in the store, so each blob is fetched once.
  Result<std::optional<BlobWriter>> Ingest(const Digest& expected, int64_t expected_size);
  // Copies a file into the store, verifying it against expected (if given).
  Result<Digest> ImportBlobFile(const std::string& path, std::optional<Digest> expected);

  // ---- image records
  Result<std::vector<ImageRecord>> ListImages() const;
  Result<std::optional<ImageRecord>> FindImage(const std::string& name) const;
  // Adds or replaces a record (atomic, durable).
  Status PutImage(const ImageRecord& r);
  // Removes a record; false when there was none.
  Result<bool> RemoveImage(const std::string& name);

  // ---- layers
  // The unpacked layer for a chain ID, if present.
  std::optional<LayerInfo> FindLayer(const Digest& chain_id) const;
  // Unpacks blob (already in the store) as the layer with the given chain ID,
  // unless it is already there; checks the DiffID. Concurrent callers for the
  // same chain ID wait for one another and unpack once.
  // The blob's compression is detected from its first bytes.
  Result<LayerInfo> EnsureLayer(const Digest& chain_id, const Digest& blob, const Digest& diff_id);
  // Unpacks the layers (bottom first) on top of each other into dir, applying
  // whiteouts as deletions: the flattened rootfs used where overlay is not.
  Status FlattenInto(const std::vector<Digest>& blobs, const std::string& dir) const;

  // ---- reading images
  struct ResolvedImage {
    ImageRecord record;
    Digest manifest_digest;  // the platform manifest (== record.digest unless an index)
    image::Manifest manifest;
    std::string config_bytes;
    image::ImageConfig config;
  };
  // Finds an image by name ("debian:12" normalised), full digest or ID prefix
  // (of the config digest), and reads its manifest and config.
  Result<ResolvedImage> Resolve(const std::string& name_or_id) const;
  Result<ResolvedImage> ResolveRecord(const ImageRecord& r) const;

  // ---- garbage collection
  struct PruneStats {
    uint64_t blobs = 0, layers = 0, ingests = 0, bytes = 0;
  };
  // Removes blobs, layers and partial downloads that no image record reaches.
  // Needs the store opened exclusive.
  Result<PruneStats> Prune();

 private:
  Status WriteRecords(const std::vector<ImageRecord>& recs);
  std::string root_;
  FileLock lock_;
};

}  // namespace husk::store
