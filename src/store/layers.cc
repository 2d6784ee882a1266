// Layers: each blob unpacked once, into layers/<chain>, verified by DiffID.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "archive/unpack.h"
#include "base/fs.h"
#include "store/store.h"

namespace husk::store {

std::optional<LayerInfo> Store::FindLayer(const Digest& chain_id) const {
  auto dir = fs::Join(root_, "layers/" + chain_id.hex());
  auto meta = fs::ReadFile(fs::Join(dir, "layer.json"));
  if (!meta) return std::nullopt;
  auto j = nlohmann::json::parse(*meta, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto diff = Digest::Parse(j.value("diffID", ""));
  auto blob = Digest::Parse(j.value("blob", ""));
  if (!diff || !blob) return std::nullopt;
  LayerInfo li;
  li.chain_id = chain_id;
  li.diff_id = *diff;
  li.blob = *blob;
  li.size = j.value("size", uint64_t{0});
  li.path = fs::Join(dir, "diff");
  return li;
}

Result<LayerInfo> Store::EnsureLayer(const Digest& chain_id, const Digest& blob,
                                     const Digest& diff_id) {
  if (auto li = FindLayer(chain_id)) return *li;
  auto lock = TRY(FileLock::Acquire(fs::Join(root_, "layers/" + chain_id.hex() + ".lock"), true));
  if (auto li = FindLayer(chain_id)) return *li;  // unpacked while we waited

  auto tmp = fs::Join(root_, fmt::format("layers/.tmp/{}.{}", chain_id.hex(), getpid()));
  (void)fs::RemoveAll(tmp);
  TRY(fs::MkdirAll(fs::Join(tmp, "diff"), 0755));
  auto fail = [&](Error e) -> Error {
    (void)fs::RemoveAll(tmp);
    return e;
  };
  auto in = fs::Open(BlobPath(blob), O_RDONLY | O_CLOEXEC);
  if (!in) return fail(Err("layer {}: blob is not in the store", blob.str()));
  archive::FdReader reader(in->get(), blob.str());
  auto stats = archive::UnpackLayer(reader, fs::Join(tmp, "diff"));
  if (!stats) return fail(std::move(stats).error().wrap("layer " + blob.str()));
  if (!(stats->diff_id == diff_id))
    return fail(Err("layer {}: DiffID {} does not match the image config's {}", blob.str(),
                    stats->diff_id.str(), diff_id.str()));
  nlohmann::ordered_json meta = {
      {"diffID", diff_id.str()}, {"blob", blob.str()}, {"size", stats->tar_bytes}};
  if (auto st = fs::WriteFile(fs::Join(tmp, "layer.json"), meta.dump() + "\n"); !st)
    return fail(std::move(st).error());
  auto dest = fs::Join(root_, "layers/" + chain_id.hex());
  if (::rename(tmp.c_str(), dest.c_str()) != 0) return fail(ErrnoErr("rename {} to {}", tmp, dest));
  LayerInfo li;
  li.chain_id = chain_id;
  li.diff_id = diff_id;
  li.blob = blob;
  li.size = stats->tar_bytes;
  li.path = fs::Join(dest, "diff");
  return li;
}

Status Store::FlattenInto(const std::vector<Digest>& blobs, const std::string& dir) const {
  archive::UnpackOptions o;
  o.whiteouts = archive::Whiteouts::kApply;
  for (auto& b : blobs) {
    auto in = TRY_CTX(fs::Open(BlobPath(b), O_RDONLY | O_CLOEXEC), "layer {}", b.str());
    archive::FdReader reader(in.get(), b.str());
    TRY_CTX(archive::UnpackLayer(reader, dir, o), "layer {}", b.str());
  }
  return Ok();
}

}  // namespace husk::store
