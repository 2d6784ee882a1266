// `layering: {strategy: by-package, max-layers: N}`: the assembled tree cut
// into layers along the packages that put each entry there, so that images
// sharing a package share that package's layer digest.
//
//   RecordPackageEntries  after every package is extracted, before
//                         AssembleTree changes the tree: which package's entry
//                         is at each path (ExtractedData::landed), and how
//                         each non-directory looked then.
//   PlanLayers            after assembly and the SBOMs: every entry of the
//                         tree assigned to a layer.
//
// The rules:
//   - A non-directory goes to the last package (in install order) that
//     shipped it: its copy is the one in the tree, dpkg's "later wins". When
//     assembly replaced or changed it since (another inode, type, mode, owner,
//     size or mtime), or no package shipped it, it goes to the generated
//     layer. A non-directory is in exactly one layer; what assembly removed
//     (docs, man pages, locales) is in none.
//   - A directory goes to every package layer whose package shipped it; one
//     no such package shipped (the usrmerge skeleton, home directories,
//     status.d) to the generated layer.
//   - Every layer also holds the parent directories of its entries. A
//     directory in several layers has the tree's metadata in each, so the
//     merged view does not depend on the order of the layers.
//   - Package layers come in install order (dependencies first), then the
//     generated layer: accounts, os-release, the CA bundle, dpkg status.d,
//     SBOMs and `paths:` change no package layer.
//   - At most max_layers layers. When more packages have files than fit
//     beside the generated layer, the largest (bytes of regular files; the
//     earlier on a tie) keep layers of their own and the others share one,
//     placed where the first of them would be.
//   - A package layer's mtime is the newest mtime of its regular files, so
//     it depends on nothing but its packages; the generated layer takes the
//     image's epoch.
//   - A package none of whose non-directories is in the tree has no layer.
//   - max_layers 1, or a tree of generated entries only: one layer of the
//     whole tree, exactly what strategy single writes.
#pragma once

#include <sys/stat.h>

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "build/deb.h"
#include "build/image_writer.h"

namespace husk::build {

struct PackageEntries {
  struct Entry {
    bool dir = false;             // a directory when recorded
    int owner = -1;               // non-directory: the last package that shipped it
    std::vector<int> shipped_by;  // directory: every package that shipped it
    struct stat st {};            // as recorded
  };
  std::map<std::string, Entry> entries;  // by path relative to the root ("usr/bin/x")
  std::vector<std::string> packages;     // "libc6 2.36-9+deb12u10", by install index
};

// pkgs in install order, each with ExtractedData::landed filled in.
Result<PackageEntries> RecordPackageEntries(const std::string& root,
                                            const std::vector<InstalledPackage>& pkgs);

// The layers of the tree at root, bottom first. max_layers >= 1.
Result<std::vector<TreeLayer>> PlanLayers(const std::string& root, const PackageEntries& recorded,
                                          int max_layers);

}  // namespace husk::build
