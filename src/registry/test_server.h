// Tests only: a scripted HTTP/1.1 server on 127.0.0.1 for what a real registry
// will not do on demand (bearer token servers, 5xx, cut connections, redirects
// to another host, ignored Range headers). One request per connection, served
// in order on one thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "registry/http.h"

namespace husk::registry::testing {

struct FakeRequest {
  std::string method;
  std::string target;                          // "/v2/x/y/manifests/latest?a=b"
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Path() const { return target.substr(0, target.find('?')); }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Close the connection after this many body bytes (Content-Length still says
  // all of them): a transfer cut in the middle.
  size_t cut_after = std::string::npos;
};

class FakeServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeServer(Handler h) : handler_(std::move(h)) {
    listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_.get(), 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) == 0) {
      stop_r_.reset(p[0]);
      stop_w_.reset(p[1]);
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    (void)!::write(stop_w_.get(), "x", 1);
    thread_.join();
  }

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::vector<FakeRequest> requests() {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  void Loop() {
    for (;;) {
      pollfd fds[2] = {{listen_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents) return;
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c) Serve(c.get());
    }
  }

  static bool ReadRequest(int fd, FakeRequest& r) {
    std::string buf;
    char tmp[65536];
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
    }
    std::string head = buf.substr(0, end);
    r.body = buf.substr(end + 4);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    auto sp1 = first.find(' ');
    auto sp2 = first.rfind(' ');
    r.method = first.substr(0, sp1);
    r.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), ::tolower);
        size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers[name] = v == std::string::npos ? "" : line.substr(v);
      }
      pos = e + 2;
    }
    size_t want = 0;
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
      want = std::stoul(it->second);
    }
    while (r.body.size() < want) {
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) return false;
      r.body.append(tmp, static_cast<size_t>(n));
    }
    return true;
  }

  static void WriteAll(int fd, std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }

  void Serve(int fd) {
    FakeRequest req;
    if (!ReadRequest(fd, req)) return;
    {
      std::lock_guard lock(mu_);
      log_.push_back(req);
    }
    FakeResponse resp = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                      std::string(http::ReasonPhrase(resp.status)) + "\r\n";
    bool has_length = false;
    for (const auto& [k, v] : resp.headers) {
      out += k + ": " + v + "\r\n";
      if (strcasecmp(k.c_str(), "content-length") == 0) has_length = true;
    }
    if (!has_length) out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
    out += "Connection: close\r\n\r\n";
    if (req.method != "HEAD") {
      out += resp.body.substr(0, std::min(resp.cut_after, resp.body.size()));
    }
    WriteAll(fd, out);
  }

  Handler handler_;
  UniqueFd listen_, stop_r_, stop_w_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<FakeRequest> log_;
};

}  // namespace husk::registry::testing
