// OCI image-spec and Docker schema2 documents: descriptors, manifests, indexes
// (manifest lists), image configs, and platform matching. Parsing keeps what
// husk uses and rejects what it cannot handle with an error naming the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "digest/digest.h"

namespace husk::image {

namespace media {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media

// The Accept header for manifest requests: every kind husk can read.
std::string ManifestAcceptHeader();

enum class LayerCompression { kNone, kGzip, kZstd };
// The compression a layer media type declares; an error for media types that
// are not layers husk can unpack (e.g. a foreign or encrypted layer).
Result<LayerCompression> LayerCompressionOf(std::string_view media_type);

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string os_version;

  // "linux/amd64" or "linux/arm64/v8".
  std::string String() const;
};
// Parses "os/arch[/variant]".
Result<Platform> ParsePlatform(std::string_view s);
// The platform of this machine in GOARCH terms (x86_64 → amd64, aarch64 → arm64/v8).
Platform HostPlatform();
// Whether a candidate satisfies the wanted platform (variant only compared when
// the wanted one has it; arm64's default variant v8 matches an empty one).
bool PlatformMatches(const Platform& want, const Platform& have);

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> urls;
  std::string artifact_type;
};

struct Manifest {
  std::string media_type;  // from the document, or the Content-Type it came with
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::string artifact_type;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

// What a manifest-shaped document turned out to be.
enum class DocKind { kManifest, kIndex };
// Classifies a manifest response by its mediaType field, falling back to the
// Content-Type; schema1 and unknown types are errors that name the type.
Result<DocKind> ClassifyManifest(std::string_view bytes, std::string_view content_type);
Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type = {});
Result<Index> ParseIndex(std::string_view bytes, std::string_view content_type = {});
// The entry of an index for a platform; the error lists the platforms there are.
Result<Descriptor> SelectPlatform(const Index& idx, const Platform& want);

// The runtime part of an image config ("config" in the JSON).
struct ContainerConfig {
  std::string user;
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;
  std::vector<std::string> volumes;
  std::string stop_signal;
};

struct ImageConfig {
  std::string architecture;
  std::string os;
  std::string variant;
  std::string created;
  ContainerConfig config;
  std::vector<Digest> diff_ids;
};
Result<ImageConfig> ParseImageConfig(std::string_view bytes);

// JSON forms, for documents husk writes (OCI layout index.json, built images).
nlohmann::ordered_json DescriptorJson(const Descriptor& d);
std::string ManifestJson(const Manifest& m);  // compact, keys in spec order
std::string IndexJson(const Index& i);

// Chain IDs (image-spec): chain(L0) = diffid(L0); chain(Ln) = sha256(chain(Ln-1) + " " +
// diffid(Ln)).
std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids);

}  // namespace husk::image
