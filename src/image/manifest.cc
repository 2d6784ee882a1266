#include "image/manifest.h"

#include <sys/utsname.h>

#include "base/strings.h"

namespace husk::image {
namespace {

using Json = nlohmann::json;

// Field readers that turn a wrong type into an error naming the field.
Result<std::string> Str(const Json& j, const char* key, std::string_view where, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Err("{}: missing \"{}\"", where, key);
    return std::string();
  }
  if (!it->is_string()) return Err("{}: \"{}\" is not a string", where, key);
  return it->get<std::string>();
}

Result<std::vector<std::string>> StrList(const Json& j, const char* key, std::string_view where) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return Err("{}: \"{}\" is not an array", where, key);
  for (auto& e : *it) {
    if (!e.is_string()) return Err("{}: \"{}\" has a non-string element", where, key);
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> StrMap(const Json& j, const char* key,
                                                  std::string_view where) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return Err("{}: \"{}\" is not an object", where, key);
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return Err("{}: \"{}.{}\" is not a string", where, key, k);
    out[k] = v.get<std::string>();
  }
  return out;
}

// Keys of an object ({"80/tcp": {}}), as docker stores ports and volumes.
Result<std::vector<std::string>> KeyList(const Json& j, const char* key, std::string_view where) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return Err("{}: \"{}\" is not an object", where, key);
  for (auto& [k, v] : it->items()) out.push_back(k);
  return out;
}

Result<Platform> ParsePlatformJson(const Json& j, std::string_view where) {
  if (!j.is_object()) return Err("{}: \"platform\" is not an object", where);
  Platform p;
  p.os = TRY(Str(j, "os", where, true));
  p.architecture = TRY(Str(j, "architecture", where, true));
  p.variant = TRY(Str(j, "variant", where, false));
  p.os_version = TRY(Str(j, "os.version", where, false));
  return p;
}

Result<Descriptor> ParseDescriptor(const Json& j, std::string where) {
  if (!j.is_object()) return Err("{}: not an object", where);
  Descriptor d;
  d.media_type = TRY(Str(j, "mediaType", where, true));
  auto dg = TRY(Str(j, "digest", where, true));
  d.digest = TRY_CTX(Digest::Parse(dg), "{}", where);
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0)
    return Err("{}: \"size\" missing or not a non-negative integer", where);
  d.size = sz->get<int64_t>();
  if (auto p = j.find("platform"); p != j.end() && !p->is_null())
    d.platform = TRY(ParsePlatformJson(*p, where));
  d.annotations = TRY(StrMap(j, "annotations", where));
  d.urls = TRY(StrList(j, "urls", where));
  d.artifact_type = TRY(Str(j, "artifactType", where, false));
  return d;
}

Result<Json> ParseJsonObject(std::string_view bytes, std::string_view what) {
  Json j = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err("malformed {}: not valid JSON", what);
  if (!j.is_object()) return Err("malformed {}: not a JSON object", what);
  return j;
}

}  // namespace

std::string ManifestAcceptHeader() {
  return fmt::format("{}, {}, {}, {}", media::kOciIndex, media::kOciManifest, media::kDockerList,
                     media::kDockerManifest);
}

