#include "build/spec.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace husk::build {
namespace {

// Parses text and returns the error line; "" when it parsed.
std::string ErrorOf(const std::string& yaml, const std::string& name = "t.yaml") {
  auto r = ParseBuildSpec(yaml, name);
  return r.ok() ? "" : r.error().message();
}

BuildSpec MustParse(const std::string& yaml) {
  auto r = ParseBuildSpec(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.error().message();
  return r.ok() ? *r : BuildSpec{};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/husk-spec-test-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)fs::RemoveAll(path_);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = fs::Join(path_, name);
    EXPECT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/'))).ok());
    EXPECT_TRUE(fs::WriteFile(p, text).ok());
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr const char* kFull = R"yaml(# every key
contents:
  repositories:
    - url: http://deb.debian.org/debian
      suites: [bookworm, bookworm-updates]
      components: [main, contrib]
      keyring: /usr/share/keyrings/debian-archive-keyring.gpg
    - url: https://security.debian.org/debian-security
      suites: [bookworm-security]
      keyring: keys/security.gpg
  packages:
    - base-files
    - libc6=2.36-9+deb12u10
    - libc6:i386
    - name: python3.11-minimal
      slice:
        keep: ["/usr/bin/python3*", "/usr/lib/python3.11/**"]
        drop: ["**/__pycache__/**"]
    - {name: tzdata, dependencies: false}
  essential: true
archs: [amd64, arm64]
accounts:
  users:
    - {name: app, uid: 1000, gid: 1001, home: /srv/app, shell: /bin/sh}
    - {name: svc, uid: 1002}
  groups:
    - {name: app, gid: 1001, members: [app, nonroot]}
  run-as: app
environment: {PATH: "/usr/local/bin:/usr/bin:/bin", LANG: C.UTF-8}
entrypoint: ["/usr/bin/python3"]
cmd: ["-c", "print(1)"]
work-dir: /srv/app
paths:
  - {path: /data, type: directory, uid: 65532, gid: 65532, permissions: 0o750}
  - {path: /etc/motd, type: file, content: "hi\n", permissions: 0o600}
  - {path: /usr/bin/python, type: symlink, source: python3}
  - {path: /tmp, type: permissions, permissions: 0o1777}
  - {path: /etc/hostname, type: file}
annotations: {org.opencontainers.image.source: "https://example.com"}
labels: {maintainer: me, version: 1}
layering: {strategy: by-package, max-layers: 4}
options: {docs: keep, man: drop, locales: keep}
)yaml";

TEST(BuildSpec, FullExample) {
  auto r = ParseBuildSpec(kFull, "dir/husk.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const BuildSpec& s = *r;
  EXPECT_EQ(s.source, "dir/husk.yaml");
  EXPECT_TRUE(s.includes.empty());

  ASSERT_EQ(s.repositories.size(), 2u);
  EXPECT_EQ(s.repositories[0].url, "http://deb.debian.org/debian");
  EXPECT_EQ(s.repositories[0].suites, (std::vector<std::string>{"bookworm", "bookworm-updates"}));
  EXPECT_EQ(s.repositories[0].components, (std::vector<std::string>{"main", "contrib"}));
  EXPECT_EQ(s.repositories[0].keyring, "/usr/share/keyrings/debian-archive-keyring.gpg");
  EXPECT_EQ(s.repositories[1].components, (std::vector<std::string>{"main"}));  // default
  EXPECT_EQ(s.repositories[1].keyring, "dir/keys/security.gpg");  // relative to the file

  ASSERT_EQ(s.packages.size(), 5u);
  EXPECT_EQ(s.packages[0].name, "base-files");
  EXPECT_EQ(s.packages[0].package, "base-files");
  EXPECT_TRUE(s.packages[0].version.empty());
  EXPECT_FALSE(s.packages[0].slice);
  EXPECT_TRUE(s.packages[0].follow_depends);
  EXPECT_EQ(s.packages[1].name, "libc6=2.36-9+deb12u10");
  EXPECT_EQ(s.packages[1].package, "libc6");
  EXPECT_EQ(s.packages[1].version, "2.36-9+deb12u10");
  EXPECT_EQ(s.packages[2].package, "libc6");
  EXPECT_EQ(s.packages[2].arch, "i386");
  EXPECT_EQ(s.packages[3].package, "python3.11-minimal");
  ASSERT_TRUE(s.packages[3].slice);
  EXPECT_EQ(s.packages[3].slice->keep,
            (std::vector<std::string>{"/usr/bin/python3*", "/usr/lib/python3.11/**"}));
  EXPECT_EQ(s.packages[3].slice->drop, (std::vector<std::string>{"**/__pycache__/**"}));
  EXPECT_EQ(s.packages[4].package, "tzdata");
  EXPECT_FALSE(s.packages[4].follow_depends);
  EXPECT_TRUE(s.include_essential);
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"amd64", "arm64"}));

  // distroless's accounts by default, then the file's.
  ASSERT_EQ(s.accounts.users.size(), 5u);
  EXPECT_EQ(s.accounts.users[0].name, "root");
  EXPECT_EQ(s.accounts.users[0].home, "/root");
  EXPECT_EQ(s.accounts.users[1].name, "nonroot");
  EXPECT_EQ(s.accounts.users[1].uid, 65532u);
  EXPECT_EQ(s.accounts.users[1].gid, 65532u);
  EXPECT_EQ(s.accounts.users[1].home, "/home/nonroot");
  EXPECT_EQ(s.accounts.users[2].name, "nobody");
  EXPECT_EQ(s.accounts.users[2].home, "/nonexistent");
  const User& app = s.accounts.users[3];
  EXPECT_EQ(app.name, "app");
  EXPECT_EQ(app.uid, 1000u);
  EXPECT_EQ(app.gid, 1001u);
  EXPECT_EQ(app.home, "/srv/app");
  EXPECT_EQ(app.shell, "/bin/sh");
  const User& svc = s.accounts.users[4];
  EXPECT_EQ(svc.gid, 1002u);  // gid defaults to uid
  EXPECT_EQ(svc.home, "/home/svc");
  EXPECT_EQ(svc.shell, "/sbin/nologin");
  std::vector<std::string> groups;
  for (const Group& g : s.accounts.groups) groups.push_back(fmt::format("{}:{}", g.name, g.gid));
  // svc's gid had no group: it gets one of its own, as useradd would make.
  EXPECT_EQ(groups, (std::vector<std::string>{"root:0", "tty:5", "staff:50", "nonroot:65532",
                                              "nobody:65534", "app:1001", "svc:1002"}));
  EXPECT_EQ(s.accounts.groups[5].members, (std::vector<std::string>{"app", "nonroot"}));
  EXPECT_EQ(s.accounts.run_as, "app");
  EXPECT_EQ(s.accounts.run_as_uid, 1000u);
  EXPECT_EQ(s.accounts.run_as_gid, 1001u);

  EXPECT_EQ(s.environment, (std::map<std::string, std::string>{
                               {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"LANG", "C.UTF-8"}}));
  EXPECT_EQ(s.entrypoint, (std::vector<std::string>{"/usr/bin/python3"}));
  EXPECT_EQ(s.cmd, (std::vector<std::string>{"-c", "print(1)"}));
  EXPECT_EQ(s.workdir, "/srv/app");

  using T = PathEntry::Type;
  ASSERT_EQ(s.paths.size(), 5u);
  EXPECT_EQ(s.paths[0].type, T::kDirectory);
  EXPECT_EQ(s.paths[0].path, "/data");
  EXPECT_EQ(s.paths[0].mode, 0750u);
  EXPECT_EQ(s.paths[0].uid, 65532u);
  EXPECT_EQ(s.paths[0].gid, 65532u);
  EXPECT_EQ(s.paths[1].type, T::kFile);
  EXPECT_EQ(s.paths[1].content, "hi\n");
  EXPECT_EQ(s.paths[1].mode, 0600u);
  EXPECT_EQ(s.paths[2].type, T::kSymlink);
  EXPECT_EQ(s.paths[2].target, "python3");
  EXPECT_EQ(s.paths[3].type, T::kPermissions);
  EXPECT_EQ(s.paths[3].mode, 01777u);
  EXPECT_EQ(s.paths[4].mode, 0644u);  // a file's default
  EXPECT_EQ(s.paths[4].content, "");

  EXPECT_EQ(s.annotations.at("org.opencontainers.image.source"), "https://example.com");
  EXPECT_EQ(s.labels.at("version"), "1");
  EXPECT_EQ(s.layering.strategy, Layering::Strategy::kByPackage);
  EXPECT_EQ(s.layering.max_layers, 4);
  EXPECT_FALSE(s.drop_docs);
  EXPECT_TRUE(s.drop_man);
  EXPECT_FALSE(s.drop_locales);
}

