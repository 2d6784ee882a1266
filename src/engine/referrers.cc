#include "engine/referrers.h"

#include <algorithm>
#include <cstring>

#include "image/reference.h"

namespace husk::engine {
namespace {

namespace media = image::media;

// The empty JSON object, the config of every artifact manifest (image-spec 1.1).
constexpr std::string_view kEmptyConfig = "{}";

image::Descriptor EmptyConfigDescriptor() {
  image::Descriptor d;
  d.media_type = std::string(media::kOciEmpty);
  d.digest = Sha256Of(kEmptyConfig);
  d.size = static_cast<int64_t>(kEmptyConfig.size());
  return d;
}

Status PushBytes(registry::Client& c, const std::string& repo, std::string_view data) {
  size_t off = 0;
  return c.PushBlob(repo, Sha256Of(data), data.size(), [&](char* buf, size_t n) -> Result<size_t> {
    size_t k = std::min(n, data.size() - off);
    std::memcpy(buf, data.data() + off, k);
    off += k;
    return k;
  });
}

struct Target {
  image::Reference ref;
  std::vector<Remote> remotes;
  registry::Client& client() { return *remotes.back().client; }
  const std::string& repo() { return remotes.back().endpoint.repo; }
};

Result<Target> Connect(const std::string& name, const RemoteOptions& o, bool for_push) {
  Target t;
  t.ref = TRY(image::ParseReference(name));
  t.remotes = TRY(RemotesFor(t.ref, o, for_push));
  return t;
}

// The index under the referrers tag, or an empty one when the tag does not exist.
Result<image::Index> ReadReferrersTag(Target& t, const Digest& subject) {
  image::Index idx;
  idx.media_type = std::string(media::kOciIndex);
  const std::string tag = ReferrersTag(subject);
  const std::vector<std::string> accept = {std::string(media::kOciIndex)};
  auto head = TRY(t.client().HeadManifest(t.repo(), tag, accept));
  if (!head) return idx;
  auto m = TRY(t.client().GetManifest(t.repo(), tag, accept));
  return TRY_CTX(image::ParseIndex(m.bytes, m.media_type), "{}", t.client().Name(t.repo(), tag));
}

Status UpdateReferrersTag(Target& t, const Digest& subject,
                          const std::vector<image::Descriptor>& added) {
  auto idx = TRY(ReadReferrersTag(t, subject));
  bool changed = false;
  for (const auto& d : added) {
    auto same = [&](const image::Descriptor& e) { return e.digest == d.digest; };
    if (std::any_of(idx.manifests.begin(), idx.manifests.end(), same)) continue;
    idx.manifests.push_back(d);
    changed = true;
  }
  if (!changed) return Ok();
  TRY(t.client().PutManifest(t.repo(), ReferrersTag(subject), std::string(media::kOciIndex),
                             image::IndexJson(idx)));
  return Ok();
}

}  // namespace

std::string ReferrersTag(const Digest& subject) {
  return subject.algorithm() + "-" + subject.hex();
}

std::string ArtifactManifestJson(const Artifact& a, const image::Descriptor& subject) {
  image::Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.artifact_type = a.artifact_type;
  m.config = EmptyConfigDescriptor();
  image::Descriptor blob;
  blob.media_type = a.artifact_type;
  blob.digest = Sha256Of(a.data);
  blob.size = static_cast<int64_t>(a.data.size());
  m.layers.push_back(blob);
  image::Descriptor s;
  s.media_type = subject.media_type;
  s.digest = subject.digest;
  s.size = subject.size;
  m.subject = s;
  m.annotations = a.annotations;
  return image::ManifestJson(m);
}

Result<std::vector<image::Descriptor>> AttachReferrers(const std::string& ref,
                                                       const image::Descriptor& subject,
                                                       const std::vector<Artifact>& artifacts,
                                                       const RemoteOptions& o) {
  auto t = TRY(Connect(ref, o, /*for_push=*/true));
  std::vector<image::Descriptor> out;
  if (artifacts.empty()) return out;
  TRY(PushBytes(t.client(), t.repo(), kEmptyConfig));
  bool indexed_by_registry = true;
  for (const auto& a : artifacts) {
    TRY(PushBytes(t.client(), t.repo(), a.data));
    auto bytes = ArtifactManifestJson(a, subject);
    image::Descriptor d;
    d.media_type = std::string(media::kOciManifest);
    d.digest = Sha256Of(bytes);
    d.size = static_cast<int64_t>(bytes.size());
    d.artifact_type = a.artifact_type;
    d.annotations = a.annotations;
    auto put = TRY(t.client().PutManifest(t.repo(), d.digest.str(), d.media_type, bytes));
    if (put.oci_subject.empty()) indexed_by_registry = false;
    out.push_back(std::move(d));
  }
  if (!indexed_by_registry) TRY(UpdateReferrersTag(t, subject.digest, out));
  return out;
}

Result<std::vector<image::Descriptor>> ListReferrers(const std::string& ref,
                                                     const std::string& artifact_type,
                                                     const RemoteOptions& o) {
  auto t = TRY(Connect(ref, o, /*for_push=*/false));
  Digest subject;
  if (t.ref.digest) {
    subject = *t.ref.digest;
  } else {
    subject = TRY(t.client().GetManifest(t.repo(), t.ref.tag)).digest;
  }
  image::Index idx;
  if (auto api = TRY(t.client().GetReferrers(t.repo(), subject, artifact_type))) {
    idx = TRY_CTX(image::ParseIndex(*api, media::kOciIndex), "{} referrers",
                  t.client().Name(t.repo(), subject.str()));
  } else {
    idx = TRY(ReadReferrersTag(t, subject));
  }
  std::vector<image::Descriptor> out;
  for (auto& d : idx.manifests) {
    if (artifact_type.empty() || d.artifact_type == artifact_type) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace husk::engine
