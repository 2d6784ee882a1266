// Garbage collection: everything an image record reaches is kept; the rest of
// blobs/, layers/ and ingest/ goes.
#include <set>

#include "base/fs.h"
#include "store/store.h"

#include <sys/stat.h>

namespace husk::store {
namespace {

uint64_t SizeOf(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

Result<Store::PruneStats> Store::Prune() {
  std::set<std::string> keep_blobs, keep_layers;
  for (auto& r : TRY(ListImages())) {
    keep_blobs.insert(r.digest.hex());
    auto bytes = ReadBlob(r.digest);
    if (!bytes) continue;  // a broken record keeps what it names, nothing more
    std::vector<Digest> manifests;
    auto kind = image::ClassifyManifest(*bytes, r.media_type);
    if (kind && *kind == image::DocKind::kIndex) {
      if (auto idx = image::ParseIndex(*bytes)) {
        for (auto& d : idx->manifests) {
          keep_blobs.insert(d.digest.hex());
          manifests.push_back(d.digest);
        }
      }
    } else {
      manifests.push_back(r.digest);
    }
    for (auto& md : manifests) {
      auto mb = ReadBlob(md);
      if (!mb) continue;
      auto m = image::ParseManifest(*mb);
      if (!m) continue;
      keep_blobs.insert(m->config.digest.hex());
      for (auto& l : m->layers) keep_blobs.insert(l.digest.hex());
      if (auto cb = ReadBlob(m->config.digest)) {
        if (auto c = image::ParseImageConfig(*cb)) {
          for (auto& id : image::ChainIds(c->diff_ids)) keep_layers.insert(id.hex());
        }
      }
    }
  }
  PruneStats st;
  auto blobs = fs::Join(root_, "blobs/sha256");
  for (auto& e : TRY(fs::ListDir(blobs))) {
    if (keep_blobs.count(e)) continue;
    auto p = fs::Join(blobs, e);
    st.bytes += SizeOf(p);
    if (::unlink(p.c_str()) != 0) return ErrnoErr("remove {}", p);
    st.blobs++;
  }
  auto layers = fs::Join(root_, "layers");
  for (auto& e : TRY(fs::ListDir(layers))) {
    if (e == ".tmp" || keep_layers.count(e)) continue;
    auto p = fs::Join(layers, e);
    if (e.size() > 5 && e.substr(e.size() - 5) == ".lock") {
      if (!keep_layers.count(e.substr(0, e.size() - 5))) ::unlink(p.c_str());
      continue;
    }
    TRY(fs::RemoveAll(p));
    st.layers++;
  }
  auto ingest = fs::Join(root_, "ingest");
  for (auto& e : TRY(fs::ListDir(ingest))) {
    auto p = fs::Join(ingest, e);
    if (e.find('.') == std::string::npos) {
      st.bytes += SizeOf(p);
      st.ingests++;
    }
    ::unlink(p.c_str());
  }
  return st;
}

}  // namespace husk::store
