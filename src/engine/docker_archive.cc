// docker-archive: what `docker save` writes and `docker load`, `podman load`
// and `skopeo ... docker-archive:FILE` read.
//
//   manifest.json           [{"Config":"<id>.json","RepoTags":["busybox:latest"],
//                             "Layers":["<diff_id>/layer.tar",...]}]
//   repositories            {"busybox":{"latest":"<top layer dir>"}} (docker < 1.10 reads this)
//   <id>.json               the image config, byte for byte (so the image ID is kept)
//   <diff_id>/layer.tar     each layer uncompressed (its sha256 is the DiffID)
//
// There are no manifests in the archive, so a load synthesizes a Docker
// schema2 manifest over the layer files as they are.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "archive/decompress.h"
#include "base/fs.h"
#include "engine/archive_io.h"
#include "image/reference.h"

namespace husk::engine {
namespace {

constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The digest a member's name promises: "<hex>.json" (docker's config) or
// "blobs/sha256/<hex>" (docker 25+). Legacy layer directories are v1 IDs,
// not digests, and promise nothing.
std::optional<Digest> NamedDigest(std::string_view member) {
  if (member.size() == 69 && member.substr(64) == ".json" && IsHex64(member.substr(0, 64)))
    return Digest::FromHex(member.substr(0, 64));
  if (member.size() == 77 && member.substr(0, 13) == "blobs/sha256/" && IsHex64(member.substr(13)))
    return Digest::FromHex(member.substr(13));
  return std::nullopt;
}

// A layer file: its digest as a blob, and the DiffID of its uncompressed form.
struct LayerFile {
  Digest blob;
  int64_t size = 0;
  Digest diff_id;
  std::string media_type;
};

Result<LayerFile> ExamineLayer(const std::string& path, const std::string& member) {
  auto fd = TRY_CTX(fs::Open(path, O_RDONLY | O_CLOEXEC), "layer {}", member);
  archive::FdReader raw(fd.get(), member);
  archive::DigestingReader blob(raw);
  archive::DecompressReader dec(blob);
  auto comp = TRY_CTX(dec.Detect(), "layer {}", member);
  LayerFile lf;
  if (comp == archive::Compression::kNone)
    lf.media_type = std::string(kDockerLayerTar);
  else if (comp == archive::Compression::kGzip)
    lf.media_type = std::string(image::media::kDockerLayerGzip);
  else
    return Err("layer {}: {} compression has no Docker media type", member,
               archive::CompressionName(comp));
  Sha256 diff;
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = TRY_CTX(dec.Read(buf.data(), buf.size()), "layer {}", member);
    if (n == 0) break;
    diff.Update(buf.data(), n);
  }
  // Whatever follows the compressed stream is still part of the blob.
  for (;;) {
    size_t n = TRY_CTX(blob.Read(buf.data(), buf.size()), "layer {}", member);
    if (n == 0) break;
  }
  lf.size = static_cast<int64_t>(blob.bytes());
  lf.blob = blob.Final();
  lf.diff_id = diff.Final();
  return lf;
}

}  // namespace

std::string DockerManifestJson(const std::vector<DockerArchiveEntry>& entries) {
  auto arr = nlohmann::ordered_json::array();
  for (auto& e : entries) {
    nlohmann::ordered_json j;
    j["Config"] = e.config;
    j["RepoTags"] =
        e.repo_tags.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.repo_tags);
    j["Layers"] = e.layers;
    arr.push_back(std::move(j));
  }
  return arr.dump() + "\n";
}