TEST(BuildSpec, Defaults) {
  for (const char* text : {"", "# nothing\n", "contents:\n  packages: [base-files]\n"}) {
    BuildSpec s = MustParse(text);
    EXPECT_TRUE(s.repositories.empty());   // the caller reads the host's sources
    EXPECT_TRUE(s.architectures.empty());  // the caller picks the host's
    EXPECT_FALSE(s.include_essential);
    ASSERT_EQ(s.accounts.users.size(), 3u);
    EXPECT_EQ(s.accounts.users[1].name, "nonroot");
    EXPECT_EQ(s.accounts.users[1].shell, "/sbin/nologin");
    ASSERT_EQ(s.accounts.groups.size(), 5u);
    EXPECT_EQ(s.accounts.groups[3].gid, 65532u);
    EXPECT_EQ(s.accounts.run_as, "");
    EXPECT_EQ(s.accounts.run_as_uid, 0u);
    EXPECT_EQ(s.environment.at("PATH"),
              "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    EXPECT_TRUE(s.entrypoint.empty());
    EXPECT_TRUE(s.cmd.empty());
    EXPECT_EQ(s.workdir, "");
    EXPECT_EQ(s.layering.strategy, Layering::Strategy::kSingle);
    EXPECT_EQ(s.layering.max_layers, 1);
    EXPECT_TRUE(s.drop_docs && s.drop_man && s.drop_locales);
  }
  EXPECT_EQ(MustParse("layering: {strategy: by-package}\n").layering.max_layers, 8);
  // Empty sections are empty, not errors.
  BuildSpec s = MustParse("contents:\n  packages:\naccounts:\npaths:\n");
  EXPECT_TRUE(s.packages.empty());
}

TEST(BuildSpec, EntrypointAndRunAs) {
  // A single string is one argv element, not a shell command.
  EXPECT_EQ(MustParse("entrypoint: /usr/bin/my app\n").entrypoint,
            (std::vector<std::string>{"/usr/bin/my app"}));
  BuildSpec s = MustParse("accounts: {run-as: nonroot}\n");
  EXPECT_EQ(s.accounts.run_as_uid, 65532u);
  EXPECT_EQ(MustParse("accounts: {run-as: 65532}\n").accounts.run_as_gid, 65532u);
  EXPECT_EQ(MustParse("accounts: {run-as: root}\n").accounts.run_as_uid, 0u);
  EXPECT_EQ(MustParse("accounts: {run-as: 0}\n").accounts.run_as, "0");
  s = MustParse("accounts: {run-as: \"nonroot:tty\"}\n");
  EXPECT_EQ(s.accounts.run_as_uid, 65532u);
  EXPECT_EQ(s.accounts.run_as_gid, 5u);
  EXPECT_EQ(MustParse("accounts: {run-as: \"65534:0\"}\n").accounts.run_as_gid, 0u);
  EXPECT_EQ(
      ErrorOf("accounts: {run-as: \"nonroot:wheel\"}\n"),
      "t.yaml:1:20: accounts.run-as: no group named \"wheel\" (define it in accounts.groups)");
}

std::vector<std::string> Names(const Accounts& a) {
  std::vector<std::string> out;
  for (const User& u : a.users) out.push_back(fmt::format("u {}:{}:{}", u.name, u.uid, u.gid));
  for (const Group& g : a.groups) out.push_back(fmt::format("g {}:{}", g.name, g.gid));
  return out;
}

TEST(BuildSpec, DefaultAccountsGiveWay) {
  // Declaring a default's name replaces it; its group follows the new gid.
  BuildSpec s = MustParse("accounts:\n  users: [{name: nonroot, uid: 1000}]\n  run-as: nonroot\n");
  EXPECT_EQ(Names(s.accounts),
            (std::vector<std::string>{"u root:0:0", "u nobody:65534:65534", "u nonroot:1000:1000",
                                      "g root:0", "g tty:5", "g staff:50", "g nobody:65534",
                                      "g nonroot:1000"}));
  EXPECT_EQ(s.accounts.run_as_uid, 1000u);
  // Declaring a default's id replaces it too; the default group stays for the gid.
  s = MustParse(
      "accounts:\n  users: [{name: app, uid: 65532}]\n  groups: [{name: wheel, gid: 0}]\n");
  EXPECT_EQ(Names(s.accounts),
            (std::vector<std::string>{"u root:0:0", "u nobody:65534:65534", "u app:65532:65532",
                                      "g tty:5", "g staff:50", "g nonroot:65532", "g nobody:65534",
                                      "g wheel:0"}));
  // A group that takes the name of a user but not its gid leaves the user without a group.
  EXPECT_EQ(ErrorOf("accounts:\n  groups: [{name: nonroot, gid: 1000}]\n"),
            "t.yaml:2:33: accounts.groups[0].gid: group \"nonroot\" has gid 1000, but user "
            "\"nonroot\" has gid 65532, which no group has");
}

TEST(BuildSpec, PermissionForms) {
  auto mode = [](const std::string& v) {
    auto r = ParseBuildSpec("paths: [{path: /x, type: permissions, permissions: " + v + "}]\n",
                            "t.yaml");
    return r.ok() ? static_cast<int>(r->paths[0].mode) : -1;
  };
  EXPECT_EQ(mode("0o755"), 0755);
  EXPECT_EQ(mode("0O755"), 0755);
  EXPECT_EQ(mode("0755"), 0755);
  EXPECT_EQ(mode("\"0755\""), 0755);
  EXPECT_EQ(mode("'0o1777'"), 01777);
  EXPECT_EQ(mode("0"), 0);
  EXPECT_EQ(mode("00"), 0);
  EXPECT_EQ(mode("04755"), 04755);
  EXPECT_EQ(mode("0o7777"), 07777);
  const std::string pre = "t.yaml:1:52: paths[0].permissions: ";
  EXPECT_EQ(ErrorOf("paths: [{path: /x, type: permissions, permissions: 755}]\n"),
            pre + "mode \"755\" lacks its leading 0: write 0o755 or 0755");
  EXPECT_EQ(ErrorOf("paths: [{path: /x, type: permissions, permissions: 0o758}]\n"),
            pre + "expected an octal mode such as 0o755 or 0755, got \"0o758\"");
  EXPECT_EQ(ErrorOf("paths: [{path: /x, type: permissions, permissions: 0o17777}]\n"),
            pre + "mode 0o17777 is above 07777");
  EXPECT_EQ(ErrorOf("paths: [{path: /x, type: permissions, permissions: rwx}]\n"),
            pre + "expected an octal mode such as 0o755 or 0755, got \"rwx\"");
  EXPECT_EQ(ErrorOf("paths: [{path: /x, type: permissions, permissions: 0o}]\n"),
            pre + "expected an octal mode such as 0o755 or 0755, got \"0o\"");
}

TEST(BuildSpec, MalformedYaml) {
  EXPECT_EQ(ErrorOf("archs: [amd64, arm64\n"), "t.yaml:2:1: end of sequence flow not found");
  EXPECT_EQ(ErrorOf("contents:\n  packages: [a]\n essential: true\n"),
            "t.yaml:3:2: end of map not found");
  EXPECT_EQ(ErrorOf("contents:\n\tpackages: [a]\n"), "t.yaml:2:10: illegal map value");
  EXPECT_EQ(ErrorOf("cmd: x\n---\ncmd: y\n"),
            "t.yaml:3:1: a husk.yaml holds one YAML document; found a second");
  EXPECT_EQ(ErrorOf("- base-files\n"), "t.yaml:1:1: husk.yaml: expected a map, got a list");
}

TEST(BuildSpec, UnknownKeys) {
  EXPECT_EQ(ErrorOf("contents:\n  pakages: [a]\n"),
            "t.yaml:2:3: unknown key \"pakages\" in contents (did you mean \"packages\"?); "
            "valid keys: repositories, packages, essential");
  EXPECT_EQ(ErrorOf("cmd: [x]\nworkdir: /x\n"),
            "t.yaml:2:1: unknown top-level key \"workdir\" (did you mean \"work-dir\"?); valid "
            "keys: include, contents, archs, accounts, environment, entrypoint, cmd, work-dir, "
            "paths, annotations, labels, layering, options");
  EXPECT_EQ(ErrorOf("accounts:\n  users:\n    - {name: a, uid: 1, homedir: /a}\n"),
            "t.yaml:3:25: unknown key \"homedir\" in accounts.users[0]; "
            "valid keys: name, uid, gid, home, shell");
  EXPECT_EQ(ErrorOf("options: {docs: drop, xattrs: drop}\n"),
            "t.yaml:1:23: unknown key \"xattrs\" in options; valid keys: docs, man, locales");
  EXPECT_EQ(ErrorOf("cmd: [a]\ncmd: [b]\n"),
            "t.yaml:2:1: duplicate key \"cmd\" (first at t.yaml:1:1)");
}

TEST(BuildSpec, TypeErrors) {
  EXPECT_EQ(ErrorOf("accounts:\n  users:\n    - {name: app, uid: abc}\n"),
            "t.yaml:3:24: accounts.users[0].uid: expected a numeric id, got \"abc\"");
  EXPECT_EQ(ErrorOf("accounts:\n  users:\n    - {name: app, uid: -1}\n"),
            "t.yaml:3:24: accounts.users[0].uid: expected a numeric id, got \"-1\"");
  EXPECT_EQ(ErrorOf("accounts:\n  users:\n    - {name: app, uid: 4294967295}\n"),
            "t.yaml:3:24: accounts.users[0].uid: id 4294967295 is out of range");
  EXPECT_EQ(ErrorOf("contents:\n  essential: yes\n"),
            "t.yaml:2:14: contents.essential: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf("archs: amd64\n"), "t.yaml:1:8: archs: expected a list, got \"amd64\"");
  EXPECT_EQ(ErrorOf("archs: [x86_64]\n"),
            "t.yaml:1:9: archs[0]: unknown architecture \"x86_64\" (Debian calls it \"amd64\")");
  EXPECT_EQ(ErrorOf("environment: [A=1]\n"),
            "t.yaml:1:14: environment: expected a map, got a list");
  EXPECT_EQ(ErrorOf("environment:\n  A:\n"),
            "t.yaml:2:3: environment.A: expected a string, got null");
  EXPECT_EQ(ErrorOf("cmd: {a: b}\n"), "t.yaml:1:6: cmd: expected a string or a list, got a map");
  EXPECT_EQ(
      ErrorOf("contents: {packages: [~]}\n"),
      "t.yaml:1:23: contents.packages[0]: expected a package name or a map with name, got null");
  EXPECT_EQ(ErrorOf("include: [~]\n"), "t.yaml:1:11: include[0]: expected a string, got null");
  EXPECT_EQ(ErrorOf("accounts:\n  users:\n    - name: a\n      uid:\n"),
            "t.yaml:4:7: accounts.users[0].uid: expected a numeric id, got null");
  EXPECT_EQ(ErrorOf("just text\n"), "t.yaml:1:1: husk.yaml: expected a map, got \"just text\"");
  EXPECT_EQ(ErrorOf("options: {docs: yes}\n"),
            "t.yaml:1:17: options.docs: expected drop or keep, got \"yes\"");
  EXPECT_EQ(ErrorOf("layering: {strategy: by-origin}\n"),
            "t.yaml:1:22: layering.strategy: expected single or by-package, got \"by-origin\"");
  EXPECT_EQ(ErrorOf("layering: {strategy: single, max-layers: 3}\n"),
            "t.yaml:1:42: layering.max-layers: only strategy by-package takes max-layers");
  EXPECT_EQ(ErrorOf("layering: {strategy: by-package, max-layers: 0}\n"),
            "t.yaml:1:46: layering.max-layers: 0 is not between 1 and 100");
}

TEST(BuildSpec, PackageNames) {
  auto pkg = [](const std::string& p) {
    return ErrorOf("contents:\n  packages: [\"" + p + "\"]\n");
  };
  EXPECT_EQ(pkg("libstdc++6"), "");
  EXPECT_EQ(pkg("libc6:arm64=2.36-9+deb12u10"), "");
  EXPECT_EQ(pkg("python3=3.11.2-1+b1"), "");
  EXPECT_EQ(pkg("systemd=1:252-2"), "");  // an epoch's ':' is not an architecture
  const std::string pre = "t.yaml:2:14: contents.packages[0]: invalid package ";
  EXPECT_EQ(pkg("Python3"), pre +
                                "\"Python3\": a Debian package name has two or more of a-z 0-9 "
                                "+ - . and starts with a letter or digit");
  EXPECT_EQ(pkg("a"), pre +
                          "\"a\": a Debian package name has two or more of a-z 0-9 + - . and "
                          "starts with a letter or digit");
  EXPECT_EQ(pkg("lib_foo"), pre +
                                "\"lib_foo\": a Debian package name has two or more of a-z 0-9 "
                                "+ - . and starts with a letter or digit");
  EXPECT_EQ(pkg("libc6="), pre + "\"libc6=\": empty version after '='");
  EXPECT_EQ(pkg("libc6:amd46"),
            pre +
                "\"libc6:amd46\": unknown architecture \"amd46\"; known: amd64, "
                "arm64, armel, armhf, i386, loong64, mips64el, ppc64el, "
                "riscv64, s390x");
  EXPECT_NE(pkg("libc6=2.36 9").find(pre + "\"libc6=2.36 9\": "), std::string::npos);
  EXPECT_EQ(ErrorOf("contents:\n  packages: [libc6, base-files, libc6=2.36-9]\n"),
            "t.yaml:2:33: contents.packages[2]: package \"libc6\" is already listed (at "
            "t.yaml:2:14)");
  EXPECT_EQ(ErrorOf("contents:\n  packages: [{slice: {keep: [/x]}}]\n"),
            "t.yaml:2:14: contents.packages[0]: name is required");
  EXPECT_EQ(ErrorOf("contents:\n  packages: [{name: ab, slice: {keep: [usr/bin/*]}}]\n"),
            "t.yaml:2:40: contents.packages[0].slice.keep[0]: glob \"usr/bin/*\" must start with / "
            "or **");
}

TEST(BuildSpec, Accounts) {
  EXPECT_EQ(
      ErrorOf("accounts:\n  users:\n    - {name: app, uid: 1000}\n    - {name: app, uid: 1001}\n"),
      "t.yaml:4:14: accounts.users[1].name: duplicate user \"app\" (first at t.yaml:3:14)");
  EXPECT_EQ(
      ErrorOf("accounts:\n  users:\n    - {name: a, uid: 1000}\n    - {name: b, uid: 1000}\n"),
      "t.yaml:4:22: accounts.users[1].uid: uid 1000 of \"b\" is already used by \"a\" (at "
      "t.yaml:3:22)");
  EXPECT_EQ(ErrorOf("accounts:\n  groups:\n    - {name: a, gid: 7}\n    - {name: b, gid: 7}\n"),
            "t.yaml:4:22: accounts.groups[1].gid: gid 7 of \"b\" is already used by \"a\" (at "
            "t.yaml:3:22)");
  EXPECT_EQ(ErrorOf("accounts:\n  groups:\n    - {name: a, gid: 7, members: [root, bob]}\n"),
            "t.yaml:3:41: accounts.groups[0].members[1]: \"bob\" is not a user");
  EXPECT_EQ(ErrorOf("accounts:\n  users: [{name: app}]\n"),
            "t.yaml:2:11: accounts.users[0]: uid of user \"app\" is required");
  EXPECT_EQ(ErrorOf("accounts:\n  users: [{name: App, uid: 1}]\n"),
            "t.yaml:2:18: accounts.users[0].name: \"App\" is not a valid name: up to 32 of a-z 0-9 "
            "_ -, starting with a letter or _");
  EXPECT_EQ(ErrorOf("accounts:\n  run-as: app\n"),
            "t.yaml:2:11: accounts.run-as: no user named \"app\" (define it in accounts.users)");
  EXPECT_EQ(
      ErrorOf("accounts:\n  run-as: 1000\n"),
      "t.yaml:2:11: accounts.run-as: no user with uid \"1000\" (define it in accounts.users)");
  EXPECT_EQ(ErrorOf("accounts:\n  users: [{name: a, uid: 1, home: home/a}]\n"),
            "t.yaml:2:35: accounts.users[0].home: \"home/a\" is not an absolute path");
}

TEST(BuildSpec, Paths) {
  EXPECT_EQ(ErrorOf("work-dir: app\n"), "t.yaml:1:11: work-dir: \"app\" is not an absolute path");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: data, type: directory}\n"),
            "t.yaml:2:12: paths[0].path: \"data\" is not an absolute path");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a/../etc, type: directory}\n"),
            "t.yaml:2:12: paths[0].path: \"/a/../etc\" must not contain \"..\"");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a}\n"),
            "t.yaml:2:5: paths[0]: type is required (directory, file, symlink or permissions)");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a, type: dir}\n"),
            "t.yaml:2:22: paths[0].type: expected directory, file, symlink or permissions, got "
            "\"dir\"");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a, type: directory, content: x}\n"),
            "t.yaml:2:42: paths[0].content: only a file has content, not a directory");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a, type: symlink}\n"),
            "t.yaml:2:5: paths[0]: a symlink needs source (its target)");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /a, type: symlink, source: b, permissions: 0o777}\n"),
            "t.yaml:2:55: paths[0].permissions: a symlink has no permissions of its own");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /tmp, type: permissions}\n"),
            "t.yaml:2:5: paths[0]: type permissions needs permissions");
  EXPECT_EQ(ErrorOf("paths:\n  - {path: /, type: file}\n"),
            "t.yaml:2:5: paths[0].path: / cannot be a file");
  EXPECT_EQ(MustParse("paths: [{path: //usr//bin/, type: directory}]\n").paths[0].path, "/usr/bin");
  EXPECT_EQ(ErrorOf("contents:\n  repositories: [{url: ftp://x, suites: [a]}]\n"),
            "t.yaml:2:24: contents.repositories[0].url: \"ftp://x\" is not an http://, https:// or "
            "file:/ URL");
  EXPECT_EQ(ErrorOf("contents:\n  repositories: [{url: http://x}]\n"),
            "t.yaml:2:18: contents.repositories[0]: suites is required");
}

