// OCI referrers (distribution-spec 1.1): artifacts — SBOMs, signatures — kept
// in a registry beside an image, each a manifest whose `subject` is the image's
// manifest. `husk build --push` attaches its SBOMs this way; `husk referrers`
// lists what is attached.
//
// Registries with the referrers API index such manifests themselves (their
// PUT answer carries OCI-Subject). For the others (Docker's registry 2.x) the
// spec's fallback is used: an image index under the tag "sha256-<hex>" of the
// subject lists the referrers, and the pusher keeps it up to date.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/remote.h"
#include "image/manifest.h"

namespace husk::engine {

// One blob with its type, e.g. an SPDX document ("application/spdx+json").
struct Artifact {
  std::string artifact_type;  // also the blob's media type
  std::string data;
  std::map<std::string, std::string> annotations;  // on the artifact's manifest
};

// The manifest an artifact becomes: artifactType, the empty config, data as its
// one layer, subject. Deterministic: the same inputs give the same bytes.
std::string ArtifactManifestJson(const Artifact& a, const image::Descriptor& subject);

// The referrers tag of a subject under the fallback schema: "sha256-<hex>".
std::string ReferrersTag(const Digest& subject);

// Pushes each artifact to ref's repository with subject as its subject, and
// makes it discoverable (by the registry's own index or the referrers tag).
// Pushing the same artifact again changes nothing. Returns the descriptors of
// the artifact manifests, in order.
Result<std::vector<image::Descriptor>> AttachReferrers(const std::string& ref,
                                                       const image::Descriptor& subject,
                                                       const std::vector<Artifact>& artifacts,
                                                       const RemoteOptions& o);

// The referrers of ref's manifest (ref is name:tag or name@digest), optionally
// only those of one artifactType: from the referrers API where the registry has
// it, else from the referrers tag (none when that tag does not exist).
Result<std::vector<image::Descriptor>> ListReferrers(const std::string& ref,
                                                     const std::string& artifact_type,
                                                     const RemoteOptions& o);

}  // namespace husk::engine