Result<LayerCompression> LayerCompressionOf(std::string_view mt) {
  if (mt == media::kOciLayer || mt == "application/vnd.docker.image.rootfs.diff.tar")
    return LayerCompression::kNone;
  if (mt == media::kOciLayerGzip || mt == media::kDockerLayerGzip ||
      mt == "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" ||
      mt == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip")
    return LayerCompression::kGzip;
  if (mt == media::kOciLayerZstd) return LayerCompression::kZstd;
  return Err("unsupported layer media type \"{}\"", mt);
}

std::string Platform::String() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Result<Platform> ParsePlatform(std::string_view s) {
  auto parts = strings::Split(s, '/');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return Err("invalid platform \"{}\": want os/arch[/variant]", s);
  Platform p;
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Platform HostPlatform() {
  Platform p{"linux", "amd64", "", ""};
  struct utsname u {};
  if (uname(&u) != 0) return p;
  std::string_view m = u.machine;
  if (m == "x86_64")
    p.architecture = "amd64";
  else if (m == "aarch64")
    p.architecture = "arm64", p.variant = "v8";
  else if (m == "i686" || m == "i386")
    p.architecture = "386";
  else if (m == "armv7l")
    p.architecture = "arm", p.variant = "v7";
  else if (m == "armv6l")
    p.architecture = "arm", p.variant = "v6";
  else if (m == "ppc64le" || m == "s390x" || m == "riscv64")
    p.architecture = std::string(m);
  else
    p.architecture = std::string(m);
  return p;
}

bool PlatformMatches(const Platform& want, const Platform& have) {
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (want.variant.empty()) return true;
  if (want.variant == have.variant) return true;
  return want.architecture == "arm64" && want.variant == "v8" && have.variant.empty();
}

Result<DocKind> ClassifyManifest(std::string_view bytes, std::string_view content_type) {
  auto j = TRY(ParseJsonObject(bytes, "manifest"));
  std::string mt;
  if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) mt = it->get<std::string>();
  if (mt.empty()) {
    mt = std::string(content_type.substr(0, content_type.find(';')));
    mt = std::string(strings::Trim(mt));
  }
  if (mt == media::kOciIndex || mt == media::kDockerList) return DocKind::kIndex;
  if (mt == media::kOciManifest || mt == media::kDockerManifest) return DocKind::kManifest;
  if (mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed)
    return Err("unsupported manifest media type \"{}\" (Docker schema 1)", mt);
  // No usable type at all: OCI allows an omitted mediaType; judge by shape.
  if (mt.empty() || mt == "application/json" || mt == "text/plain") {
    if (j.contains("manifests")) return DocKind::kIndex;
    if (j.contains("layers") && j.contains("config")) return DocKind::kManifest;
  }
  return Err("unsupported manifest media type \"{}\"", mt.empty() ? "(none)" : mt);
}

Result<Manifest> ParseManifest(std::string_view bytes, std::string_view content_type) {
  auto j = TRY(ParseJsonObject(bytes, "manifest"));
  Manifest m;
  m.media_type = TRY(Str(j, "mediaType", "manifest", false));
  if (m.media_type.empty())
    m.media_type = std::string(content_type.substr(0, content_type.find(';')));
  if (m.media_type.empty()) m.media_type = std::string(media::kOciManifest);
  if (auto sv = j.find("schemaVersion"); sv == j.end() || !sv->is_number_integer() || *sv != 2)
    return Err("malformed manifest: \"schemaVersion\" is not 2");
  auto cfg = j.find("config");
  if (cfg == j.end()) return Err("malformed manifest: missing \"config\"");
  m.config = TRY_CTX(ParseDescriptor(*cfg, "config"), "malformed manifest");
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array())
    return Err("malformed manifest: \"layers\" missing or not an array");
  for (size_t i = 0; i < layers->size(); i++)
    m.layers.push_back(
        TRY_CTX(ParseDescriptor((*layers)[i], fmt::format("layers[{}]", i)), "malformed manifest"));
  if (auto s = j.find("subject"); s != j.end() && !s->is_null())
    m.subject = TRY_CTX(ParseDescriptor(*s, "subject"), "malformed manifest");
  m.artifact_type = TRY(Str(j, "artifactType", "manifest", false));
  m.annotations = TRY(StrMap(j, "annotations", "manifest"));
  return m;
}

Result<Index> ParseIndex(std::string_view bytes, std::string_view content_type) {
  auto j = TRY(ParseJsonObject(bytes, "index"));
  Index idx;
  idx.media_type = TRY(Str(j, "mediaType", "index", false));
  if (idx.media_type.empty())
    idx.media_type = std::string(content_type.substr(0, content_type.find(';')));
  if (idx.media_type.empty()) idx.media_type = std::string(media::kOciIndex);
  auto ms = j.find("manifests");
  if (ms == j.end() || !ms->is_array())
    return Err("malformed index: \"manifests\" missing or not an array");
  for (size_t i = 0; i < ms->size(); i++)
    idx.manifests.push_back(
        TRY_CTX(ParseDescriptor((*ms)[i], fmt::format("manifests[{}]", i)), "malformed index"));
  if (auto s = j.find("subject"); s != j.end() && !s->is_null())
    idx.subject = TRY_CTX(ParseDescriptor(*s, "subject"), "malformed index");
  idx.annotations = TRY(StrMap(j, "annotations", "index"));
  return idx;
}

