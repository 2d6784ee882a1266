// Reading downloaded .debs without dpkg: the control member's metadata, and the
// data member unpacked into an image tree, optionally sliced (chisel-style) to
// the paths a spec keeps. Maintainer scripts are never run: assemble.h does
// what they would have done.
//
// A .deb is an ar archive: "debian-binary" ("2.0\n"), then control.tar and
// data.tar, each plain or compressed with gzip, xz or zstd (what Debian has
// built since 2000, 2010 and 2022). bzip2 and lzma data members, which dpkg
// can still read but nothing in the archive uses, are refused by name.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "debian/index.h"

namespace husk::build {

// The control member of a .deb. Fields are copied out of the text (deb822's
// Paragraph only points into a buffer) so the struct can be moved freely.
struct DebContents {
  struct ControlField {
    std::string name;
    std::string value;  // as deb822.h's Field::value: continuation lines kept raw
  };
  std::string control;  // ./control as shipped, the dpkg status paragraph's basis
  std::vector<ControlField> fields;
  std::string md5sums;  // ./md5sums as shipped ("hex  path" lines); may be empty
  std::vector<std::string>
      conffiles;  // absolute paths, flagged entries (remove-on-upgrade) left out

  // A field's value (name compared case-insensitively), "" when absent.
  std::string_view Get(std::string_view name) const;
  std::string_view name() const { return Get("Package"); }
  std::string_view version() const { return Get("Version"); }
  std::string_view architecture() const { return Get("Architecture"); }
};

// Reads the control member of the .deb at deb_path. Errors name the file:
// "libc6_2.36.deb: not a Debian package: first member is \"x\"".
Result<DebContents> ReadDeb(const std::string& deb_path);

// Which data.tar entries reach the tree. Paths are absolute ("/usr/bin/x").
// Globs: '*' and '?' stay within one path component, '**' crosses them.
//   - keep empty: everything is kept; else an entry is kept when a keep glob
//     matches it. A glob naming a directory keeps that directory entry only,
//     not its contents ("/usr/lib/x/**" keeps those). Directories are tried
//     with and without a trailing '/', so "/var/cache/x/" names the directory.
//   - the parent directories of kept entries are always kept (with the modes
//     and owners the package gives them).
//   - a drop glob removes what it matches after keep, and when it matches a
//     directory, everything below it as well.
//   - with keep_copyright, /usr/share/doc/*/copyright files (and symlinked
//     doc directories) are kept whatever keep and drop say: the licences of
//     what an image ships go with it, as in distroless.
struct ExtractFilter {
  std::vector<std::string> keep;
  std::vector<std::string> drop;
  bool keep_copyright = true;

  bool all() const { return keep.empty() && drop.empty(); }
};

// True when `path` matches `pattern` with the glob rules above.
bool GlobMatch(std::string_view pattern, std::string_view path);

// Unpacks the .deb's data member into target_dir (an image root: existing
// directories and directory symlinks there are merged into, as dpkg does, so
// with PrepareRoot's usrmerge links a package's /bin/x lands in /usr/bin/x).
// The archive is untrusted: it is first unpacked with archive::UnpackLayer into
// a staging directory inside target_dir (refusing names that climb out,
// confining symlinks and hardlinks, keeping modes, owners when root, and
// xattrs), then the kept entries are renamed into place, each parent resolved
// inside target_dir with openat2(RESOLVE_IN_ROOT). A later package's file
// replaces an earlier one's; a file where a non-empty directory is, is an
// error. On error, target_dir holds what was merged so far; the staging
// directory is always removed.
struct ExtractedData {
  // The kept non-directory paths as the package names them ("/bin/x"), sorted:
  // what its md5sums and SBOM entries are matched against.
  std::vector<std::string> files;
  // Every kept entry, directories included, where it landed: relative to
  // target_dir with symlinked parents resolved ("usr/bin/x" for "/bin/x"
  // through usrmerge's /bin link), in path order. A directory
  // merged through a symlink (the package's /bin) is not listed. What
  // by-package layering (layering.h) cuts the tree along.
  std::vector<std::string> landed;
};
Result<ExtractedData> ExtractDebData(const std::string& deb_path, const std::string& target_dir,
                                     const ExtractFilter& filter = {});

// A package as it went into the tree, for AssembleTree and the SBOMs.
struct InstalledPackage {
  const debian::Package* pkg = nullptr;  // the index entry it was resolved to
  std::string deb_path;
  DebContents contents;
  std::vector<std::string> files;   // ExtractedData::files
  std::vector<std::string> landed;  // ExtractedData::landed
  bool sliced = false;              // installed through a keep/drop filter
};

}  // namespace husk::build
