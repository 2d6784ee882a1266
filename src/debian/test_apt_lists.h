// Tests only: reads the index files apt keeps in /var/lib/apt/lists, so tests
// can check the parsers against a real archive when the machine has one. apt
// stores them compressed (lz4 on Debian), and apt-helper's cat-file decompresses
// whatever apt wrote, so no compression library is needed here.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "base/fs.h"

namespace husk::debian::testing {

inline constexpr const char* kAptLists = "/var/lib/apt/lists";

// The contents of the first list file whose name ends in `suffix` (ignoring a
// compression extension), e.g. "dists_bookworm_main_binary-amd64_Packages";
// nullopt when there is none.
inline std::optional<std::string> ReadAptList(std::string_view suffix) {
  auto names = fs::ListDir(kAptLists);
  if (!names) return std::nullopt;
  for (const std::string& name : *names) {
    for (std::string_view ext : {"", ".lz4", ".xz", ".gz", ".zst"}) {
      std::string want = std::string(suffix) + std::string(ext);
      if (name.size() < want.size() || name.compare(name.size() - want.size(), want.size(), want))
        continue;
      std::string path = fs::Join(kAptLists, name);
      if (ext.empty()) {
        auto text = fs::ReadFile(path);
        return text ? std::optional<std::string>(*text) : std::nullopt;
      }
      if (access("/usr/lib/apt/apt-helper", X_OK) != 0) return std::nullopt;
      FILE* p = popen(("/usr/lib/apt/apt-helper cat-file '" + path + "'").c_str(), "r");
      if (!p) return std::nullopt;
      std::string out;
      char buf[1 << 16];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      if (pclose(p) != 0) return std::nullopt;
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace husk::debian::testing
