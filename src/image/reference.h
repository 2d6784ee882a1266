// Image references as users write them ("debian", "debian:12",
// "127.0.0.1:5000/x/y:tag", "name@sha256:..."), normalised the way docker does:
// a name without a registry is on docker.io, a one-part name there is under
// "library/", and a name with neither tag nor digest means ":latest".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "digest/digest.h"

namespace husk::image {

inline constexpr std::string_view kDockerHub = "docker.io";
// Where docker.io's API actually lives.
inline constexpr std::string_view kDockerHubApi = "registry-1.docker.io";

struct Reference {
  std::string domain;  // "docker.io", "127.0.0.1:5000", "localhost"
  std::string path;    // "library/debian", "x/y"
  std::string tag;     // "" when only a digest was given
  std::optional<Digest> digest;

  // "docker.io/library/debian" — the repository, without tag or digest.
  std::string Repository() const { return domain + "/" + path; }
  // The full normalised name: "docker.io/library/debian:12",
  // "host/x@sha256:...", or "host/x:tag@sha256:...".
  std::string String() const;
  // As docker prints names: "debian:12" for docker.io/library/debian:12.
  std::string Familiar() const;
  // What the registry is asked for: the digest if there is one, else the tag.
  std::string ManifestRef() const { return digest ? digest->str() : tag; }
  // The host to connect to (docker.io maps to registry-1.docker.io).
  std::string ApiHost() const;
};

// Parses and normalises; the error names the string and what is wrong with it.
Result<Reference> ParseReference(std::string_view s);

// True when s is a 64-hex image ID or a unique-looking prefix of one ("3f2a1c"),
// which `rmi`/`inspect`/`bundle` accept in place of a name.
bool LooksLikeIdPrefix(std::string_view s);

}  // namespace husk::image
