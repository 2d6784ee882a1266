// Test-only helpers for deb_test.cc, assemble_test.cc and sbom_test.cc: real
// .debs built with dpkg-deb, and hand-made ones (an ar writer) for what
// dpkg-deb refuses to build.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "archive/test_util.h"
#include "base/fs.h"

namespace husk::build::testutil {

using archive::testutil::ReadAll;
using archive::testutil::Sh;
using archive::testutil::TempDir;

struct DebFile {
  std::string content;
  mode_t mode = 0644;
};

struct DebSpec {
  std::string name;
  std::string version = "1.0-1";
  std::string arch = "amd64";
  std::string extra_control;                    // more control lines, each ending in '\n'
  std::map<std::string, DebFile> files;         // "/usr/bin/x" -> content
  std::map<std::string, std::string> symlinks;  // "/usr/bin/y" -> "x"
  std::vector<std::string> dirs;                // empty directories
  std::vector<std::string> conffiles;
  std::string compression = "xz";  // dpkg-deb -Z
};

inline bool HaveDpkgDeb() {
  return Sh("command -v dpkg-deb >/dev/null 2>&1").first == 0;
}

// Builds the package with dpkg-deb (md5sums made with md5sum, as debhelper
// does) and returns the .deb's path.
inline std::string BuildDeb(const TempDir& tmp, const DebSpec& s) {
  std::string dir = tmp / ("src-" + s.name + "-" + s.compression);
  (void)fs::MkdirAll(dir + "/DEBIAN", 0755);
  std::string control = fmt::format(
      "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: Test Maintainers "
      "<test@example.org>\n{}Description: test package {}\n a longer\n .\n description\n",
      s.name, s.version, s.arch, s.extra_control, s.name);
  (void)fs::WriteFile(dir + "/DEBIAN/control", control);
  for (const auto& d : s.dirs) (void)fs::MkdirAll(dir + d, 0755);
  for (const auto& [path, f] : s.files) {
    std::string p = dir + path;
    (void)fs::MkdirAll(p.substr(0, p.rfind('/')), 0755);
    (void)fs::WriteFile(p, f.content);
    ::chmod(p.c_str(), f.mode);
  }
  for (const auto& [path, target] : s.symlinks) {
    std::string p = dir + path;
    (void)fs::MkdirAll(p.substr(0, p.rfind('/')), 0755);
    (void)::symlink(target.c_str(), p.c_str());
  }
  if (!s.conffiles.empty()) {
    std::string c;
    for (const auto& f : s.conffiles) c += f + "\n";
    (void)fs::WriteFile(dir + "/DEBIAN/conffiles", c);
  }
  Sh(fmt::format(
      "cd '{}' && find . -type f ! -path './DEBIAN/*' -printf '%P\\0' | LC_ALL=C sort -z "
      "| xargs -0 -r md5sum > DEBIAN/md5sums",
      dir));
  std::string out = tmp / fmt::format("{}_{}_{}-{}.deb", s.name, s.version, s.arch, s.compression);
  auto [rc, text] = Sh(fmt::format("dpkg-deb --root-owner-group -Z{} --build '{}' '{}' 2>&1",
                                   s.compression, dir, out));
  if (rc != 0) {
    fmt::print(stderr, "dpkg-deb failed: {}\n", text);
    return "";
  }
  return out;
}

// An ar archive of the given members, in order, as dpkg-deb lays them out.
inline std::string ArArchive(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out = "!<arch>\n";
  for (const auto& [name, data] : members) {
    out +=
        fmt::format("{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n", name, 0, 0, 0, "100644", data.size());
    out += data;
    if (data.size() % 2) out += '\n';
  }
  return out;
}

}  // namespace husk::build::testutil
