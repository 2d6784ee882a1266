#include "build/assemble.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "archive/tree.h"
#include "base/fs.h"
#include "base/strings.h"
#include "build/assemble_internal.h"

namespace husk::build {

namespace internal {

namespace {

using archive::internal::CleanEntryPath;
using archive::internal::FdPath;
using archive::internal::OpenInRoot;
using archive::internal::RemoveAt;
using archive::internal::SplitParent;

Result<std::string> ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoErr("read");
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

bool Missing(int err) {
  return err == ENOENT || err == ENOTDIR || err == ELOOP;
}

}  // namespace

Status ChownIfRoot(int dirfd, const char* name, uid_t uid, gid_t gid, int flags) {
  if (::geteuid() != 0) return Ok();
  if (::fchownat(dirfd, name, uid, gid, flags) != 0) return ErrnoErr("chown {}:{}", uid, gid);
  return Ok();
}

Result<RootFs> RootFs::Open(const std::string& dir) {
  RootFs r;
  r.dir_ = dir;
  r.fd_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!r.fd_) return ErrnoErr("open {}", dir);
  return r;
}

Result<std::string> RootFs::Rel(std::string_view path) {
  auto rel = CleanEntryPath(path);
  if (!rel) return Err("{}: climbs out of the root", path);
  return *rel;
}

Result<std::pair<UniqueFd, std::string>> RootFs::Parent(std::string_view path, bool create) const {
  std::string rel = TRY(Rel(path));
  if (rel.empty()) return Err("/: is the root");
  auto [parent, base] = SplitParent(rel);
  std::string p = parent.empty() ? "." : std::string(parent);
  int fd = OpenInRoot(fd_.get(), p.c_str(), O_PATH | O_DIRECTORY);
  if (fd == -ENOENT && create) {
    TRY(MkdirAll(p));
    fd = OpenInRoot(fd_.get(), p.c_str(), O_PATH | O_DIRECTORY);
  }
  if (fd < 0) return CodeErr(-fd, "/{}", parent);
  return std::pair{UniqueFd(fd), std::string(base)};
}

Result<std::optional<struct stat>> RootFs::Lstat(std::string_view path) const {
  std::string rel = TRY(Rel(path));
  struct stat st;
  if (rel.empty()) {
    if (::fstat(fd_.get(), &st) != 0) return ErrnoErr("stat /");
    return std::optional(st);
  }
  auto parent = Parent(path, false);
  if (!parent.ok()) {
    if (Missing(parent.error().code)) return std::optional<struct stat>();
    return std::move(parent).error();
  }
  auto& [pfd, base] = *parent;
  if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (Missing(errno)) return std::optional<struct stat>();
    return ErrnoErr("stat /{}", rel);
  }
  return std::optional(st);
}

Result<std::optional<struct stat>> RootFs::Stat(std::string_view path) const {
  std::string rel = TRY(Rel(path));
  int fd = OpenInRoot(fd_.get(), rel.empty() ? "." : rel.c_str(), O_PATH);
  if (Missing(-fd)) return std::optional<struct stat>();
  if (fd < 0) return CodeErr(-fd, "open /{}", rel);
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoErr("stat /{}", rel);
  return std::optional(st);
}

Result<std::string> RootFs::ReadFile(std::string_view path) const {
  std::string rel = TRY(Rel(path));
  int fd = OpenInRoot(fd_.get(), rel.c_str(), O_RDONLY);
  if (fd < 0) return CodeErr(-fd, "open /{}", rel);
  UniqueFd owned(fd);
  return TRY_CTX(ReadAll(fd), "/{}", rel);
}