Result<Descriptor> SelectPlatform(const Index& idx, const Platform& want) {
  std::vector<std::string> have;
  for (auto& d : idx.manifests) {
    if (!d.platform) continue;
    // Attestations (buildkit's "unknown/unknown") are not images.
    if (d.platform->os == "unknown") continue;
    if (PlatformMatches(want, *d.platform)) return d;
    have.push_back(d.platform->String());
  }
  return Err("no image for platform {} (available: {})", want.String(),
             have.empty() ? "none" : strings::Join(have, ", "));
}

Result<ImageConfig> ParseImageConfig(std::string_view bytes) {
  auto j = TRY(ParseJsonObject(bytes, "image config"));
  ImageConfig c;
  c.architecture = TRY(Str(j, "architecture", "image config", false));
  c.os = TRY(Str(j, "os", "image config", false));
  c.variant = TRY(Str(j, "variant", "image config", false));
  c.created = TRY(Str(j, "created", "image config", false));
  if (auto cc = j.find("config"); cc != j.end() && cc->is_object()) {
    const char* w = "image config: config";
    c.config.user = TRY(Str(*cc, "User", w, false));
    c.config.env = TRY(StrList(*cc, "Env", w));
    c.config.entrypoint = TRY(StrList(*cc, "Entrypoint", w));
    c.config.cmd = TRY(StrList(*cc, "Cmd", w));
    c.config.working_dir = TRY(Str(*cc, "WorkingDir", w, false));
    c.config.labels = TRY(StrMap(*cc, "Labels", w));
    c.config.exposed_ports = TRY(KeyList(*cc, "ExposedPorts", w));
    c.config.volumes = TRY(KeyList(*cc, "Volumes", w));
    c.config.stop_signal = TRY(Str(*cc, "StopSignal", w, false));
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object())
    return Err("malformed image config: missing \"rootfs\"");
  auto ids = TRY(StrList(*rootfs, "diff_ids", "image config: rootfs"));
  for (auto& s : ids)
    c.diff_ids.push_back(TRY_CTX(Digest::Parse(s), "image config: rootfs.diff_ids"));
  return c;
}

nlohmann::ordered_json DescriptorJson(const Descriptor& d) {
  nlohmann::ordered_json j;
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  if (d.platform) {
    nlohmann::ordered_json p;
    p["architecture"] = d.platform->architecture;
    p["os"] = d.platform->os;
    if (!d.platform->os_version.empty()) p["os.version"] = d.platform->os_version;
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    j["platform"] = p;
  }
  return j;
}

std::string ManifestJson(const Manifest& m) {
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = m.media_type.empty() ? std::string(media::kOciManifest) : m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = DescriptorJson(m.config);
  j["layers"] = nlohmann::ordered_json::array();
  for (auto& l : m.layers) j["layers"].push_back(DescriptorJson(l));
  if (m.subject) j["subject"] = DescriptorJson(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j.dump();
}

std::string IndexJson(const Index& i) {
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = i.media_type.empty() ? std::string(media::kOciIndex) : i.media_type;
  j["manifests"] = nlohmann::ordered_json::array();
  for (auto& d : i.manifests) j["manifests"].push_back(DescriptorJson(d));
  if (i.subject) j["subject"] = DescriptorJson(*i.subject);
  if (!i.annotations.empty()) j["annotations"] = i.annotations;
  return j.dump();
}

std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (auto& d : diff_ids) {
    if (out.empty())
      out.push_back(d);
    else
      out.push_back(Sha256Of(out.back().str() + " " + d.str()));
  }
  return out;
}

}  // namespace husk::image