TEST(BuildSpec, IncludeMerges) {
  TempDir d;
  d.Write("common/base.yaml", R"(contents:
  repositories: [{url: http://deb.debian.org/debian, suites: [bookworm]}]
  packages: [base-files, libc6, tzdata]
  essential: true
archs: [amd64]
accounts:
  users: [{name: app, uid: 1000}]
environment: {A: base, B: base}
labels: {x: base}
entrypoint: [/bin/base]
cmd: [base]
paths: [{path: /a, type: directory}]
options: {docs: keep}
)");
  d.Write("common/extra.yaml", "include: base.yaml\npaths: [{path: /b, type: directory}]\n");
  std::string top = d.Write("img/husk.yaml", R"(include: [../common/base.yaml, ../common/extra.yaml]
contents:
  packages: [libc6=2.36-9+deb12u10, libssl3]
archs: [arm64, amd64]
accounts:
  users: [{name: app, uid: 2000}]
  run-as: app
environment: {B: top}
entrypoint: [/bin/top]
paths: [{path: /c, type: directory}]
)");
  auto r = LoadBuildSpec(top);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const BuildSpec& s = *r;
  EXPECT_EQ(s.includes, (std::vector<std::string>{d.path() + "/common/base.yaml",
                                                  d.path() + "/common/extra.yaml"}));
  ASSERT_EQ(s.repositories.size(), 1u);
  // A package named again is replaced in place (pinned here); new ones are appended.
  ASSERT_EQ(s.packages.size(), 4u);
  EXPECT_EQ(s.packages[0].name, "base-files");
  EXPECT_EQ(s.packages[1].name, "libc6=2.36-9+deb12u10");
  EXPECT_EQ(s.packages[2].name, "tzdata");
  EXPECT_EQ(s.packages[3].name, "libssl3");
  EXPECT_TRUE(s.include_essential);  // unset here: the included value stays
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"amd64", "arm64"}));
  ASSERT_EQ(s.accounts.users.size(), 4u);
  EXPECT_EQ(s.accounts.users[3].uid, 2000u);  // the user redefined by name
  EXPECT_EQ(s.accounts.run_as_uid, 2000u);
  EXPECT_EQ(s.environment.at("A"), "base");
  EXPECT_EQ(s.environment.at("B"), "top");
  EXPECT_EQ(s.labels.at("x"), "base");
  EXPECT_EQ(s.entrypoint, (std::vector<std::string>{"/bin/top"}));  // argv is replaced whole
  EXPECT_EQ(s.cmd, (std::vector<std::string>{"base"}));
  // base.yaml is reached twice (directly and through extra.yaml) but merged once.
  ASSERT_EQ(s.paths.size(), 3u);
  EXPECT_EQ(s.paths[0].path, "/a");
  EXPECT_EQ(s.paths[1].path, "/b");
  EXPECT_EQ(s.paths[2].path, "/c");
  EXPECT_FALSE(s.drop_docs);
}

