// containers-registries.conf(5), version 2, as podman reads it: which registries
// unqualified names are searched in, and per registry (or namespace) where it
// really lives, whether it is insecure or blocked, and its pull mirrors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::registry {

struct Mirror {
  std::string location;  // "mirror.example.com/proxy"
  bool insecure = false;
};

struct RegistryRule {
  // "docker.io/library", "example.com", "*.example.com" (a wildcard matches
  // subdomains only). Defaults to location.
  std::string prefix;
  // Where images matching prefix are fetched from: location + the rest of the
  // name. Empty for wildcard rules: the name is used as is.
  std::string location;
  bool insecure = false;
  bool blocked = false;
  std::vector<Mirror> mirrors;
};

// One place to try an image at.
struct Endpoint {
  std::string host;  // "mirror.example.com"
  std::string repo;  // "proxy/library/debian"
  bool insecure = false;
  bool mirror = false;
};

class RegistriesConf {
 public:
  std::vector<std::string> unqualified_search_registries;
  std::vector<RegistryRule> registries;

  // The rule whose prefix matches name (an image name without tag or digest,
  // "docker.io/library/debian") best: the longest prefix, ending at a '/'
  // boundary of name; nullptr when none does.
  const RegistryRule* Find(std::string_view name) const;
  // Where to pull host/repo from, in order: the mirrors, then the (rewritten)
  // location. Without a rule, just host/repo. An error when the rule blocks it.
  Result<std::vector<Endpoint>> Endpoints(std::string_view host, std::string_view repo) const;
};

// The files LoadRegistriesConf reads, in order (later ones override): the main
// file ($CONTAINERS_REGISTRIES_CONF; else ~/.config/containers/registries.conf if
// it exists; else /etc/containers/registries.conf), then *.conf of
// /etc/containers/registries.conf.d and ~/.config/containers/registries.conf.d,
// sorted by name.
std::vector<std::string> RegistriesConfPaths();
Result<RegistriesConf> LoadRegistriesConf();
// Missing files are skipped. A later file's unqualified-search-registries
// replaces the earlier list; its [[registry]] tables replace earlier ones with
// the same prefix and add the others.
Result<RegistriesConf> LoadRegistriesConfFrom(const std::vector<std::string>& paths);
// One document; source names it in errors ("file:line:column: ...").
Result<RegistriesConf> ParseRegistriesConf(std::string_view text, const std::string& source);

}  // namespace husk::registry
