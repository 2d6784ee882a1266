// husk.yaml: what an image built from Debian packages contains
// (docs/build-format.md). LoadBuildSpec reads and validates a file, follows
// `include:`, and reports errors as "FILE:LINE:COLUMN: message".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace husk::build {

struct Repository {
  std::string url;                      // "http://deb.debian.org/debian"
  std::vector<std::string> suites;      // "bookworm", "bookworm-updates"
  std::vector<std::string> components;  // "main"
  std::string keyring;                  // a .gpg keyring file; empty: the Debian archive keyring
};

// chisel-style: which files of a package to keep.
struct Slice {
  std::vector<std::string> keep;  // path globs ("/usr/bin/python3*", "/usr/lib/**"); empty: all
  std::vector<std::string> drop;  // globs removed after keep
};

struct PackageRequest {
  std::string name;  // as written: "python3", "libc6=2.36-9+deb12u10", "libc6:i386"
  std::optional<Slice> slice;
  // name split into its parts (validated): package[:arch][=version].
  std::string package;  // "libc6"
  std::string version;  // "2.36-9+deb12u10"; empty: the candidate the solver picks
  std::string arch;     // "i386"; empty: the image's architecture
  // `dependencies: false`: install the package alone, without its Depends and
  // Pre-Depends (ca-certificates and tzdata need debconf and perl only for their
  // maintainer scripts, which husk build does not run). Packages pulled in by
  // other requests are unaffected.
  bool follow_depends = true;
};

struct User {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;  // defaults to uid
  std::string home;  // defaults to /home/<name> (/root for uid 0)
  std::string shell = "/sbin/nologin";
};

struct Group {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

struct Accounts {
  // Complete after LoadBuildSpec, as distroless has them: the defaults root (0),
  // nonroot (65532, /home/nonroot) and nobody (65534, /nonexistent) come first
  // unless the file declares that name or id; gid and home defaults are filled in.
  std::vector<User> users;
  // Likewise root 0, tty 5, staff 50, nonroot 65532, nobody 65534; then the
  // file's groups; then a group named after each user whose gid no group has.
  std::vector<Group> groups;
  std::string run_as;  // "user[:group]", names or ids, as written; empty: root
  // run_as resolved against users (0:0 when run_as is empty).
  uint32_t run_as_uid = 0;
  uint32_t run_as_gid = 0;
};

struct PathEntry {
  enum class Type { kDirectory, kFile, kSymlink, kPermissions };
  Type type = Type::kDirectory;
  std::string path;
  std::string content;   // kFile
  std::string target;    // kSymlink (`source:` in husk.yaml, as in apko)
  uint32_t mode = 0755;  // defaults: directory 0755, file 0644, symlink 0777
  uint32_t uid = 0, gid = 0;
};

struct Layering {
  enum class Strategy { kSingle, kByPackage };
  Strategy strategy = Strategy::kSingle;
  int max_layers = 1;  // kByPackage: packages grouped into at most this many layers
};

struct BuildSpec {
  std::string source;                      // the file it was read from
  std::vector<std::string> includes;       // files merged in through `include:`, in merge order
  std::vector<Repository> repositories;    // empty: the machine's /etc/apt/sources.list.d/*.sources
  std::vector<std::string> architectures;  // empty: the host's ("amd64")
  std::vector<PackageRequest> packages;
  bool include_essential = false;
  Accounts accounts;
  std::map<std::string, std::string> environment;  // PATH is set unless the file sets it
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string workdir;
  std::vector<PathEntry> paths;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  Layering layering;
  // Dropped unless set to false: /usr/share/doc, man, info, locale (but C.UTF-8), lintian.
  bool drop_docs = true;
  bool drop_man = true;
  bool drop_locales = true;
};

// Reads path, merging `include:` files (the including file's values win;
// lists are concatenated, maps merged).
Result<BuildSpec> LoadBuildSpec(const std::string& path);
Result<BuildSpec> ParseBuildSpec(const std::string& yaml_text, const std::string& source_name);

}  // namespace husk::build