Result<std::vector<std::string>> RootFs::List(std::string_view path) const {
  std::string rel = TRY(Rel(path));
  int fd = OpenInRoot(fd_.get(), rel.empty() ? "." : rel.c_str(), O_RDONLY | O_DIRECTORY);
  if (Missing(-fd)) return std::vector<std::string>();
  if (fd < 0) return CodeErr(-fd, "open /{}", rel);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return ErrnoErr("open /{}", rel);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status RootFs::MkdirAll(std::string_view path, mode_t mode, uid_t uid, gid_t gid) const {
  std::string rel = TRY(Rel(path));
  if (rel.empty()) return Ok();
  // Each prefix is resolved from the root again, so a symlink met on the way
  // stays inside; each missing one is made in its resolved parent.
  UniqueFd parent(::dup(fd_.get()));
  if (!parent) return ErrnoErr("dup");
  for (size_t i = 0;;) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string prefix = rel.substr(0, j);
    int fd = OpenInRoot(fd_.get(), prefix.c_str(), O_PATH | O_DIRECTORY);
    if (fd == -ENOENT) {
      std::string name = rel.substr(i, j - i);
      if (::mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST)
        return ErrnoErr("create directory /{}", prefix);
      TRY_CTX(ChownIfRoot(parent.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW), "/{}",
              prefix);
      // Set after the chown (which may clear setgid) and free of the umask.
      if (::fchmodat(parent.get(), name.c_str(), mode, 0) != 0)
        return ErrnoErr("chmod /{}", prefix);
      fd = OpenInRoot(fd_.get(), prefix.c_str(), O_PATH | O_DIRECTORY);
    }
    if (fd < 0) return CodeErr(-fd, "open directory /{}", prefix);
    parent.reset(fd);
    if (j == rel.size()) return Ok();
    i = j + 1;
  }
}

Status RootFs::WriteFile(std::string_view path, std::string_view data, mode_t mode, uid_t uid,
                         gid_t gid) {
  auto [pfd, base] = TRY(Parent(path, true));
  std::string shown = "/" + TRY(Rel(path));
  struct stat st;
  if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return CodeErr(EISDIR, "write {}", shown);
    if (::unlinkat(pfd.get(), base.c_str(), 0) != 0) return ErrnoErr("replace {}", shown);
  }
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(pfd.get(), base.c_str(), kFlags, 0600));
  if (!fd) return ErrnoErr("create {}", shown);
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoErr("write {}", shown);
    data.remove_prefix(static_cast<size_t>(n));
  }
  TRY_CTX(ChownIfRoot(fd.get(), "", uid, gid, AT_EMPTY_PATH), "{}", shown);
  if (::fchmod(fd.get(), mode) != 0) return ErrnoErr("chmod {}", shown);
  return Ok();
}

Status RootFs::Symlink(std::string_view path, std::string_view target, uid_t uid, gid_t gid) {
  auto [pfd, base] = TRY(Parent(path, true));
  std::string shown = "/" + TRY(Rel(path));
  struct stat st;
  if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
    if (::unlinkat(pfd.get(), base.c_str(), flags) != 0) return ErrnoErr("replace {}", shown);
  }
  if (::symlinkat(std::string(target).c_str(), pfd.get(), base.c_str()) != 0)
    return ErrnoErr("create symlink {}", shown);
  // The link's own owner, not its target's.
  return ChownIfRoot(pfd.get(), base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW).wrap(shown);
}

Status RootFs::SetMeta(std::string_view path, mode_t mode, uid_t uid, gid_t gid) {
  std::string rel = TRY(Rel(path));
  int fd = OpenInRoot(fd_.get(), rel.empty() ? "." : rel.c_str(), O_PATH);
  if (fd < 0) return CodeErr(-fd, "/{}", rel);
  UniqueFd owned(fd);
  TRY_CTX(ChownIfRoot(fd, "", uid, gid, AT_EMPTY_PATH), "/{}", rel);
  // An O_PATH fd takes no fchmod; its /proc path does.
  if (::chmod(FdPath(fd).c_str(), mode) != 0) return ErrnoErr("chmod /{}", rel);
  return Ok();
}

Status RootFs::Remove(std::string_view path) {
  auto parent = Parent(path, false);
  if (!parent.ok()) {
    if (Missing(parent.error().code)) return Ok();
    return std::move(parent).error();
  }
  auto& [pfd, base] = *parent;
  return RemoveAt(pfd.get(), base).wrap("remove " + std::string(path));
}

}  // namespace internal

