// OCI image layouts (image-spec image-layout.md), tarred (oci-archive) or not.
#include <sys/stat.h>

#include <set>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "engine/archive_io.h"
#include "image/reference.h"

namespace husk::engine {
namespace {

constexpr std::string_view kRefName = "org.opencontainers.image.ref.name";
// containerd's (and docker 25+'s, buildkit's) full image name; podman reads it too.
constexpr std::string_view kContainerdName = "io.containerd.image.name";

std::string BlobMember(const Digest& d) {
  return "blobs/sha256/" + d.hex();
}

// A name usable for a record: parses, and carries no digest.
std::optional<std::string> RecordName(std::string_view s) {
  auto ref = image::ParseReference(s);
  if (!ref.ok() || ref->digest) return std::nullopt;
  return ref->String();
}

}  // namespace

std::string LayoutEntryName(const image::Descriptor& entry, const Digest& image_id) {
  if (auto it = entry.annotations.find(std::string(kContainerdName));
      it != entry.annotations.end()) {
    if (auto n = RecordName(it->second)) return *n;
  }
  auto it = entry.annotations.find(std::string(kRefName));
  if (it == entry.annotations.end() || it->second.empty()) return FallbackName(image_id);
  const std::string& ref = it->second;
  // image-spec's ref.name is usually just a tag ("1.0", skopeo's oci:DIR:TAG),
  // which names no repository; with a '/' or ':' it is a full name.
  if (ref.find_first_of("/:") != std::string::npos) {
    if (auto n = RecordName(ref)) return *n;
    return FallbackName(image_id);
  }
  if (RecordName("localhost/x:" + ref)) return FallbackName(image_id, ref);
  return FallbackName(image_id);
}

namespace internal {

Result<std::vector<Member>> OciLayoutMembers(const store::Store& st,
                                             const std::vector<std::string>& images) {
  std::vector<Member> out;
  out.push_back({"blobs", Member::Kind::kDir, "", "", {}});
  out.push_back({"blobs/sha256", Member::Kind::kDir, "", "", {}});
  out.push_back({"oci-layout", Member::Kind::kData, R"({"imageLayoutVersion":"1.0.0"})", "", {}});
  image::Index index;
  index.media_type = std::string(image::media::kOciIndex);
  auto add_blob = [&](const Digest& d, const std::string& what) -> Status {
    if (!st.HasBlob(d)) return Err("{} {} is not in the store", what, d.str());
    out.push_back({BlobMember(d), Member::Kind::kFile, "", st.BlobPath(d), {}});
    return Ok();
  };
  for (auto& name : images) {
    auto img = TRY(st.Resolve(name));
    const auto& m = img.manifest;
    // The platform manifest, not an index the record may point to: its other
    // platforms' blobs need not be in the store.
    TRY_CTX(add_blob(img.manifest_digest, "manifest"), "image {}", name);
    TRY_CTX(add_blob(m.config.digest, "config"), "image {}", name);
    for (auto& l : m.layers) TRY_CTX(add_blob(l.digest, "layer"), "image {}", name);

    struct stat sb {};
    if (::stat(st.BlobPath(img.manifest_digest).c_str(), &sb) != 0)
      return ErrnoErr("image {}: stat manifest", name);
    image::Descriptor d;
    d.media_type = m.media_type;
    d.digest = img.manifest_digest;
    d.size = sb.st_size;
    if (!img.config.os.empty() && !img.config.architecture.empty())
      d.platform = image::Platform{img.config.os, img.config.architecture, img.config.variant, ""};
    // As docker 25+ writes them: the full name for containerd, docker and
    // podman; the tag as ref.name, what `skopeo ... oci-archive:FILE:TAG` and
    // `umoci --image DIR:TAG` select by.
    auto ref = image::ParseReference(img.record.name);
    d.annotations[std::string(kContainerdName)] = img.record.name;
    if (ref.ok() && !ref->tag.empty()) d.annotations[std::string(kRefName)] = ref->tag;
    index.manifests.push_back(std::move(d));
  }
  out.push_back({"index.json", Member::Kind::kData, image::IndexJson(index), "", {}});
  return out;
}

namespace {

// An image manifest of the layout with its config, checked before anything is stored.
struct ManifestPlan {
  Digest digest;
  std::string bytes;
  image::Manifest manifest;
  std::string config_bytes;
  image::ImageConfig config;
  bool unpack = false;
};

struct EntryPlan {
  std::string name;
  image::Descriptor top;
  std::string top_bytes;  // the index, when the entry is one
  std::string media_type;
  std::vector<ManifestPlan> manifests;
  Digest id;
};

bool IsImageConfig(std::string_view mt) {
  return mt == image::media::kOciConfig || mt == image::media::kDockerConfig;
}

std::string BlobPath(const std::string& dir, const Digest& d) {
  return fs::Join(dir, BlobMember(d));
}

// Reads and checks a manifest and its config; nullopt for an artifact (a
// manifest whose config is not an image config), which is skipped.
Result<std::optional<ManifestPlan>> PlanManifest(const std::string& dir, const image::Descriptor& d,
                                                 std::string_view bytes) {
  ManifestPlan p;
  p.digest = d.digest;
  p.bytes = std::string(bytes);
  p.manifest = TRY_CTX(image::ParseManifest(bytes, d.media_type), "manifest {}", d.digest.str());
  if (!IsImageConfig(p.manifest.config.media_type)) return std::optional<ManifestPlan>();
  const auto& c = p.manifest.config;
  p.config_bytes = TRY(ReadVerifiedBlob(BlobPath(dir, c.digest), c.digest, c.size));
  p.config = TRY_CTX(image::ParseImageConfig(p.config_bytes), "config {}", c.digest.str());
  if (p.config.diff_ids.size() != p.manifest.layers.size())
    return Err("manifest {} has {} layers but its config {} DiffIDs", d.digest.str(),
               p.manifest.layers.size(), p.config.diff_ids.size());
  for (auto& l : p.manifest.layers)
    TRY_CTX(image::LayerCompressionOf(l.media_type), "layer {}", l.digest.str());
  return std::optional<ManifestPlan>(std::move(p));
}

}  // namespace

Result<std::vector<LoadedImage>> ImportOciLayoutDir(store::Store& st, const std::string& dir,
                                                    const std::string& name,
                                                    const std::string& label) {
  auto layout_bytes = fs::ReadFile(fs::Join(dir, "oci-layout"));
  if (!layout_bytes) return Err("{}: not an OCI layout (no oci-layout file)", label);
  auto layout = nlohmann::json::parse(*layout_bytes, nullptr, false);
  if (layout.is_discarded() || !layout.is_object() || !layout.contains("imageLayoutVersion") ||
      !layout["imageLayoutVersion"].is_string())
    return Err("{}: oci-layout: no imageLayoutVersion", label);
  auto index_bytes = fs::ReadFile(fs::Join(dir, "index.json"));
  if (!index_bytes) return Err("{}: not an OCI layout (no index.json)", label);
  auto index = TRY_CTX(image::ParseIndex(*index_bytes), "{}: index.json", label);
  if (index.manifests.empty()) return Err("{}: index.json lists no images", label);
  std::string forced;
  if (!name.empty()) {
    auto n = RecordName(name);
    if (!n) return Err("{}: invalid image name \"{}\"", label, name);
    forced = *n;
    if (index.manifests.size() != 1)
      return Err("{}: the layout holds {} images; a name can be given to one only", label,
                 index.manifests.size());
  }

  // 1. Read and check every document; nothing is stored yet.
  std::vector<EntryPlan> plans;
  for (auto& e : index.manifests) {
    EntryPlan p;
    p.top = e;
    auto bytes = TRY_CTX(ReadVerifiedBlob(BlobPath(dir, e.digest), e.digest, e.size), "{}", label);
    auto kind =
        TRY_CTX(image::ClassifyManifest(bytes, e.media_type), "{}: {}", label, e.digest.str());
    if (kind == image::DocKind::kIndex) {
      // A multi-platform image: the platforms the layout has (a copy of one
      // platform keeps the index but not the others' blobs), the host's unpacked.
      auto sub = TRY_CTX(image::ParseIndex(bytes, e.media_type), "{}: {}", label, e.digest.str());
      auto host = TRY_CTX(image::SelectPlatform(sub, image::HostPlatform()), "{}: index {}", label,
                          e.digest.str());
      for (auto& c : sub.manifests) {
        bool is_host = c.digest == host.digest;
        if (!is_host && !fs::Exists(BlobPath(dir, c.digest))) continue;
        auto cb = TRY_CTX(ReadVerifiedBlob(BlobPath(dir, c.digest), c.digest, c.size), "{}", label);
        auto mp = TRY_CTX(PlanManifest(dir, c, cb), "{}", label);
        if (!mp) {
          if (is_host)
            return Err("{}: index {}: the {} manifest is not an image", label, e.digest.str(),
                       image::HostPlatform().String());
          continue;
        }
        mp->unpack = is_host;
        if (is_host) p.id = mp->manifest.config.digest;
        p.manifests.push_back(std::move(*mp));
      }
      p.top_bytes = std::move(bytes);
      p.media_type = sub.media_type;
    } else {
      auto mp = TRY_CTX(PlanManifest(dir, e, bytes), "{}", label);
      if (!mp) continue;  // an artifact (signature, SBOM): not an image to load
      mp->unpack = true;
      p.id = mp->manifest.config.digest;
      p.media_type = mp->manifest.media_type;
      p.manifests.push_back(std::move(*mp));
    }
    p.name = forced.empty() ? LayoutEntryName(e, p.id) : forced;
    plans.push_back(std::move(p));
  }
  if (plans.empty()) return Err("{}: the layout holds no images", label);

  // 2. Blobs: layers verified as they are copied, documents as already read.
  for (auto& p : plans) {
    for (auto& mp : p.manifests) {
      for (auto& l : mp.manifest.layers)
        TRY_CTX(ImportVerifiedBlob(st, BlobPath(dir, l.digest), l.digest, l.size), "{}", label);
      TRY(st.PutBlob(mp.config_bytes));
      TRY(st.PutBlob(mp.bytes));
    }
    if (!p.top_bytes.empty()) TRY(st.PutBlob(p.top_bytes));
  }
  // 3. Layers unpacked (DiffIDs checked), so `husk bundle` works at once.
  for (auto& p : plans) {
    for (auto& mp : p.manifests)
      if (mp.unpack) TRY_CTX(UnpackLayers(st, mp.manifest, mp.config), "{}: {}", label, p.name);
  }
  // 4. Records last.
  std::vector<LoadedImage> out;
  for (auto& p : plans) {
    TRY(st.PutImage({p.name, p.top.digest, p.media_type, ""}));
    out.push_back({p.name, p.top.digest, p.id});
  }
  return out;
}

}  // namespace internal
}  // namespace husk::engine
