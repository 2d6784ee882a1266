// Reading images back out of the store: name or ID → record → manifest → config.
#include <algorithm>

#include "base/fs.h"
#include "image/reference.h"
#include "store/store.h"

namespace husk::store {

Result<Store::ResolvedImage> Store::ResolveRecord(const ImageRecord& r) const {
  ResolvedImage out;
  out.record = r;
  auto bytes = TRY_CTX(ReadBlob(r.digest), "image {}", r.name);
  auto kind = TRY_CTX(image::ClassifyManifest(bytes, r.media_type), "image {}", r.name);
  out.manifest_digest = r.digest;
  if (kind == image::DocKind::kIndex) {
    // An index stored by name (an OCI layout import, say): use the host's platform.
    auto idx = TRY_CTX(image::ParseIndex(bytes, r.media_type), "image {}", r.name);
    auto d = TRY_CTX(image::SelectPlatform(idx, image::HostPlatform()), "image {}", r.name);
    out.manifest_digest = d.digest;
    bytes = TRY_CTX(ReadBlob(d.digest), "image {}", r.name);
  }
  out.manifest = TRY_CTX(image::ParseManifest(bytes), "image {}", r.name);
  out.config_bytes = TRY_CTX(ReadBlob(out.manifest.config.digest), "image {} config", r.name);
  out.config = TRY_CTX(image::ParseImageConfig(out.config_bytes), "image {}", r.name);
  return out;
}

Result<Store::ResolvedImage> Store::Resolve(const std::string& name_or_id) const {
  auto recs = TRY(ListImages());
  if (auto ref = image::ParseReference(name_or_id); ref.ok()) {
    auto full = ref->String();
    for (auto& r : recs)
      if (r.name == full) return ResolveRecord(r);
    // "name@sha256:..." need not be a record's name: match by manifest digest.
    if (ref->digest) {
      for (auto& r : recs) {
        if (r.digest == *ref->digest && r.name.rfind(ref->Repository() + ":", 0) == 0)
          return ResolveRecord(r);
      }
    }
  }
  if (image::LooksLikeIdPrefix(name_or_id)) {
    std::string prefix = name_or_id.rfind("sha256:", 0) == 0 ? name_or_id.substr(7) : name_or_id;
    std::optional<ResolvedImage> found;
    for (auto& r : recs) {
      auto img = ResolveRecord(r);
      if (!img) continue;
      const auto& id = img->manifest.config.digest.hex();
      if (id.rfind(prefix, 0) == 0 || r.digest.hex().rfind(prefix, 0) == 0) {
        if (found && !(found->manifest.config.digest == img->manifest.config.digest))
          return Err("image ID prefix \"{}\" is ambiguous", name_or_id);
        if (!found) found = std::move(*img);
      }
    }
    if (found) return std::move(*found);
  }
  return Err("image \"{}\" not found in {}", name_or_id, root_);
}

}  // namespace husk::store