TEST(BuildSpec, IncludeErrors) {
  TempDir d;
  std::string a = d.Write("a.yaml", "include: b.yaml\n");
  d.Write("b.yaml", "cmd: [x]\ninclude: [c.yaml, a.yaml]\n");
  d.Write("c.yaml", "");
  auto r = LoadBuildSpec(a);
  ASSERT_FALSE(r.ok());
  const std::string& p = d.path();
  EXPECT_EQ(r.error().message(), p + "/b.yaml:2:19: include cycle: " + p + "/a.yaml -> " + p +
                                     "/b.yaml -> " + p + "/a.yaml");

  std::string self = d.Write("self.yaml", "include: ./self.yaml\n");
  r = LoadBuildSpec(self);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), self + ":1:10: include cycle: " + self + " -> " + self);

  // An error inside an included file names that file and its position.
  d.Write("bad.yaml", "accounts:\n  users: [{name: x1, uid: abc}]\n");
  std::string top = d.Write("top.yaml", "include: bad.yaml\n");
  r = LoadBuildSpec(top);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            p + "/bad.yaml:2:27: accounts.users[0].uid: expected a numeric id, got \"abc\"");
  d.Write("broken.yaml", "archs: [amd64\n");
  top = d.Write("top2.yaml", "include: broken.yaml\n");
  r = LoadBuildSpec(top);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), p + "/broken.yaml:2:1: end of sequence flow not found");

  top = d.Write("top3.yaml", "cmd: [x]\ninclude: [missing.yaml]\n");
  r = LoadBuildSpec(top);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), top + ":2:11: include missing.yaml: open " + p +
                                     "/missing.yaml: No such file or directory");

  // uids clash across files: the later file is blamed, the earlier one cited.
  d.Write("u1.yaml", "accounts:\n  users: [{name: a, uid: 7}]\n");
  top = d.Write("top4.yaml", "include: u1.yaml\naccounts:\n  users: [{name: b, uid: 7}]\n");
  r = LoadBuildSpec(top);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), top +
                                     ":3:26: accounts.users[0].uid: uid 7 of \"b\" is already "
                                     "used by \"a\" (at " +
                                     p + "/u1.yaml:2:26)");
}

