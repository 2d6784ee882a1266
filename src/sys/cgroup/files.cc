// File helpers shared by the v1 and v2 managers.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup::internal {

Status Write(const std::string& dir, std::string_view file, std::string_view value) {
  std::string path = fs::Join(dir, file);
  // No O_CREAT/O_TRUNC: cgroupfs files exist or the controller isn't there, and a
  // created regular file would hide that.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoErr("write {} \"{}\"", path, value);
  for (;;) {
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n >= 0) break;
    if (errno == EINTR) continue;
    return ErrnoErr("write {} \"{}\"", path, value);
  }
  return Ok();
}

Result<std::string> Read(const std::string& dir, std::string_view file) {
  auto s = TRY(fs::ReadFile(fs::Join(dir, file)));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<uint64_t> ReadUint(const std::string& dir, std::string_view file) {
  auto s = TRY(Read(dir, file));
  if (s == "max") return UINT64_MAX;
  auto v = strings::ParseUint(strings::Trim(s));
  if (!v) {
    // v1 reports "-1"-ish limits on some kernels as a negative number.
    if (auto neg = strings::ParseInt(strings::Trim(s)); neg && *neg < 0) return UINT64_MAX;
    return Err("read {}: \"{}\" is not a number", fs::Join(dir, file), s);
  }
  return *v;
}

Result<std::map<std::string, uint64_t>> ReadKeyed(const std::string& dir, std::string_view file) {
  auto s = TRY(Read(dir, file));
  std::map<std::string, uint64_t> out;
  for (const auto& line : strings::Split(s, '\n')) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) continue;
    auto v = strings::ParseUint(strings::Trim(std::string_view(line).substr(sp + 1)));
    if (v) out[line.substr(0, sp)] = *v;
  }
  return out;
}

bool Has(const std::string& dir, std::string_view file) {
  return ::access(fs::Join(dir, file).c_str(), F_OK) == 0;
}

namespace {

// Sub-cgroup directory names of dir; an absent dir has none.
Result<std::vector<std::string>> SubDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return ErrnoErr("open {}", dir);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type == DT_DIR) out.emplace_back(n);
  }
  ::closedir(d);
  return out;
}

Status CollectPids(const std::string& dir, std::vector<pid_t>& out) {
  auto text = fs::ReadFile(fs::Join(dir, "cgroup.procs"));
  if (!text) {
    // The cgroup went away under us (the container exited): no pids there.
    if (text.error().code == ENOENT || text.error().code == ENODEV) return Ok();
    return std::move(text).error();
  }
  for (const auto& line : strings::Split(*text, '\n')) {
    if (auto v = strings::ParseInt(strings::Trim(line)); v && *v > 0)
      out.push_back(static_cast<pid_t>(*v));
  }
  for (const auto& sub : TRY(SubDirs(dir))) TRY(CollectPids(fs::Join(dir, sub), out));
  return Ok();
}

// Turns on every controller dir offers for its children. Failures are ignored one by
// one: a controller may be unavailable, or dir may hold processes (no internal
// processes rule), in which case writes for that controller fail later with a message
// naming the file.
void EnableControllers(const std::string& dir) {
  auto avail = Read(dir, "cgroup.controllers");
  if (!avail || strings::Trim(*avail).empty()) return;
  std::vector<std::string> plus;
  for (const auto& c : strings::Split(strings::Trim(*avail), ' '))
    if (!c.empty()) plus.push_back("+" + c);
  if (Write(dir, "cgroup.subtree_control", strings::Join(plus, " "))) return;
  for (const auto& p : plus) {
    if (auto st = Write(dir, "cgroup.subtree_control", p); !st)
      log::Debugf("cgroup: {}", st.error().message());
  }
}

}  // namespace

Status MkdirEnabling(const std::string& root, const std::string& path, bool* made_leaf) {
  // Controllers must be enabled in every ancestor's subtree_control for the leaf to
  // get their files; the leaf itself stays without, as it will hold processes.
  std::string cur = root;
  bool made = false;
  for (const auto& part : strings::Split(path, '/')) {
    if (part.empty()) continue;
    EnableControllers(cur);
    cur = fs::Join(cur, part);
    made = ::mkdir(cur.c_str(), 0755) == 0;
    if (!made && errno != EEXIST) return ErrnoErr("mkdir {}", cur);
  }
  if (made_leaf) *made_leaf = made;
  return Ok();
}

Status MkdirLeafFirst(const std::string& dir, bool* made) {
  *made = ::mkdir(dir.c_str(), 0755) == 0;
  if (*made || errno == EEXIST) return Ok();
  if (errno != ENOENT) return ErrnoErr("mkdir {}", dir);
  *made = true;
  return fs::MkdirAll(dir, 0755);
}

Result<std::vector<pid_t>> ReadPidsRecursive(const std::string& dir) {
  std::vector<pid_t> out;
  TRY(CollectPids(dir, out));
  return out;
}

Status RemoveCgroupDir(const std::string& dir) {
  // Most are empty leaves by now: one rmdir. A cgroup with sub-cgroups (or
  // processes still exiting) answers EBUSY.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Ok();
  if (errno != EBUSY) return ErrnoErr("rmdir {}", dir);
  for (const auto& sub : TRY(SubDirs(dir))) TRY(RemoveCgroupDir(fs::Join(dir, sub)));
  // Doubling waits, about 1.3 s in all: long enough for killed processes to be reaped.
  auto wait = std::chrono::milliseconds(10);
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Ok();
    if (errno != EBUSY || attempt == 7) return ErrnoErr("rmdir {}", dir);
    std::this_thread::sleep_for(wait);
    wait *= 2;
  }
}

Status WaitUntil(const std::function<Result<bool>()>& pred, std::chrono::milliseconds timeout,
                 std::string_view what) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto wait = std::chrono::microseconds(500);
  for (;;) {
    if (TRY(pred())) return Ok();
    if (std::chrono::steady_clock::now() >= deadline)
      return CodeErr(ETIMEDOUT, "{}: gave up after {} ms", what, timeout.count());
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, std::chrono::microseconds(20000));
  }
}

std::vector<std::string> HugePageSizes() {
  std::vector<std::string> out;
  auto entries = fs::ListDir("/sys/kernel/mm/hugepages");
  if (!entries) return out;
  for (const auto& e : *entries) {
    // hugepages-2048kB -> 2MB, hugepages-1048576kB -> 1GB
    if (!strings::StartsWith(e, "hugepages-")) continue;
    std::string_view num = std::string_view(e).substr(10);
    if (num.size() < 2 || num.substr(num.size() - 2) != "kB") continue;
    auto kb = strings::ParseUint(num.substr(0, num.size() - 2));
    if (!kb) continue;
    static const char* kUnits[] = {"KB", "MB", "GB", "TB", "PB"};
    uint64_t v = *kb;
    int u = 0;
    while (v >= 1024 && v % 1024 == 0 && u < 4) {
      v /= 1024;
      ++u;
    }
    out.push_back(std::to_string(v) + kUnits[u]);
  }
  return out;
}

Status SignalPids(Result<std::vector<pid_t>> pids, int signal) {
  if (!pids) return std::move(pids).error();
  for (pid_t p : *pids) {
    if (::kill(p, signal) != 0 && errno != ESRCH)
      return ErrnoErr("kill {} with signal {}", p, signal);
  }
  return Ok();
}

}  // namespace husk::cgroup::internal
