#include "registry/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "registry/auth.h"

extern char** environ;

namespace husk::registry {

namespace {

using nlohmann::json;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string HomeDir() {
  std::string home = Env("HOME");
  if (!home.empty()) return home;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return "/";
}

std::string RuntimeAuthFile() {
  std::string xdg = Env("XDG_RUNTIME_DIR");
  if (!xdg.empty()) return xdg + "/containers/auth.json";
  return fmt::format("/run/containers/{}/auth.json", getuid());
}

// The host part of a normalized key or registry name.
std::string HostOf(std::string_view key) {
  return std::string(key.substr(0, key.find('/')));
}

// Docker's helpers and config.json know docker.io by its v1 index URL.
std::string HelperServer(const std::string& host) {
  return host == "docker.io" ? "https://index.docker.io/v1/" : host;
}

Result<json> ReadJsonFile(const std::string& path) {
  auto text = TRY(fs::ReadFile(path));
  if (strings::Trim(text).empty()) return json::object();
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Err("{}: invalid JSON", path);
  if (!j.is_object()) return Err("{}: not a JSON object", path);
  return j;
}

// An auths entry: {"auth": base64("user:pass")} and/or {"identitytoken": "..."}.
// nullopt for an empty entry (docker writes those when a credsStore holds the secret).
Result<std::optional<Credentials>> FromAuthEntry(const json& e, const std::string& where) {
  if (!e.is_object()) return Err("{}: entry is not an object", where);
  Credentials c;
  if (auto it = e.find("identitytoken"); it != e.end() && it->is_string()) {
    c.identity_token = it->get<std::string>();
  }
  if (auto it = e.find("auth");
      it != e.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
    auto raw = TRY_CTX(Base64Decode(it->get<std::string>()), "{}: auth", where);
    auto colon = raw.find(':');
    if (colon == std::string::npos) return Err("{}: auth is not base64 of user:password", where);
    c.username = raw.substr(0, colon);
    c.password = raw.substr(colon + 1);
  }
  if (c.username.empty() && c.identity_token.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(std::move(c));
}

Result<std::optional<Credentials>> LookupInFile(const std::string& path,
                                                const std::string& registry) {
  auto j = TRY(ReadJsonFile(path));
  std::string host = HostOf(registry);

  if (auto it = j.find("credHelpers"); it != j.end() && it->is_object()) {
    for (const auto& [key, helper] : it->items()) {
      if (NormalizeAuthKey(key) != host || !helper.is_string()) continue;
      auto c =
          TRY_CTX(RunCredentialHelper(helper.get<std::string>(), HelperServer(host)), "{}", path);
      if (c) return c;
    }
  }
  if (auto it = j.find("auths"); it != j.end() && it->is_object()) {
    // The most specific key wins: quay.io/org/app, then quay.io/org, then quay.io.
    std::string want = registry;
    for (;;) {
      for (const auto& [key, entry] : it->items()) {
        if (NormalizeAuthKey(key) != want) continue;
        auto c = TRY(FromAuthEntry(entry, fmt::format("{}: auths[\"{}\"]", path, key)));
        if (c) return c;
      }
      auto slash = want.rfind('/');
      if (slash == std::string::npos) break;
      want.resize(slash);
    }
  }
  if (auto it = j.find("credsStore");
      it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
    return TRY_CTX(RunCredentialHelper(it->get<std::string>(), HelperServer(host)), "{}", path);
  }
  return std::optional<Credentials>();
}

}  // namespace

std::string NormalizeAuthKey(std::string_view key) {
  std::string k(strings::Trim(key));
  for (std::string_view scheme : {"http://", "https://"}) {
    if (strings::StartsWith(k, scheme)) {
      // A URL key (docker's "https://index.docker.io/v1/") names a host only.
      k = HostOf(std::string_view(k).substr(scheme.size()));
      break;
    }
  }
  while (k.size() > 1 && k.back() == '/') k.pop_back();
  std::string host = HostOf(k);
  if (host == "index.docker.io" || host == "registry-1.docker.io") {
    k = "docker.io" + k.substr(host.size());
  }
  return k;
}

std::vector<std::string> AuthFileSearchPath() {
  std::vector<std::string> out;
  std::string env = Env("REGISTRY_AUTH_FILE");
  out.push_back(env.empty() ? RuntimeAuthFile() : env);
  std::string cfg = Env("XDG_CONFIG_HOME");
  if (cfg.empty()) cfg = HomeDir() + "/.config";
  out.push_back(cfg + "/containers/auth.json");
  std::string docker = Env("DOCKER_CONFIG");
  out.push_back((docker.empty() ? HomeDir() + "/.docker" : docker) + "/config.json");
  return out;
}

std::string DefaultAuthFilePath() {
  std::string env = Env("REGISTRY_AUTH_FILE");
  return env.empty() ? RuntimeAuthFile() : env;
}

Result<std::optional<Credentials>> LookupCredentials(const std::string& registry) {
  return LookupCredentialsIn(AuthFileSearchPath(), registry);
}

Result<std::optional<Credentials>> LookupCredentialsIn(const std::vector<std::string>& files,
                                                       const std::string& registry) {
  std::string want = NormalizeAuthKey(registry);
  for (const auto& f : files) {
    if (!fs::Exists(f)) continue;
    auto c = TRY(LookupInFile(f, want));
    if (c) return c;
  }
  return std::optional<Credentials>();
}

Status StoreCredentials(const std::string& path, const std::string& host, const std::string& user,
                        const std::string& pass) {
  json j = json::object();
  if (fs::Exists(path)) j = TRY(ReadJsonFile(path));
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  std::string key = NormalizeAuthKey(host);
  auto& auths = j["auths"];
  for (auto it = auths.begin(); it != auths.end();) {
    it = NormalizeAuthKey(it.key()) == key ? auths.erase(it) : std::next(it);
  }
  auths[key] = json{{"auth", Base64Encode(user + ":" + pass)}};
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) TRY(fs::MkdirAll(path.substr(0, slash), 0700));
  return fs::WriteFileAtomic(path, j.dump(1, '\t') + "\n", 0600);
}

Status RemoveCredentials(const std::string& path, const std::string& host) {
  std::string key = NormalizeAuthKey(host);
  if (!fs::Exists(path)) return Err("{}: not logged in to {}", path, key);
  json j = TRY(ReadJsonFile(path));
  bool removed = false;
  if (auto a = j.find("auths"); a != j.end() && a->is_object()) {
    for (auto it = a->begin(); it != a->end();) {
      if (NormalizeAuthKey(it.key()) == key) {
        it = a->erase(it);
        removed = true;
      } else {
        ++it;
      }
    }
  }
  if (!removed) return Err("{}: not logged in to {}", path, key);
  return fs::WriteFileAtomic(path, j.dump(1, '\t') + "\n", 0600);
}

Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server) {
  std::string prog = "docker-credential-" + helper;
  if (helper.find('/') != std::string::npos) return Err("{}: invalid helper name", prog);
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return ErrnoErr("{}: pipe", prog);
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return ErrnoErr("{}: pipe", prog);
  UniqueFd out_r(out[0]), out_w(out[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 2);
  std::string get = "get";
  char* argv[] = {prog.data(), get.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return CodeErr(rc, "run {}", prog);
  in_r.reset();
  out_w.reset();

  // The server name is a line; it fits in the pipe, so writing first cannot deadlock.
  std::string line = server + "\n";
  (void)!::write(in_w.get(), line.data(), line.size());
  in_w.reset();
  std::string output;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_r.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (output.size() < (1 << 20)) output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string text(strings::Trim(output));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // The protocol's way of saying "nothing stored for this server".
    if (text.find("credentials not found") != std::string::npos) {
      return std::optional<Credentials>();
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) return Err("{}: not found", prog);
    return Err("{} get {}: {}", prog, server, text.substr(0, 300));
  }
  auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Err("{} get {}: output is not a JSON object", prog, server);
  Credentials c;
  auto str = [&j](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string user = str("Username");
  std::string secret = str("Secret");
  if (secret.empty()) return std::optional<Credentials>();
  if (user == "<token>") {
    c.identity_token = secret;
  } else {
    c.username = user;
    c.password = secret;
  }
  return std::optional<Credentials>(std::move(c));
}

}  // namespace husk::registry
