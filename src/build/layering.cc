#include "build/layering.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/unique_fd.h"

namespace husk::build {
namespace {

using Tree = std::map<std::string, struct stat>;

std::string JoinRel(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

// Every entry below dirfd by relative path, never following a symlink.
Status WalkInto(int dirfd, const std::string& rel, const std::string& shown, Tree& out) {
  UniqueFd dup(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return ErrnoErr("dup");
  DIR* d = ::fdopendir(dup.get());
  if (!d) return ErrnoErr("open directory {}/{}", shown, rel);
  dup.release();
  std::vector<std::string> dirs;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      ::closedir(d);
      return ErrnoErr("stat {}/{}", shown, JoinRel(rel, n));
    }
    out[JoinRel(rel, n)] = st;
    if (S_ISDIR(st.st_mode)) dirs.emplace_back(n);
  }
  int fd = ::dirfd(d);
  for (const auto& n : dirs) {
    UniqueFd child(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) {
      ::closedir(d);
      return ErrnoErr("open directory {}/{}", shown, JoinRel(rel, n));
    }
    auto st = WalkInto(child.get(), JoinRel(rel, n), shown, out);
    if (!st.ok()) {
      ::closedir(d);
      return st;
    }
  }
  ::closedir(d);
  return Ok();
}

Result<Tree> WalkTree(const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoErr("open {}", root);
  Tree t;
  TRY(WalkInto(fd.get(), "", root, t));
  return t;
}

// Untouched since it was recorded: assembly's writes make new inodes with
// the current time as mtime, its chmods and chowns change mode and owner.
// (The ctime would catch more, but at the clock's coarse granularity it can
// also miss, and the plan must not depend on timing.)
bool Unchanged(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_mode == b.st_mode && a.st_uid == b.st_uid &&
         a.st_gid == b.st_gid && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// A layer in the making.
struct Cut {
  std::vector<int> packages;  // install indexes; empty: the generated layer
  std::set<std::string> paths;
  uint64_t bytes = 0;
  int64_t newest = -1;  // newest mtime of its packages' regular files; -1: none
};

void AddWithParents(std::set<std::string>& paths, const std::string& rel) {
  if (!paths.insert(rel).second) return;
  for (size_t s = rel.rfind('/'); s != std::string::npos; s = rel.rfind('/', s - 1)) {
    if (!paths.insert(rel.substr(0, s)).second || s == 0) break;
  }
}

TreeLayer Finish(const Cut& c, const PackageEntries& recorded) {
  TreeLayer l;
  l.paths.assign(c.paths.begin(), c.paths.end());  // a std::set is bytewise sorted
  if (c.newest >= 0) l.mtime = c.newest;
  if (c.packages.empty()) {
    l.comment = "files written by husk build";
  } else {
    for (int i : c.packages)
      l.comment += (l.comment.empty() ? "" : ", ") + recorded.packages[static_cast<size_t>(i)];
  }
  return l;
}

}  // namespace

Result<PackageEntries> RecordPackageEntries(const std::string& root,
                                            const std::vector<InstalledPackage>& pkgs) {
  auto tree = TRY_CTX(WalkTree(root), "layering");
  PackageEntries out;
  for (size_t i = 0; i < pkgs.size(); i++) {
    const auto& c = pkgs[i].contents;
    out.packages.push_back(fmt::format("{} {}", c.name(), c.version()));
    for (const auto& rel : pkgs[i].landed) {
      auto it = tree.find(rel);
      if (it == tree.end()) continue;  // a later package replaced a directory above it
      auto& e = out.entries[rel];
      e.st = it->second;
      e.dir = S_ISDIR(it->second.st_mode);
      if (!e.dir) {
        e.owner = static_cast<int>(i);  // the later package's copy is the one there
      } else if (e.shipped_by.empty() || e.shipped_by.back() != static_cast<int>(i)) {
        e.shipped_by.push_back(static_cast<int>(i));
      }
    }
  }
  return out;
}

Result<std::vector<TreeLayer>> PlanLayers(const std::string& root, const PackageEntries& recorded,
                                          int max_layers) {
  if (max_layers < 1) return Err("layering: max-layers {} is below 1", max_layers);
  auto tree = TRY_CTX(WalkTree(root), "layering");
  size_t n = recorded.packages.size();
  std::vector<Cut> own(n);
  std::vector<std::string> generated;
  std::vector<std::pair<std::string, const std::vector<int>*>> shipped_dirs;
  for (const auto& [rel, st] : tree) {
    auto it = recorded.entries.find(rel);
    const PackageEntries::Entry* e = it == recorded.entries.end() ? nullptr : &it->second;
    if (S_ISDIR(st.st_mode)) {
      if (e && e->dir) {
        shipped_dirs.emplace_back(rel, &e->shipped_by);
      } else {
        generated.push_back(rel);
      }
      continue;
    }
    if (!e || e->dir || e->owner < 0 || !Unchanged(e->st, st)) {
      generated.push_back(rel);
      continue;
    }
    Cut& c = own[static_cast<size_t>(e->owner)];
    AddWithParents(c.paths, rel);
    if (S_ISREG(st.st_mode)) {
      c.bytes += static_cast<uint64_t>(st.st_size);
      c.newest = std::max<int64_t>(c.newest, st.st_mtim.tv_sec);
    }
  }
  // Only packages with a non-directory in the tree get a layer; a directory
  // none of them shipped is generated.
  for (const auto& [rel, by] : shipped_dirs) {
    bool placed = false;
    for (int i : *by) {
      if (own[static_cast<size_t>(i)].paths.empty()) continue;
      AddWithParents(own[static_cast<size_t>(i)].paths, rel);
      placed = true;
    }
    if (!placed) generated.push_back(rel);
  }
  std::vector<int> layered;
  for (size_t i = 0; i < n; i++) {
    if (own[i].paths.empty()) continue;
    own[i].packages = {static_cast<int>(i)};
    layered.push_back(static_cast<int>(i));
  }
  size_t budget = static_cast<size_t>(max_layers) - (generated.empty() ? 0 : 1);
  if (max_layers == 1 || layered.empty()) return std::vector<TreeLayer>{TreeLayer{}};

  // Over budget: the largest keep their layers, the rest share the last one.
  std::vector<bool> alone(n, true);
  if (layered.size() > budget) {
    std::vector<int> by_size = layered;
    std::stable_sort(by_size.begin(), by_size.end(),
                     [&](int a, int b) { return own[a].bytes > own[b].bytes; });
    for (size_t k = budget - 1; k < by_size.size(); k++) alone[by_size[k]] = false;
  }
  std::vector<Cut> cuts;
  int shared = -1;  // index in cuts of the shared layer
  for (int i : layered) {
    Cut& c = own[static_cast<size_t>(i)];
    if (alone[i]) {
      cuts.push_back(std::move(c));
      continue;
    }
    if (shared < 0) {
      shared = static_cast<int>(cuts.size());
      cuts.emplace_back();
    }
    Cut& s = cuts[static_cast<size_t>(shared)];
    s.packages.push_back(i);
    s.paths.merge(c.paths);
    s.bytes += c.bytes;
    s.newest = std::max(s.newest, c.newest);
  }
  std::vector<TreeLayer> out;
  for (const auto& c : cuts) out.push_back(Finish(c, recorded));
  if (!generated.empty()) {
    Cut g;
    for (const auto& rel : generated) AddWithParents(g.paths, rel);
    out.push_back(Finish(g, recorded));  // no mtime: the image's epoch
  }
  return out;
}

}  // namespace husk::build