// Every shipped example parses, and the chain of includes gives each image
// what docs/build-format.md says it contains.
TEST(BuildSpec, Examples) {
  std::string here = __FILE__;
  std::string examples = fs::Clean(here.substr(0, here.rfind('/')) + "/../../examples");
  auto dirs = fs::ListDir(examples);
  ASSERT_TRUE(dirs.ok()) << dirs.error().message();
  std::map<std::string, BuildSpec> specs;
  for (const std::string& dir : *dirs) {
    std::string path = examples + "/" + dir + "/husk.yaml";
    if (!fs::Exists(path)) continue;
    auto r = LoadBuildSpec(path);
    ASSERT_TRUE(r.ok()) << r.error().message();
    specs[dir] = *r;
  }
  for (const char* want : {"static", "base", "cc", "python3", "debug"})
    ASSERT_TRUE(specs.count(want)) << want;
  auto has = [&](const char* image, const char* pkg) {
    for (const PackageRequest& p : specs[image].packages)
      if (p.package == pkg) return true;
    return false;
  };
  for (const char* p : {"base-files", "netbase", "tzdata", "media-types", "ca-certificates"})
    EXPECT_TRUE(has("static", p)) << p;
  EXPECT_FALSE(has("static", "libc6"));
  EXPECT_TRUE(has("base", "libc6") && has("base", "libssl3") && has("base", "tzdata"));
  EXPECT_TRUE(has("cc", "libstdc++6") && has("cc", "libgcc-s1") && has("cc", "libc6"));
  EXPECT_TRUE(has("debug", "busybox") && has("debug", "libc6"));
  EXPECT_EQ(specs["debug"].entrypoint, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(specs["python3"].entrypoint, (std::vector<std::string>{"/usr/bin/python3"}));
  EXPECT_EQ(specs["python3"].accounts.run_as_uid, 65532u);
}

}  // namespace
}  // namespace husk::build
