// `husk build`: husk.yaml → resolved packages (or husk.lock) → verified .debs →
// an assembled tree (no maintainer scripts) → SBOMs → one deterministic layer
// and config in the store. See docs/build-format.md.
#pragma once

#include <functional>
#include <string>

#include "base/result.h"
#include "build/image_writer.h"
#include "store/store.h"

namespace husk::build {

struct BuildOptions {
  std::string file = "husk.yaml";
  std::string name;         // -t; empty: localhost/<directory of the file>:latest
  std::string arch;         // --arch; empty: the spec's first, else the host's
  bool write_lock = false;  // --lock: (re)resolve and write husk.lock beside the file
  bool zstd = false;
  int jobs = 4;
  // Progress lines ("Fetching 12 packages", ...); null: silent.
  std::function<void(const std::string&)> log;
};

struct BuildResult {
  std::string name;
  WrittenImage image;
  size_t packages = 0;
  int64_t epoch = 0;
};

Result<BuildResult> Build(store::Store& st, const BuildOptions& o);

// Where the SBOMs live inside a built image.
inline constexpr const char* kSpdxPath = "/usr/share/sbom/husk.spdx.json";
inline constexpr const char* kCycloneDxPath = "/usr/share/sbom/husk.cdx.json";

// A file of an image, read from its unpacked layers (the top one that has it).
Result<std::string> ReadImageFile(const store::Store& st, const std::string& image,
                                  const std::string& path);

}  // namespace husk::build