Result<std::vector<DockerArchiveEntry>> ParseDockerManifestJson(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return Err("malformed manifest.json: not a JSON array");
  std::vector<DockerArchiveEntry> out;
  for (size_t i = 0; i < j.size(); i++) {
    auto& e = j[i];
    auto where = fmt::format("manifest.json[{}]", i);
    if (!e.is_object()) return Err("{}: not an object", where);
    auto c = e.find("Config");
    if (c == e.end() || !c->is_string())
      return Err("{}: \"Config\" missing or not a string", where);
    DockerArchiveEntry d;
    d.config = TRY_CTX(internal::SafeMemberPath(c->get<std::string>()), "{}", where);
    if (auto t = e.find("RepoTags"); t != e.end() && !t->is_null()) {
      if (!t->is_array()) return Err("{}: \"RepoTags\" is not an array", where);
      for (auto& s : *t) {
        if (!s.is_string()) return Err("{}: \"RepoTags\" has a non-string element", where);
        d.repo_tags.push_back(s.get<std::string>());
      }
    }
    auto l = e.find("Layers");
    if (l == e.end() || !l->is_array()) return Err("{}: \"Layers\" missing or not an array", where);
    for (auto& s : *l) {
      if (!s.is_string()) return Err("{}: \"Layers\" has a non-string element", where);
      d.layers.push_back(TRY_CTX(internal::SafeMemberPath(s.get<std::string>()), "{}", where));
    }
    out.push_back(std::move(d));
  }
  return out;
}

