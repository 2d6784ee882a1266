// Registry credentials as podman and docker keep them: auth.json / config.json
// files and docker-credential-* helpers. Reading follows containers-auth.json(5);
// `husk login` writes where podman writes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace husk::registry {

struct Credentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token (auth.json "identitytoken", or a helper answering
  // Username "<token>"): exchanged for bearer tokens, never sent as a password.
  std::string identity_token;
};

// The auth files read, in order: $REGISTRY_AUTH_FILE if set, else the runtime
// file ($XDG_RUNTIME_DIR/containers/auth.json, or /run/containers/<uid>/auth.json
// without XDG_RUNTIME_DIR); then ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json;
// then ${DOCKER_CONFIG:-~/.docker}/config.json.
std::vector<std::string> AuthFileSearchPath();
// Where `husk login` writes: $REGISTRY_AUTH_FILE, else the runtime file above.
std::string DefaultAuthFilePath();

// The credentials for a registry host ("quay.io", "127.0.0.1:5000"), or for a
// repository under it ("quay.io/org/app": a key naming the repository or a
// namespace of it wins over the host's, as in containers-auth.json). In each
// file in turn: credHelpers[host], then auths (keys normalized: "https://host/v1/"
// is "host", index.docker.io and registry-1.docker.io are docker.io), then
// credsStore. nullopt when nothing matches; a file that exists but does not
// parse is an error naming it.
Result<std::optional<Credentials>> LookupCredentials(const std::string& registry);
Result<std::optional<Credentials>> LookupCredentialsIn(const std::vector<std::string>& files,
                                                       const std::string& registry);

// Sets auths[host] = {"auth": base64(user:pass)} in path, keeping every other
// entry and key; replaces entries whose key normalizes to the same host.
// Written atomically with mode 0600 (directories 0700).
Status StoreCredentials(const std::string& path, const std::string& host, const std::string& user,
                        const std::string& pass);
// Removes the auths entries of host; an error when there were none ("not logged in").
Status RemoveCredentials(const std::string& path, const std::string& host);

// "https://index.docker.io/v1/" -> "docker.io", "http://h:5000/v2/" -> "h:5000",
// "quay.io/org" -> "quay.io/org".
std::string NormalizeAuthKey(std::string_view key);

// Runs docker-credential-<helper> get for server; nullopt when it has nothing.
Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server);

}  // namespace husk::registry
