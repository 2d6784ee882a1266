#include "build/assemble.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/strings.h"
#include "build/deb_test_util.h"

namespace husk::build {
namespace {

using testutil::BuildDeb;
using testutil::DebSpec;
using testutil::ReadAll;
using testutil::TempDir;

struct stat Stat(const std::string& p) {
  struct stat st {};
  (void)::lstat(p.c_str(), &st);
  return st;
}

std::string Link(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  return n < 0 ? "<not a link>" : std::string(buf, static_cast<size_t>(n));
}

constexpr char kCertA[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
// No final newline: the bundle must add one.
constexpr char kCertB[] = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----";

// libc-like, ca-certificates-like and a sliced package, extracted and assembled.
class AssembleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::HaveDpkgDeb()) GTEST_SKIP() << "no dpkg-deb";
    root_ = tmp_ / "root";
    ASSERT_TRUE(PrepareRoot(root_, "amd64").ok());

    DebSpec base;
    base.name = "libfoo1";
    base.version = "2.36-9+deb12u10";
    base.extra_control = "Source: foo (2.36-9)\n";
    base.files["/lib/x86_64-linux-gnu/libfoo.so.1"] = {"elf"};
    base.files["/bin/foo"] = {"#!/bin/sh\n", 0755};
    base.files["/usr/share/doc/libfoo1/copyright"] = {"Files: *\nLicense: LGPL-2.1+\n"};
    base.files["/usr/share/doc/libfoo1/changelog.Debian.gz"] = {"log"};
    base.files["/usr/share/doc/libfoo1/NEWS"] = {"news"};
    base.files["/usr/share/man/man1/foo.1.gz"] = {"man"};
    base.files["/usr/share/info/foo.info.gz"] = {"info"};
    base.files["/usr/share/locale/de/LC_MESSAGES/foo.mo"] = {"de"};
    base.files["/usr/share/locale/C.UTF-8/LC_MESSAGES/foo.mo"] = {"c"};
    base.files["/usr/share/locale/locale.alias"] = {"alias"};
    base.files["/usr/share/lintian/overrides/libfoo1"] = {"o"};
    base.symlinks["/usr/share/doc/libfoo-bin"] = "libfoo1";
    base.compression = "xz";

    DebSpec ca;
    ca.name = "ca-certificates";
    ca.version = "20230311";
    ca.arch = "all";
    ca.files["/usr/share/ca-certificates/mozilla/B_Root.crt"] = {kCertB};
    ca.files["/usr/share/ca-certificates/mozilla/A_Root.crt"] = {kCertA};
    ca.files["/usr/share/ca-certificates/mozilla/README"] = {"not a cert"};
    ca.files["/usr/share/doc/ca-certificates/copyright"] = {"License: MPL-2.0\n"};
    ca.dirs.push_back("/etc/ssl/certs");
    ca.compression = "zstd";

    DebSpec big;
    big.name = "big";
    big.files["/usr/lib/big/keep.so"] = {"k"};
    big.files["/usr/lib/big/drop.so"] = {"d"};
    big.files["/usr/share/doc/big/copyright"] = {"License: Expat\n"};
    big.compression = "zstd";

    for (auto* s : {&base, &ca, &big}) {
      InstalledPackage p;
      p.deb_path = BuildDeb(tmp_, *s);
      ASSERT_FALSE(p.deb_path.empty());
      auto c = ReadDeb(p.deb_path);
      ASSERT_TRUE(c.ok()) << c.error().message();
      p.contents = std::move(*c);
      ExtractFilter f;
      if (s == &big) {
        f.keep = {"/usr/lib/big/keep.so"};
        p.sliced = true;
      }
      auto files = ExtractDebData(p.deb_path, root_, f);
      ASSERT_TRUE(files.ok()) << files.error().message();
      p.files = std::move(files->files);
      p.landed = std::move(files->landed);
      pkgs_.push_back(std::move(p));
    }
    spec_.repositories.push_back({"http://deb.debian.org/debian", {"bookworm"}, {"main"}, ""});
  }

  TempDir tmp_;
  std::string root_;
  BuildSpec spec_;
  std::vector<InstalledPackage> pkgs_;
};