namespace {

using internal::RootFs;

// The directories debootstrap links into /usr for a merged-/usr system
// (setup_merged_usr), beyond bin, sbin and lib.
std::vector<std::string> MergedLibDirs(const std::string& arch) {
  static const std::map<std::string, std::vector<std::string>> kDirs = {
      {"amd64", {"lib32", "lib64", "libx32"}},
      {"i386", {"lib64", "libx32"}},
      {"mips64el", {"lib32", "lib64", "libo32"}},
      {"ppc64el", {"lib64"}},
      {"s390x", {"lib32"}},
  };
  auto it = kDirs.find(arch);
  return it == kDirs.end() ? std::vector<std::string>() : it->second;
}

Status BaseDirs(RootFs& root) {
  for (const char* tmp : {"/tmp", "/var/tmp"}) {
    TRY(root.MkdirAll(tmp, 01777));
    TRY(root.SetMeta(tmp, 01777, 0, 0));
  }
  TRY(root.MkdirAll("/root", 0700));
  TRY(root.SetMeta("/root", 0700, 0, 0));
  TRY(root.MkdirAll("/home", 0755));
  return Ok();
}

// "hex  path" lines of the package's files still in the tree.
std::string FilterMd5sums(RootFs& root, const InstalledPackage& p) {
  std::set<std::string_view> kept;
  for (const auto& f : p.files) kept.insert(f);
  std::string out;
  for (const auto& line : strings::Split(p.contents.md5sums, '\n')) {
    size_t sep = line.find("  ");
    if (sep == std::string::npos) continue;
    std::string path = "/" + line.substr(sep + 2);
    if (p.sliced && !kept.count(path)) continue;
    auto st = root.Lstat(path);
    if (!st.ok() || !*st) continue;
    out += line;
    out += '\n';
  }
  return out;
}

Status WriteStatusD(RootFs& root, const std::vector<InstalledPackage>& pkgs) {
  std::map<std::string, int> names;
  for (const auto& p : pkgs) names[std::string(p.contents.name())]++;
  TRY(root.MkdirAll("/var/lib/dpkg/status.d"));
  for (const auto& p : pkgs) {
    std::string name(p.contents.name());
    // Two architectures of one package (libc6:amd64, libc6:i386) need two files.
    if (names[name] > 1) name += ":" + std::string(p.contents.architecture());
    std::string dir = "/var/lib/dpkg/status.d/";
    TRY(root.WriteFile(dir + name, StatusParagraph(p.contents)));
    std::string md5 = FilterMd5sums(root, p);
    if (!md5.empty()) TRY(root.WriteFile(dir + name + ".md5sums", md5));
  }
  return Ok();
}

Status DropDocs(RootFs& root) {
  const std::string doc = "/usr/share/doc";
  for (const auto& pkg : TRY(root.List(doc))) {
    std::string p = doc + "/" + pkg;
    auto st = TRY(root.Lstat(p));
    // A symlink to another package's doc directory (libgcc-s1 -> gcc-12-base)
    // is how that package's copyright is found.
    if (!st || S_ISLNK(st->st_mode)) continue;
    if (!S_ISDIR(st->st_mode)) {
      TRY(root.Remove(p));
      continue;
    }
    bool kept = false;
    for (const auto& name : TRY(root.List(p))) {
      if (name == "copyright") {
        kept = true;
        continue;
      }
      TRY(root.Remove(p + "/" + name));
    }
    if (!kept) TRY(root.Remove(p));
  }
  for (const char* d : {"/usr/share/doc-base", "/usr/share/lintian", "/usr/share/linda"})
    TRY(root.Remove(d));
  return Ok();
}

Status DropLocales(RootFs& root) {
  const std::string dir = "/usr/share/locale";
  for (const auto& name : TRY(root.List(dir))) {
    if (name == "C.UTF-8" || name == "C.utf8") continue;
    std::string p = dir + "/" + name;
    auto st = TRY(root.Lstat(p));
    if (st && S_ISDIR(st->st_mode)) TRY(root.Remove(p));
  }
  return Ok();
}

Status Drops(RootFs& root, const BuildSpec& spec) {
  if (spec.drop_docs) TRY(DropDocs(root));
  if (spec.drop_man) {
    TRY(root.Remove("/usr/share/man"));
    TRY(root.Remove("/usr/share/info"));
  }
  if (spec.drop_locales) TRY(DropLocales(root));
  for (const auto& name : TRY(root.List("/var/cache/debconf")))
    TRY(root.Remove("/var/cache/debconf/" + name));
  return Ok();
}

Status ApplyPath(RootFs& root, const PathEntry& e) {
  mode_t mode = e.mode & 07777;
  switch (e.type) {
    case PathEntry::Type::kDirectory: {
      auto st = TRY(root.Stat(e.path));
      if (st && !S_ISDIR(st->st_mode)) return CodeErr(ENOTDIR, "exists");
      TRY(root.MkdirAll(e.path, mode, e.uid, e.gid));
      return root.SetMeta(e.path, mode, e.uid, e.gid);
    }
    case PathEntry::Type::kFile:
      return root.WriteFile(e.path, e.content, mode, e.uid, e.gid);
    case PathEntry::Type::kSymlink: {
      if (e.target.empty()) return Err("no symlink target");
      return root.Symlink(e.path, e.target, e.uid, e.gid);
    }
    case PathEntry::Type::kPermissions: {
      auto st = TRY(root.Stat(e.path));
      if (!st) return CodeErr(ENOENT, "does not exist");
      return root.SetMeta(e.path, mode, e.uid, e.gid);
    }
  }
  return Err("unknown path type");
}

std::string ImageArch(const std::vector<InstalledPackage>& pkgs) {
  for (const auto& p : pkgs) {
    std::string a = p.pkg ? p.pkg->architecture : std::string(p.contents.architecture());
    if (!a.empty() && a != "all") return a;
  }
  return HostDebianArch();
}

}  // namespace

