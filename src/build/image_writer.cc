#include "build/image_writer.h"

#include <fcntl.h>
#include <unistd.h>

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

}  // namespace

std::string ImageConfigJson(const BuildSpec& spec, const ImageWriteOptions& o,
                            const std::vector<Digest>& diff_ids) {
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
  c["history"] = nlohmann::ordered_json::array(
      {{{"created", Rfc3339(o.epoch)}, {"created_by", "husk build " + spec.source}}});
  return c.dump();
}

Result<WrittenImage> WriteImage(store::Store& st, const std::string& tree, const BuildSpec& spec,
                                const ImageWriteOptions& o) {
  // The layer goes to a temp file in the store's tree (same file system as blobs/).
  auto tmp_dir = fs::Join(st.root(), "tmp");
  TRY(fs::MkdirAll(tmp_dir, 0700));
  std::string tmp = fs::Join(tmp_dir, fmt::format("layer.{}.{}", getpid(), time(nullptr)));
  auto fd = TRY(fs::Open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  struct Unlink {
    std::string p;
    ~Unlink() { ::unlink(p.c_str()); }
  } unlink_tmp{tmp};
  archive::LayerWriteOptions lo;
  lo.compression = o.zstd ? archive::Compression::kZstd : archive::Compression::kGzip;
  lo.mtime = o.epoch;
  lo.convert_whiteouts = false;
  auto blob = TRY_CTX(archive::WriteLayerFromDir(tree, fd.get(), lo), "write layer");
  TRY(st.ImportBlobFile(tmp, blob.digest));

  WrittenImage w;
  w.layers = 1;
  std::string config = ImageConfigJson(spec, o, {blob.diff_id});
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
  image::Descriptor layer;
  layer.media_type = blob.media_type;
  layer.digest = blob.digest;
  layer.size = static_cast<int64_t>(blob.size);
  m.layers.push_back(layer);
  std::map<std::string, std::string> ann = spec.annotations;
  ann["org.opencontainers.image.created"] = Rfc3339(o.epoch);
  m.annotations = ann;
  std::string mbytes = image::ManifestJson(m);
  w.manifest = TRY(st.PutBlob(mbytes));
  w.size = config.size() + blob.size;
  // Unpacked into the store at once, so `husk bundle` needs no further step.
  TRY(st.EnsureLayer(blob.diff_id, blob.digest, blob.diff_id));
  TRY(st.PutImage({o.name, w.manifest, std::string(image::media::kOciManifest), ""}));
  return w;
}

}  // namespace husk::build