TEST_F(AssembleTest, Tree) {
  spec_.accounts.users.push_back({"app", 1000, 1000, "", "/bin/sh"});
  spec_.accounts.groups.push_back({"shadow", 42, {}});
  spec_.accounts.groups.push_back({"audio", 29, {"app", "nonroot"}});
  PathEntry dir{PathEntry::Type::kDirectory, "/srv/data", "", "", 0750, 1000, 1000};
  PathEntry file{PathEntry::Type::kFile, "/etc/app/config.yaml", "a: 1\n", "", 0600, 1000, 0};
  PathEntry link{PathEntry::Type::kSymlink, "/usr/bin/app", "", "../lib/big/keep.so", 0777, 0, 0};
  PathEntry perm{PathEntry::Type::kPermissions, "/usr/lib/big/keep.so", "", "", 0700, 1000, 1000};
  spec_.paths = {dir, file, link, perm};
  auto st = AssembleTree(root_, spec_, pkgs_);
  ASSERT_TRUE(st.ok()) << st.error().message();

  EXPECT_EQ(ReadAll(root_ + "/etc/passwd"),
            "root:x:0:0:root:/root:/sbin/nologin\n"
            "app:x:1000:1000:app:/home/app:/bin/sh\n"
            "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
  EXPECT_EQ(ReadAll(root_ + "/etc/group"),
            "root:x:0:\n"
            "tty:x:5:\n"
            "audio:x:29:app,nonroot\n"
            "shadow:x:42:\n"
            "staff:x:50:\n"
            "app:x:1000:\n"
            "nonroot:x:65532:\n"
            "nobody:x:65534:\n");
  EXPECT_EQ(ReadAll(root_ + "/etc/shadow"),
            "root:*::0:99999:7:::\n"
            "app:*::0:99999:7:::\n"
            "nonroot:*::0:99999:7:::\n"
            "nobody:*::0:99999:7:::\n");
  EXPECT_EQ(Stat(root_ + "/etc/shadow").st_mode, S_IFREG | 0640);
  EXPECT_EQ(Stat(root_ + "/etc/passwd").st_mode, S_IFREG | 0644);
  if (::geteuid() == 0) {
    EXPECT_EQ(Stat(root_ + "/etc/shadow").st_gid, 42u);
    EXPECT_EQ(Stat(root_ + "/home/nonroot").st_uid, 65532u);
    EXPECT_EQ(Stat(root_ + "/home/app").st_gid, 1000u);
    EXPECT_EQ(Stat(root_ + "/srv/data").st_uid, 1000u);
  }
  EXPECT_EQ(Stat(root_ + "/home/nonroot").st_mode, S_IFDIR | 0700);
  EXPECT_FALSE(fs::Exists(root_ + "/nonexistent"));
  EXPECT_EQ(Stat(root_ + "/tmp").st_mode, S_IFDIR | 01777);
  EXPECT_EQ(Stat(root_ + "/var/tmp").st_mode, S_IFDIR | 01777);
  EXPECT_EQ(Stat(root_ + "/root").st_mode, S_IFDIR | 0700);

  // The CA bundle: the .crt files in path order, each ending in a newline.
  EXPECT_EQ(ReadAll(root_ + "/etc/ssl/certs/ca-certificates.crt"),
            std::string(kCertA) + kCertB + "\n");
  EXPECT_NE(ReadAll(root_ + "/etc/nsswitch.conf").find("hosts:          files dns\n"),
            std::string::npos);
  std::string os = ReadAll(root_ + "/etc/os-release");
  EXPECT_NE(os.find("VERSION_ID=\"12\"\n"), std::string::npos) << os;
  EXPECT_NE(os.find("ID=debian\n"), std::string::npos) << os;
  EXPECT_EQ(ReadAll(root_ + "/etc/debian_version"), "12\n");
  EXPECT_FALSE(fs::Exists(root_ + "/etc/ld.so.cache"));  // every library in a default dir

  // Docs: copyright files and doc links stay, the rest goes.
  EXPECT_EQ(*fs::ListDir(root_ + "/usr/share/doc/libfoo1"), std::vector<std::string>{"copyright"});
  EXPECT_EQ(Link(root_ + "/usr/share/doc/libfoo-bin"), "libfoo1");
  EXPECT_FALSE(fs::Exists(root_ + "/usr/share/man"));
  EXPECT_FALSE(fs::Exists(root_ + "/usr/share/info"));
  EXPECT_FALSE(fs::Exists(root_ + "/usr/share/lintian"));
  EXPECT_EQ(*fs::ListDir(root_ + "/usr/share/locale"),
            (std::vector<std::string>{"C.UTF-8", "locale.alias"}));

  // dpkg status as distroless has it.
  std::string status = ReadAll(root_ + "/var/lib/dpkg/status.d/libfoo1");
  EXPECT_TRUE(strings::StartsWith(status,
                                  "Package: libfoo1\nStatus: install ok installed\n"
                                  "Version: 2.36-9+deb12u10\nArchitecture: amd64\n"))
      << status;
  EXPECT_EQ(status.back(), '\n');
  EXPECT_EQ(status.find("\n\n"), std::string::npos);
  std::string md5 = ReadAll(root_ + "/var/lib/dpkg/status.d/libfoo1.md5sums");
  EXPECT_NE(md5.find("  bin/foo\n"), std::string::npos) << md5;
  EXPECT_NE(md5.find("  lib/x86_64-linux-gnu/libfoo.so.1\n"), std::string::npos);
  EXPECT_NE(md5.find("  usr/share/doc/libfoo1/copyright\n"), std::string::npos);
  EXPECT_EQ(md5.find("usr/share/man"), std::string::npos) << md5;
  EXPECT_EQ(md5.find("changelog"), std::string::npos) << md5;
  std::string big_md5 = ReadAll(root_ + "/var/lib/dpkg/status.d/big.md5sums");
  EXPECT_NE(big_md5.find("  usr/lib/big/keep.so\n"), std::string::npos) << big_md5;
  EXPECT_EQ(big_md5.find("drop.so"), std::string::npos) << big_md5;
  EXPECT_TRUE(fs::Exists(root_ + "/var/lib/dpkg/status.d/ca-certificates"));

  // spec.paths, last.
  EXPECT_EQ(Stat(root_ + "/srv/data").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(ReadAll(root_ + "/etc/app/config.yaml"), "a: 1\n");
  EXPECT_EQ(Stat(root_ + "/etc/app/config.yaml").st_mode, S_IFREG | 0600);
  EXPECT_EQ(Link(root_ + "/usr/bin/app"), "../lib/big/keep.so");
  EXPECT_EQ(Stat(root_ + "/usr/lib/big/keep.so").st_mode, S_IFREG | 0700);
}

TEST_F(AssembleTest, KeepsWhatPackagesShipAndDropsNothingWhenAsked) {
  // base-files' layout: the file in /usr/lib and a relative link in /etc.
  ASSERT_TRUE(fs::WriteFile(root_ + "/usr/lib/os-release", "ID=debian\nVERSION_ID=\"13\"\n").ok());
  ASSERT_EQ(::symlink("../usr/lib/os-release", (root_ + "/etc/os-release").c_str()), 0);
  ASSERT_TRUE(fs::WriteFile(root_ + "/etc/nsswitch.conf", "hosts: files\n").ok());
  spec_.drop_docs = spec_.drop_man = spec_.drop_locales = false;
  ASSERT_TRUE(AssembleTree(root_, spec_, pkgs_).ok());
  EXPECT_EQ(Link(root_ + "/etc/os-release"), "../usr/lib/os-release");
  EXPECT_EQ(ReadAll(root_ + "/etc/nsswitch.conf"), "hosts: files\n");
  EXPECT_TRUE(fs::Exists(root_ + "/usr/share/doc/libfoo1/NEWS"));
  EXPECT_TRUE(fs::Exists(root_ + "/usr/share/man/man1/foo.1.gz"));
  EXPECT_TRUE(fs::Exists(root_ + "/usr/share/locale/de/LC_MESSAGES/foo.mo"));
}

TEST_F(AssembleTest, WritesDoNotFollowPlantedSymlinks) {
  std::string outside = tmp_.Sub("host-etc");
  ASSERT_TRUE(fs::WriteFile(outside + "/passwd", "host\n").ok());
  ASSERT_EQ(::symlink((outside + "/passwd").c_str(), (root_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/", (root_ + "/etc/ssl/certs/ca-certificates.crt").c_str()), 0);
  ASSERT_TRUE(AssembleTree(root_, spec_, pkgs_).ok());
  EXPECT_EQ(ReadAll(outside + "/passwd"), "host\n");
  EXPECT_TRUE(S_ISREG(Stat(root_ + "/etc/passwd").st_mode));
  EXPECT_TRUE(S_ISREG(Stat(root_ + "/etc/ssl/certs/ca-certificates.crt").st_mode));

  BuildSpec bad = spec_;
  bad.paths.push_back({PathEntry::Type::kFile, "/../../escape", "x", "", 0644, 0, 0});
  auto st = AssembleTree(root_, bad, pkgs_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("climbs out of the root"), std::string::npos)
      << st.error().message();
  EXPECT_FALSE(fs::Exists(tmp_ / "escape"));
}

TEST_F(AssembleTest, LdCacheOnlyForExtraDirectories) {
  std::string ldconfig = fs::Exists("/sbin/ldconfig") ? "/sbin/ldconfig" : "/usr/sbin/ldconfig";
  if (!fs::Exists(ldconfig) || HostDebianArch() != "amd64" || ::geteuid() != 0)
    GTEST_SKIP() << "needs the host's ldconfig, amd64 and root (ldconfig -r chroots)";
  // A real shared library in a directory only ld.so.conf.d names.
  auto [rc, lib] = testutil::Sh(
      "ls /usr/lib/x86_64-linux-gnu/libz.so.1 /lib/x86_64-linux-gnu/libz.so.1 2>/dev/null | head "
      "-1");
  if (lib.empty()) GTEST_SKIP() << "no libz.so.1 on the host";
  lib = std::string(strings::Trim(lib));
  ASSERT_TRUE(fs::MkdirAll(root_ + "/opt/vendor/lib").ok());
  ASSERT_EQ(testutil::Sh(fmt::format("cp -L {} {}/opt/vendor/lib/libz.so.1", lib, root_)).first, 0);
  ASSERT_TRUE(fs::MkdirAll(root_ + "/etc/ld.so.conf.d").ok());
  ASSERT_TRUE(fs::WriteFile(root_ + "/etc/ld.so.conf.d/vendor.conf",
                            "# vendor\n/opt/vendor/lib\n/usr/lib/x86_64-linux-gnu\n")
                  .ok());
  auto st = AssembleTree(root_, spec_, pkgs_);
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string cache = ReadAll(root_ + "/etc/ld.so.cache");
  EXPECT_NE(cache.find("/opt/vendor/lib/libz.so.1"), std::string::npos);
  EXPECT_FALSE(fs::Exists(root_ + "/var/cache/ldconfig/aux-cache"));
}

TEST(PrepareRoot, UsrmergeLinks) {
  TempDir tmp;
  std::string root = tmp / "r";
  ASSERT_TRUE(PrepareRoot(root, "arm64").ok());
  EXPECT_EQ(Link(root + "/bin"), "usr/bin");
  EXPECT_EQ(Link(root + "/sbin"), "usr/sbin");
  EXPECT_EQ(Link(root + "/lib"), "usr/lib");
  EXPECT_FALSE(fs::Exists(root + "/lib64"));
  ASSERT_TRUE(PrepareRoot(root, "amd64").ok());  // again: fine, and lib64 appears
  EXPECT_EQ(Link(root + "/lib64"), "usr/lib64");
  EXPECT_TRUE(fs::IsDir(root + "/usr/lib64"));

  std::string other = tmp / "o";
  ASSERT_TRUE(fs::MkdirAll(other + "/bin").ok());
  ASSERT_TRUE(fs::WriteFile(other + "/bin/sh", "x").ok());
  auto st = PrepareRoot(other, "amd64");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "prepare root: /bin is a directory, not the usrmerge link to usr/bin");
}

TEST(Accounts, DefaultsAndOverrides) {
  Accounts a;
  auto r = ResolveAccounts(a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PasswdFile(*r),
            "root:x:0:0:root:/root:/sbin/nologin\n"
            "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n");
  // A spec user with a default's uid replaces it.
  a.users.push_back({"app", 65532, 65532, "/app", "/sbin/nologin"});
  r = ResolveAccounts(a);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(PasswdFile(*r).find("app:x:65532:65532:app:/app:/sbin/nologin\n"), std::string::npos);
  EXPECT_EQ(PasswdFile(*r).find("nonroot"), std::string::npos);

  Accounts bad;
  bad.users.push_back({"a:b", 5, 5, "", ""});
  EXPECT_EQ(ResolveAccounts(bad).error().message(), "user \"a:b\": ':' or newline");
  bad.users = {{"x", 7, 7, "", ""}, {"y", 7, 7, "", ""}};
  EXPECT_EQ(ResolveAccounts(bad).error().message(), "user \"y\": uid 7 used twice");
}

TEST(ResolveRunAs, Forms) {
  BuildSpec s;
  EXPECT_EQ(*ResolveRunAs(s), "");
  s.accounts.run_as = "nonroot";
  EXPECT_EQ(*ResolveRunAs(s), "65532:65532");
  s.accounts.run_as = "65532";
  EXPECT_EQ(*ResolveRunAs(s), "65532:65532");
  s.accounts.run_as = "root";
  EXPECT_EQ(*ResolveRunAs(s), "0:0");
  s.accounts.run_as = "1234";
  EXPECT_EQ(*ResolveRunAs(s), "1234:0");
  s.accounts.run_as = "nonroot:tty";
  EXPECT_EQ(*ResolveRunAs(s), "65532:5");
  s.accounts.users.push_back({"app", 1000, 100, "", ""});
  s.accounts.run_as = "app";
  EXPECT_EQ(*ResolveRunAs(s), "1000:100");
  s.accounts.run_as = "ghost";
  EXPECT_EQ(ResolveRunAs(s).error().message(), "run_as \"ghost\": no user \"ghost\"");
  s.accounts.run_as = "app:ghosts";
  EXPECT_EQ(ResolveRunAs(s).error().message(), "run_as \"app:ghosts\": no group \"ghosts\"");
}

TEST(StatusParagraph, AddsStatusAfterPackage) {
  DebContents c;
  c.control = "Package: a\nVersion: 1\nDescription: x\n y\n\n";
  EXPECT_EQ(StatusParagraph(c),
            "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: x\n y\n");
}

}  // namespace
}  // namespace husk::build
