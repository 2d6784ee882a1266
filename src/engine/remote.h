// Reaching registries: endpoints from registries.conf, credentials from the
// auth files (or --creds), TLS settings from flags and
// /etc/containers/certs.d/<host>/ca.crt, as podman and skopeo do.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/reference.h"
#include "registry/client.h"
#include "registry/registries_conf.h"

namespace husk::engine {

struct RemoteOptions {
  std::optional<bool> tls_verify;  // --tls-verify; unset: verify unless insecure in registries.conf
  std::string ca_file;             // --ca-file / --cert-dir's ca.crt
  std::string creds;               // --creds user:pass
  std::string authfile;            // --authfile
};

struct Remote {
  registry::Endpoint endpoint;
  std::unique_ptr<registry::Client> client;
};

// The places to try for ref, in order (mirrors first); each with a ready client.
// An error if registries.conf blocks the name.
Result<std::vector<Remote>> RemotesFor(const image::Reference& ref, const RemoteOptions& o,
                                       bool for_push);
// A client for a bare registry host (login).
Result<std::unique_ptr<registry::Client>> ClientForHost(const std::string& host,
                                                        const RemoteOptions& o);

}  // namespace husk::engine