Status PrepareRoot(const std::string& root_dir, const std::string& arch) {
  TRY(fs::MkdirAll(root_dir, 0755).wrap("prepare root"));
  auto root = TRY(RootFs::Open(root_dir).wrap("prepare root"));
  std::vector<std::string> dirs = {"bin", "sbin", "lib"};
  for (auto& d : MergedLibDirs(arch)) dirs.push_back(d);
  for (const auto& d : dirs) {
    TRY_CTX(root.MkdirAll("/usr/" + d), "prepare root");
    std::string link = "/" + d;
    std::string target = "usr/" + d;
    auto st = TRY_CTX(root.Lstat(link), "prepare root");
    if (st && S_ISLNK(st->st_mode)) {
      char buf[256];
      ssize_t n = ::readlinkat(root.fd(), d.c_str(), buf, sizeof buf);
      if (n >= 0 && std::string_view(buf, static_cast<size_t>(n)) == target) continue;
    }
    if (st && S_ISDIR(st->st_mode) && !TRY(root.List(link)).empty())
      return Err("prepare root: {} is a directory, not the usrmerge link to {}", link, target);
    TRY_CTX(root.Symlink(link, target), "prepare root");
  }
  for (const char* d : {"/etc", "/var/lib/dpkg", "/usr/share"})
    TRY_CTX(root.MkdirAll(d), "prepare root");
  return Ok();
}

Status AssembleTree(const std::string& root_dir, const BuildSpec& spec,
                    const std::vector<InstalledPackage>& pkgs) {
  auto root = TRY(RootFs::Open(root_dir).wrap("assemble"));
  TRY_CTX(BaseDirs(root), "assemble");
  TRY_CTX(internal::WriteAccounts(root, spec.accounts), "assemble: accounts");
  TRY_CTX(internal::WriteNsswitch(root), "assemble");
  TRY_CTX(internal::WriteOsRelease(root, spec), "assemble");
  TRY_CTX(internal::WriteCaBundle(root), "assemble: CA bundle");
  TRY_CTX(Drops(root, spec), "assemble: drop docs");
  TRY_CTX(internal::UpdateLdCache(root, ImageArch(pkgs)), "assemble: ld.so cache");
  TRY_CTX(WriteStatusD(root, pkgs), "assemble: dpkg status");
  for (size_t i = 0; i < spec.paths.size(); i++)
    TRY_CTX(ApplyPath(root, spec.paths[i]), "assemble: paths[{}] {}", i, spec.paths[i].path);
  return Ok();
}

std::string StatusParagraph(const DebContents& deb) {
  std::string out;
  bool added = deb.Get("Status").size() > 0;
  for (const auto& line : strings::Split(deb.control, '\n')) {
    if (strings::Trim(line).empty()) continue;  // one paragraph: no blank lines
    out += line;
    out += '\n';
    if (!added && strings::StartsWith(line, "Package:")) {
      out += "Status: install ok installed\n";
      added = true;
    }
  }
  if (!added) out = "Status: install ok installed\n" + out;
  return out;
}

std::string HostDebianArch() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  static const std::map<std::string_view, std::string> kArch = {
      {"x86_64", "amd64"},        {"aarch64", "arm64"},   {"armv7l", "armhf"},
      {"i686", "i386"},           {"i386", "i386"},       {"ppc64le", "ppc64el"},
      {"s390x", "s390x"},         {"riscv64", "riscv64"}, {"mips64", "mips64el"},
      {"loongarch64", "loong64"},
  };
  auto it = kArch.find(u.machine);
  return it == kArch.end() ? "" : it->second;
}

}  // namespace husk::build