namespace internal {

Result<std::vector<Member>> DockerArchiveMembers(const store::Store& st,
                                                 const std::vector<std::string>& images) {
  std::vector<Member> out;
  std::vector<DockerArchiveEntry> entries;
  std::map<std::string, size_t> by_config;  // an image named twice is one entry
  std::map<std::string, std::map<std::string, std::string>> repositories;
  for (auto& name : images) {
    auto img = TRY(st.Resolve(name));
    const auto& m = img.manifest;
    const auto& diff_ids = img.config.diff_ids;
    if (diff_ids.size() != m.layers.size())
      return Err("image {}: manifest has {} layers but the config {} DiffIDs", name,
                 m.layers.size(), diff_ids.size());
    auto ref = TRY(image::ParseReference(img.record.name));
    std::string tag_name = ref.Familiar();  // docker writes "busybox:latest"
    std::string repo = tag_name.substr(0, tag_name.size() - ref.tag.size() - 1);
    std::string top = diff_ids.empty() ? std::string() : diff_ids.back().hex();
    if (!top.empty()) repositories[repo][ref.tag] = top;

    auto cfg_member = m.config.digest.hex() + ".json";
    if (auto it = by_config.find(cfg_member); it != by_config.end()) {
      auto& tags = entries[it->second].repo_tags;
      if (std::find(tags.begin(), tags.end(), tag_name) == tags.end()) tags.push_back(tag_name);
      continue;
    }
    if (!st.HasBlob(m.config.digest))
      return Err("image {}: config {} is not in the store", name, m.config.digest.str());
    out.push_back({cfg_member, Member::Kind::kFile, "", st.BlobPath(m.config.digest), {}});
    DockerArchiveEntry e;
    e.config = cfg_member;
    e.repo_tags.push_back(tag_name);
    for (size_t i = 0; i < m.layers.size(); i++) {
      if (!st.HasBlob(m.layers[i].digest))
        return Err("image {}: layer {} is not in the store", name, m.layers[i].digest.str());
      auto hex = diff_ids[i].hex();
      out.push_back({hex, Member::Kind::kDir, "", "", {}});
      out.push_back({hex + "/layer.tar", Member::Kind::kLayerTar, "",
                     st.BlobPath(m.layers[i].digest), diff_ids[i]});
      e.layers.push_back(hex + "/layer.tar");
    }
    by_config[cfg_member] = entries.size();
    entries.push_back(std::move(e));
  }
  out.push_back({"manifest.json", Member::Kind::kData, DockerManifestJson(entries), "", {}});
  out.push_back(
      {"repositories", Member::Kind::kData, nlohmann::json(repositories).dump() + "\n", "", {}});
  return out;
}

Result<std::vector<LoadedImage>> ImportDockerArchiveDir(store::Store& st, const std::string& dir,
                                                        const std::string& label) {
  auto mj = TRY_CTX(fs::ReadFile(fs::Join(dir, "manifest.json")), "{}", label);
  auto entries = TRY_CTX(ParseDockerManifestJson(mj), "{}", label);
  if (entries.empty()) return Err("{}: manifest.json lists no images", label);

  struct Plan {
    std::vector<std::string> names;
    std::string config_bytes;
    image::ImageConfig config;
    image::Manifest manifest;
    std::string manifest_bytes;
    std::vector<std::string> layer_paths;
  };
  // 1. Every file checked (config digests, layer DiffIDs) before anything is stored.
  std::map<std::string, LayerFile> layers;  // by member: images share layers
  std::vector<Plan> plans;
  for (auto& e : entries) {
    Plan p;
    auto cpath = fs::Join(dir, e.config);
    struct stat sb {};
    if (::stat(cpath.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode))
      return Err("{}: config {} is missing", label, e.config);
    if (sb.st_size > (64 << 20)) return Err("{}: config {} is too large", label, e.config);
    p.config_bytes = TRY_CTX(fs::ReadFile(cpath), "{}", label);
    Digest cdig = Sha256Of(p.config_bytes);
    if (auto want = NamedDigest(e.config); want && !(*want == cdig))
      return Err("{}: config {}: content does not match its digest (it is {})", label, e.config,
                 cdig.str());
    p.config = TRY_CTX(image::ParseImageConfig(p.config_bytes), "{}: {}", label, e.config);
    if (p.config.diff_ids.size() != e.layers.size())
      return Err("{}: {} has {} DiffIDs for {} layers", label, e.config, p.config.diff_ids.size(),
                 e.layers.size());
    p.manifest.media_type = std::string(image::media::kDockerManifest);
    p.manifest.config.media_type = std::string(image::media::kDockerConfig);
    p.manifest.config.digest = cdig;
    p.manifest.config.size = static_cast<int64_t>(p.config_bytes.size());
    for (size_t i = 0; i < e.layers.size(); i++) {
      const auto& member = e.layers[i];
      auto it = layers.find(member);
      if (it == layers.end()) {
        auto path = fs::Join(dir, member);
        if (!fs::Exists(path)) return Err("{}: layer {} is missing", label, member);
        auto lf = TRY_CTX(ExamineLayer(path, member), "{}", label);
        if (auto want = NamedDigest(member); want && !(*want == lf.blob))
          return Err("{}: blob {}: content does not match its digest (it is {})", label,
                     want->str(), lf.blob.str());
        it = layers.emplace(member, lf).first;
      }
      const auto& lf = it->second;
      if (!(lf.diff_id == p.config.diff_ids[i]))
        return Err("{}: layer {}: DiffID {} does not match the config's {}", label, member,
                   lf.diff_id.str(), p.config.diff_ids[i].str());
      image::Descriptor d;
      d.media_type = lf.media_type;
      d.digest = lf.blob;
      d.size = lf.size;
      p.manifest.layers.push_back(std::move(d));
      p.layer_paths.push_back(fs::Join(dir, member));
    }
    p.manifest_bytes = image::ManifestJson(p.manifest);
    for (auto& t : e.repo_tags) {
      auto ref = TRY_CTX(image::ParseReference(t), "{}: RepoTags", label);
      if (ref.digest) return Err("{}: RepoTags: \"{}\" is not a tag", label, t);
      p.names.push_back(ref.String());
    }
    if (p.names.empty()) p.names.push_back(FallbackName(cdig));
    plans.push_back(std::move(p));
  }

  // 2. Blobs (the layer files verified again as they are copied), 3. layers, 4. records.
  for (auto& p : plans) {
    for (size_t i = 0; i < p.layer_paths.size(); i++) {
      const auto& l = p.manifest.layers[i];
      TRY_CTX(ImportVerifiedBlob(st, p.layer_paths[i], l.digest, l.size), "{}", label);
    }
    TRY(st.PutBlob(p.config_bytes));
    TRY(st.PutBlob(p.manifest_bytes));
  }
  for (auto& p : plans)
    TRY_CTX(UnpackLayers(st, p.manifest, p.config), "{}: {}", label, p.names.front());
  std::vector<LoadedImage> out;
  for (auto& p : plans) {
    Digest md = Sha256Of(p.manifest_bytes);
    for (auto& n : p.names) {
      TRY(st.PutImage({n, md, p.manifest.media_type, ""}));
      out.push_back({n, md, p.manifest.config.digest});
    }
  }
  return out;
}

}  // namespace internal
}  // namespace husk::engine
