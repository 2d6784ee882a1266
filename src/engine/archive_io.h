// Image archives and OCI layouts: `husk save`, `husk load`, `husk image export`
// and `husk image import` (docs/image-store.md, "Archives").
//
//   oci-archive     a tar of an OCI image layout: oci-layout, index.json, blobs/sha256/<hex>;
//                   blobs are the store's bytes, so every digest is kept
//   docker-archive  docker's `save` format: manifest.json, <config hex>.json and each
//                   layer as an uncompressed <diff_id hex>/layer.tar, plus `repositories`
//   OCI layout dir  the oci-archive's content, not tarred
//
// Writing is deterministic (members sorted, mtime 0) and streams layers from
// the store; a file is written beside its destination and renamed at the end.
// Reading extracts into a scratch directory under the store root, verifies
// every blob against its digest, unpacks the layers, and writes the image
// records last, so a failed load leaves no new record behind.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "digest/digest.h"
#include "image/manifest.h"
#include "store/store.h"

namespace husk::engine {

enum class ArchiveFormat { kDockerArchive, kOciArchive };
// "docker-archive" or "oci-archive".
Result<ArchiveFormat> ParseArchiveFormat(std::string_view s);

struct LoadedImage {
  std::string name;  // the record written, "docker.io/library/busybox:latest"
  Digest manifest;   // what the record points to
  Digest id;         // the config digest
};

// Writes the images (names or IDs) as one archive to path, or to stdout when
// path is empty (refused when stdout is a terminal).
Status SaveArchive(store::Store& st, const std::vector<std::string>& images, ArchiveFormat format,
                   const std::string& path);
// Writes the archive to an fd the caller owns.
Status WriteArchive(store::Store& st, const std::vector<std::string>& images, ArchiveFormat format,
                    int out_fd);

// Loads every image of an oci-archive or docker-archive (plain or compressed
// tar), read from path or, when path is empty, from stdin.
Result<std::vector<LoadedImage>> LoadArchive(store::Store& st, const std::string& path);

// Writes one image as an OCI layout into dir, which must be absent or empty.
Status ExportLayout(store::Store& st, const std::string& image, const std::string& dir);
// Imports the images of the OCI layout in dir. A non-empty name names the
// image of a layout that holds exactly one.
Result<std::vector<LoadedImage>> ImportLayout(store::Store& st, const std::string& dir,
                                              const std::string& name);

// ---- the pieces, exposed for tests

// One image of a docker-archive's manifest.json.
struct DockerArchiveEntry {
  std::string config;                  // member name, "<hex>.json"
  std::vector<std::string> repo_tags;  // as docker writes them, "busybox:latest"
  std::vector<std::string> layers;     // member names, "<hex>/layer.tar"
};
// manifest.json in docker's form (RepoTags null when there are none).
std::string DockerManifestJson(const std::vector<DockerArchiveEntry>& entries);
// Parses manifest.json; member names that are absolute or climb out with ".."
// are errors.
Result<std::vector<DockerArchiveEntry>> ParseDockerManifestJson(std::string_view bytes);

// The name an OCI layout's index entry is recorded under: its
// io.containerd.image.name annotation; else its org.opencontainers.image.ref.name
// when that is a full name ("x/y:1", "busybox:1"); else
// localhost/<short image id>:<ref.name as the tag, or latest>.
std::string LayoutEntryName(const image::Descriptor& entry, const Digest& image_id);
// For images without a usable name: localhost/<first 12 hex digits of the ID>:<tag>.
std::string FallbackName(const Digest& image_id, const std::string& tag = "latest");

namespace internal {

// A directory under <store root>/tmp, flocked while in use and removed (with
// its content) on destruction. Those of processes that died (their lock is
// free) are removed when the next one is made.
class ScratchDir {
 public:
  static Result<ScratchDir> Make(const store::Store& st);
  ScratchDir() = default;
  ScratchDir(ScratchDir&& o) noexcept
      : path_(std::exchange(o.path_, {})), lock_(std::move(o.lock_)) {}
  ScratchDir& operator=(ScratchDir&& o) noexcept;
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  UniqueFd lock_;
};

// An archive or layout member: a directory, literal content, a file copied as
// is, or a store layer blob written decompressed (checked against diff_id).
struct Member {
  enum class Kind { kDir, kData, kFile, kLayerTar };
  std::string name;
  Kind kind = Kind::kData;
  std::string data;  // kData
  std::string path;  // kFile, kLayerTar
  Digest diff_id;    // kLayerTar
};

// Where members go: a tar stream or a directory.
class MemberSink {
 public:
  virtual ~MemberSink() = default;
  virtual Status Dir(const std::string& name) = 0;
  virtual Status Data(const std::string& name, std::string_view data) = 0;
  virtual Status File(const std::string& name, const std::string& path) = 0;
};

// Writes members sorted by name (one per name), decompressing layer blobs
// into scratch first where the format wants them uncompressed.
Status WriteMembers(std::vector<Member> members, MemberSink& sink, const std::string& scratch);

// The members of an OCI layout holding the images, and of a docker-archive.
Result<std::vector<Member>> OciLayoutMembers(const store::Store& st,
                                             const std::vector<std::string>& images);
Result<std::vector<Member>> DockerArchiveMembers(const store::Store& st,
                                                 const std::vector<std::string>& images);

// Reading: `label` names the input in errors ("load image.tar").
Result<std::vector<LoadedImage>> ImportOciLayoutDir(store::Store& st, const std::string& dir,
                                                    const std::string& name,
                                                    const std::string& label);
Result<std::vector<LoadedImage>> ImportDockerArchiveDir(store::Store& st, const std::string& dir,
                                                        const std::string& label);

// Copies the file at path into the store as blob d, checking its size (when
// size >= 0) and digest even when the store already has d, so that a damaged
// input is reported whatever the store holds.
Status ImportVerifiedBlob(store::Store& st, const std::string& path, const Digest& d, int64_t size);
// Reads a small blob file (manifest, config, index) and checks it.
Result<std::string> ReadVerifiedBlob(const std::string& path, const Digest& d, int64_t size);
// Checks an image's manifest against its config and unpacks its layers
// (blobs already in the store) so the image can be bundled at once.
Status UnpackLayers(store::Store& st, const image::Manifest& m, const image::ImageConfig& cfg);
// A member path of an archive, refused when absolute or climbing out.
Result<std::string> SafeMemberPath(std::string_view name);

}  // namespace internal
}  // namespace husk::engine
