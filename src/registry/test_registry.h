// Tests only: Debian's docker-registry (distribution 2.8) on a free 127.0.0.1
// port with storage in a temp dir, optionally with htpasswd basic auth behind
// TLS (a self-signed certificate for 127.0.0.1). The C++ twin of
// tests/lib/registry.bash. Killed and removed when the object goes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/unique_fd.h"

extern char** environ;

namespace husk::registry::testing {

inline constexpr char kRegistryBin[] = "/usr/bin/docker-registry";
inline constexpr char kRegistryUser[] = "husk";
inline constexpr char kRegistryPass[] = "husk-secret";

// Runs argv with stdout to out_path (if any) and stderr to /dev/null; the exit status.
inline int RunTool(std::vector<std::string> argv, const std::string& out_path = "") {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.empty() ? "/dev/null" : out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return 127;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

inline int FreePort() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

inline bool Accepts(int port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

class TestRegistry {
 public:
  // nullptr with *why set when it cannot run here (binary or tools missing, no start).
  static std::unique_ptr<TestRegistry> Start(bool auth, std::string* why) {
    if (::access(kRegistryBin, X_OK) != 0) {
      *why = std::string(kRegistryBin) + " is not installed";
      return nullptr;
    }
    std::unique_ptr<TestRegistry> r(new TestRegistry);
    char tmpl[] = "/tmp/husk-registry-test.XXXXXX";
    if (!::mkdtemp(tmpl)) {
      *why = "mkdtemp failed";
      return nullptr;
    }
    r->dir = tmpl;
    std::string extra;
    if (auth) {
      r->ca = r->dir + "/cert.pem";
      if (RunTool({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                   "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                   r->dir + "/key.pem", "-out", r->ca}) != 0) {
        *why = "openssl could not make a certificate";
        return nullptr;
      }
      if (RunTool({"htpasswd", "-Bbn", kRegistryUser, kRegistryPass}, r->dir + "/htpasswd") != 0) {
        *why = "htpasswd (apache2-utils) is missing";
        return nullptr;
      }
      extra = "  tls:\n    certificate: " + r->dir + "/cert.pem\n    key: " + r->dir +
              "/key.pem\nauth:\n  htpasswd:\n    realm: husk-test\n    path: " + r->dir +
              "/htpasswd\n";
    }
    for (int attempt = 0; attempt < 3; ++attempt) {
      int port = FreePort();
      r->addr = "127.0.0.1:" + std::to_string(port);
      std::string config =
          "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
          "storage:\n  filesystem:\n    rootdirectory: " +
          r->dir +
          "/data\n  delete:\n    enabled: true\n"
          "http:\n  addr: " +
          r->addr + "\n  secret: husk-test\n" + extra;
      if (!fs::WriteFile(r->dir + "/config.yml", config)) {
        *why = "cannot write config.yml";
        return nullptr;
      }
      std::string bin = kRegistryBin, serve = "serve", cfg = r->dir + "/config.yml";
      std::string log = r->dir + "/log";
      char* argv[] = {bin.data(), serve.data(), cfg.data(), nullptr};
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      posix_spawn_file_actions_adddup2(&fa, 1, 2);
      int rc = posix_spawn(&r->pid, bin.c_str(), &fa, nullptr, argv, environ);
      posix_spawn_file_actions_destroy(&fa);
      if (rc != 0) {
        r->pid = -1;
        continue;
      }
      for (int i = 0; i < 200; ++i) {
        int status;
        if (::waitpid(r->pid, &status, WNOHANG) == r->pid) {
          r->pid = -1;  // died (port taken in between?): another port
          break;
        }
        if (Accepts(port)) return r;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      r->Kill();
    }
    *why = "docker-registry did not start: " + fs::ReadFile(r->dir + "/log").value_or("");
    return nullptr;
  }

  ~TestRegistry() {
    Kill();
    if (!dir.empty()) (void)fs::RemoveAll(dir);
  }

  std::string addr;  // 127.0.0.1:PORT
  std::string dir;
  std::string ca;  // with auth: the certificate to trust
  pid_t pid = -1;

 private:
  TestRegistry() = default;
  void Kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

}  // namespace husk::registry::testing
