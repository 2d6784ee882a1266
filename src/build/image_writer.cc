#include "build/image_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include <nlohmann/json.hpp>

#include "archive/tar_writer.h"
#include "base/fs.h"
#include "image/manifest.h"

namespace husk::build {
namespace {

std::string Rfc3339(int64_t epoch) {
  time_t t = static_cast<time_t>(epoch);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The build file as history names it: its directory's name and its own
// ("base/husk.yaml"), never the path to it on this machine, which would make
// the digest depend on where the project is checked out.
std::string BuildFileName(const std::string& source) {
  size_t slash = source.rfind('/');
  if (slash == std::string::npos || slash == 0) return source;
  size_t dir = source.rfind('/', slash - 1);
  return source.substr(dir == std::string::npos ? 0 : dir + 1);
}

}  // namespace

std::string ImageConfigJson(const BuildSpec& spec, const ImageWriteOptions& o,
                            const std::vector<Digest>& diff_ids,
                            const std::vector<std::string>& comments) {
  nlohmann::ordered_json c;
  c["created"] = Rfc3339(o.epoch);
  c["architecture"] = o.architecture;
  c["os"] = "linux";
  nlohmann::ordered_json cfg = nlohmann::ordered_json::object();
  if (!o.user.empty()) cfg["User"] = o.user;
  std::vector<std::string> env;
  bool has_path = false;
  for (auto& [k, v] : spec.environment) {
    env.push_back(k + "=" + v);
    has_path |= k == "PATH";
  }
  if (!has_path)
    env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  cfg["Env"] = env;
  if (!spec.entrypoint.empty()) cfg["Entrypoint"] = spec.entrypoint;
  if (!spec.cmd.empty()) cfg["Cmd"] = spec.cmd;
  if (!spec.workdir.empty()) cfg["WorkingDir"] = spec.workdir;
  if (!spec.labels.empty()) cfg["Labels"] = spec.labels;
  c["config"] = cfg;
  nlohmann::ordered_json rootfs;
  rootfs["type"] = "layers";
  rootfs["diff_ids"] = nlohmann::ordered_json::array();
  for (auto& d : diff_ids) rootfs["diff_ids"].push_back(d.str());
  c["rootfs"] = rootfs;
  c["history"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < std::max<size_t>(diff_ids.size(), 1); i++) {
    nlohmann::ordered_json h = {{"created", Rfc3339(o.epoch)},
                                {"created_by", "husk build " + BuildFileName(spec.source)}};
    if (i < comments.size() && !comments[i].empty()) h["comment"] = comments[i];
    c["history"].push_back(h);
  }
  return c.dump();
}

Result<WrittenImage> WriteImage(store::Store& st, const std::string& tree, const BuildSpec& spec,
                                const ImageWriteOptions& o, const std::vector<TreeLayer>& layers) {
  if (layers.empty()) return Err("write image {}: no layers", o.name);
  // Layers go to temp files in the store's tree (same file system as blobs/).
  auto tmp_dir = fs::Join(st.root(), "tmp");
  TRY(fs::MkdirAll(tmp_dir, 0700));
  std::vector<archive::LayerBlob> blobs;
  for (size_t i = 0; i < layers.size(); i++) {
    const TreeLayer& l = layers[i];
    std::string tmp = fs::Join(tmp_dir, fmt::format("layer.{}.{}.{}", getpid(), time(nullptr), i));
    auto fd = TRY(fs::Open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } unlink_tmp{tmp};
    archive::LayerWriteOptions lo;
    lo.compression = o.zstd ? archive::Compression::kZstd : archive::Compression::kGzip;
    lo.mtime = l.mtime.value_or(o.epoch);
    lo.convert_whiteouts = false;
    if (!l.paths.empty()) {
      lo.include = [&l](const std::string& rel) {
        return std::binary_search(l.paths.begin(), l.paths.end(), rel);
      };
    }
    std::string what = layers.size() == 1 ? "write layer" : fmt::format("write layer {}", i + 1);
    if (!l.comment.empty()) what += " (" + l.comment + ")";
    auto blob = TRY_CTX(archive::WriteLayerFromDir(tree, fd.get(), lo), "{}", what);
    TRY(st.ImportBlobFile(tmp, blob.digest));
    blobs.push_back(std::move(blob));
  }

  WrittenImage w;
  w.layers = static_cast<int>(blobs.size());
  std::vector<Digest> diff_ids;
  std::vector<std::string> comments;
  for (size_t i = 0; i < blobs.size(); i++) {
    diff_ids.push_back(blobs[i].diff_id);
    comments.push_back(layers[i].comment);
  }
  std::string config = ImageConfigJson(spec, o, diff_ids, comments);
  w.config = TRY(st.PutBlob(config));
  image::Manifest m;
  m.media_type = std::string(image::media::kOciManifest);
  m.config = {std::string(image::media::kOciConfig),
              w.config,
              static_cast<int64_t>(config.size()),
              std::nullopt,
              {},
              {},
              ""};
  w.size = config.size();
  for (const auto& blob : blobs) {
    image::Descriptor layer;
    layer.media_type = blob.media_type;
    layer.digest = blob.digest;
    layer.size = static_cast<int64_t>(blob.size);
    m.layers.push_back(layer);
    w.size += blob.size;
  }
  std::map<std::string, std::string> ann = spec.annotations;
  ann["org.opencontainers.image.created"] = Rfc3339(o.epoch);
  m.annotations = ann;
  std::string mbytes = image::ManifestJson(m);
  w.manifest = TRY(st.PutBlob(mbytes));
  // Unpacked into the store at once, so `husk bundle` needs no further step.
  auto chains = image::ChainIds(diff_ids);
  for (size_t i = 0; i < blobs.size(); i++)
    TRY(st.EnsureLayer(chains[i], blobs[i].digest, blobs[i].diff_id));
  TRY(st.PutImage({o.name, w.manifest, std::string(image::media::kOciManifest), ""}));
  return w;
}

}  // namespace husk::build
