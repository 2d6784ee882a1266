// Helpers for the archive module's tests (header-only: the module's library
// is built from its non-test .cc files). Temp dirs, shell commands, crafted
// tarballs (libarchive's writer takes any name, ".." included) and a textual
// listing of a tree for comparisons.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/fs.h"
#include "digest/digest.h"

namespace husk::archive::testutil {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/husk-archive-test.XXXXXX";
    if (const char* t = ::getenv("TEST_TMPDIR")) tmpl = std::string(t) + "/husk-archive.XXXXXX";
    if (!::mkdtemp(tmpl.data())) ::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    // Tests make read-only directories; without root, they must be opened up first.
    if (::geteuid() != 0) (void)::system(("chmod -R u+rwX " + path_ + " 2>/dev/null").c_str());
    (void)fs::RemoveAll(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view rel) const { return fs::Join(path_, rel); }
  // A new, empty subdirectory.
  std::string Sub(std::string_view name) const {
    std::string p = *this / name;
    ::mkdir(p.c_str(), 0755);
    return p;
  }

 private:
  std::string path_;
};

// Runs a shell command; returns its exit status and stdout.
inline std::pair<int, std::string> Sh(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return {-1, out};
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int st = ::pclose(f);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline std::string ReadAll(const std::string& path) {
  auto r = fs::ReadFile(path);
  return r.ok() ? *r : std::string("<unreadable>");
}

// Builds a tar in memory with libarchive, names taken verbatim.
class TarBuilder {
 public:
  TarBuilder() {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_per_block(a_, 0);
    archive_write_open(a_, this, nullptr, Push, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }

  TarBuilder& File(const std::string& name, const std::string& data, mode_t mode = 0644,
                   std::map<std::string, std::string> xattrs = {}) {
    archive_entry* e = New(name, AE_IFREG, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    for (const auto& [k, v] : xattrs)
      archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    archive_write_header(a_, e);
    archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  TarBuilder& Dir(const std::string& name, mode_t mode = 0755) {
    return Plain(name, AE_IFDIR, mode);
  }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    archive_entry* e = New(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(e, target.c_str());
    return Write(e);
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = New(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    return Write(e);
  }
  TarBuilder& Node(const std::string& name, mode_t type, dev_t dev, mode_t mode = 0644) {
    archive_entry* e = New(name, type, mode);
    archive_entry_set_rdev(e, dev);
    return Write(e);
  }
  std::string Finish() {
    archive_write_close(a_);
    return out_;
  }

 private:
  archive_entry* New(const std::string& name, mode_t type, mode_t mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1600000000, 0);
    return e;
  }
  TarBuilder& Plain(const std::string& name, mode_t type, mode_t mode) {
    return Write(New(name, type, mode));
  }
  TarBuilder& Write(archive_entry* e) {
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  static la_ssize_t Push(struct archive*, void* p, const void* buf, size_t n) {
    static_cast<TarBuilder*>(p)->out_.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }

  struct archive* a_;
  std::string out_;
};

// Names of a tar's members in order, with a type letter: "f name", "d name/",
// "l name -> target", "h name => target", "c name 0:0".
inline std::vector<std::string> ListTar(const std::string& tar) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  archive_read_open_memory(a, tar.data(), tar.size());
  archive_entry* e;
  for (int r; (r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN;) {
    std::string n = archive_entry_pathname(e);
    if (archive_entry_hardlink(e))
      out.push_back("h " + n + " => " + archive_entry_hardlink(e));
    else if (archive_entry_filetype(e) == AE_IFDIR)
      out.push_back("d " + n);
    else if (archive_entry_filetype(e) == AE_IFLNK)
      out.push_back("l " + n + " -> " + archive_entry_symlink(e));
    else if (archive_entry_filetype(e) == AE_IFCHR)
      out.push_back(
          fmt::format("c {} {}:{}", n, major(archive_entry_rdev(e)), minor(archive_entry_rdev(e))));
    else
      out.push_back("f " + n);
  }
  archive_read_free(a);
  return out;
}

// One line per entry below `root`: path, type, mode, owner, size, mtime (s),
// symlink target or content digest, xattrs, and which earlier path shares
// its inode. Equal listings mean equal trees for what a layer carries.
inline std::vector<std::string> ListTree(const std::string& root, bool with_mtime = true) {
  std::vector<std::string> out;
  std::map<std::pair<dev_t, ino_t>, std::string> inodes;
  std::vector<std::string> stack{""};
  std::vector<std::string> all;
  while (!stack.empty()) {
    std::string rel = stack.back();
    stack.pop_back();
    auto names = fs::ListDir(fs::Join(root, rel));
    if (!names.ok()) continue;
    for (const auto& n : *names) {
      std::string child = rel.empty() ? n : rel + "/" + n;
      all.push_back(child);
      struct stat st;
      if (::lstat(fs::Join(root, child).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        stack.push_back(child);
    }
  }
  std::sort(all.begin(), all.end());
  for (const auto& rel : all) {
    std::string p = fs::Join(root, rel);
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::string line = fmt::format("{} {:o} {}:{}", rel, st.st_mode, st.st_uid, st.st_gid);
    if (S_ISREG(st.st_mode)) {
      line += fmt::format(" size={} {}", st.st_size, Sha256Of(ReadAll(p)).short_hex());
      auto [it, first] = inodes.try_emplace({st.st_dev, st.st_ino}, rel);
      if (!first) line += " link=" + it->second;
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t k = ::readlink(p.c_str(), t, sizeof t);
      line += " -> " + std::string(t, k > 0 ? static_cast<size_t>(k) : 0);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      line += fmt::format(" dev={}:{}", major(st.st_rdev), minor(st.st_rdev));
    }
    if (with_mtime && !S_ISLNK(st.st_mode)) line += fmt::format(" mtime={}", st.st_mtim.tv_sec);
    char names[4096];
    ssize_t k = ::llistxattr(p.c_str(), names, sizeof names);
    std::vector<std::string> xs;
    for (ssize_t i = 0; i < k;) {
      std::string name(names + i);
      i += static_cast<ssize_t>(name.size()) + 1;
      if (name == "security.selinux") continue;
      char v[1024];
      ssize_t vn = ::lgetxattr(p.c_str(), name.c_str(), v, sizeof v);
      xs.push_back(name + "=" + std::string(v, vn > 0 ? static_cast<size_t>(vn) : 0));
    }
    std::sort(xs.begin(), xs.end());
    for (const auto& x : xs) line += " " + x;
    out.push_back(line);
  }
  return out;
}

}  // namespace husk::archive::testutil
