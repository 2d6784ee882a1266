#include "engine/remote.h"

#include "base/fs.h"
#include "registry/credentials.h"

namespace husk::engine {
namespace {

Result<std::optional<registry::Credentials>> CredsFor(const std::string& host,
                                                      const std::string& repo_key,
                                                      const RemoteOptions& o) {
  if (!o.creds.empty()) {
    auto c = o.creds.find(':');
    registry::Credentials cr;
    cr.username = o.creds.substr(0, c);
    if (c != std::string::npos) cr.password = o.creds.substr(c + 1);
    return std::optional<registry::Credentials>(cr);
  }
  if (!o.authfile.empty()) return registry::LookupCredentialsIn({o.authfile}, repo_key);
  (void)host;
  return registry::LookupCredentials(repo_key);
}

Result<std::unique_ptr<registry::Client>> MakeClient(const std::string& host, bool insecure,
                                                     const std::string& repo_key,
                                                     const RemoteOptions& o) {
  registry::ClientOptions co;
  co.host = host;
  co.insecure = insecure;
  if (o.tls_verify && !*o.tls_verify) {
    co.insecure = true;
    co.tls_verify = false;
  }
  co.ca_file = o.ca_file;
  if (co.ca_file.empty()) {
    auto certs = "/etc/containers/certs.d/" + host + "/ca.crt";
    if (fs::Exists(certs)) co.ca_file = certs;
  }
  co.creds = TRY(CredsFor(host, repo_key, o));
  return std::make_unique<registry::Client>(co);
}

}  // namespace

Result<std::vector<Remote>> RemotesFor(const image::Reference& ref, const RemoteOptions& o,
                                       bool for_push) {
  auto conf = TRY(registry::LoadRegistriesConf());
  auto eps = TRY_CTX(conf.Endpoints(ref.domain, ref.path), "{}", ref.String());
  std::vector<Remote> out;
  for (auto& ep : eps) {
    if (for_push && ep.mirror) continue;  // pushes go to the registry itself
    Remote r;
    r.endpoint = ep;
    r.client = TRY(MakeClient(ep.host, ep.insecure, ep.host + "/" + ep.repo, o));
    out.push_back(std::move(r));
  }
  if (out.empty()) return Err("{}: no registry to reach it at", ref.String());
  return out;
}

Result<std::unique_ptr<registry::Client>> ClientForHost(const std::string& host,
                                                        const RemoteOptions& o) {
  bool insecure = false;
  if (auto conf = registry::LoadRegistriesConf(); conf.ok()) {
    if (auto* rule = conf->Find(host)) insecure = rule->insecure;
  }
  return MakeClient(host, insecure, host, o);
}

}  // namespace husk::engine
