// The /etc files of AssembleTree (see assemble.h): accounts, nsswitch.conf,
// os-release, the CA bundle and, when needed, ld.so.cache.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "build/assemble.h"
#include "build/assemble_internal.h"

extern char** environ;

namespace husk::build {

namespace {

constexpr uint32_t kNonroot = 65532;
constexpr uint32_t kNobody = 65534;

// What goes between ':' in /etc/passwd must hold neither ':' nor a newline.
Status CheckField(std::string_view what, std::string_view v, bool allow_empty = false) {
  if (v.empty() && !allow_empty) return Err("{}: empty", what);
  if (v.find_first_of(":\n") != std::string_view::npos)
    return Err("{} \"{}\": ':' or newline", what, v);
  return Ok();
}

Status CheckName(std::string_view what, std::string_view name) {
  TRY(CheckField(what, name));
  if (name.find_first_of(", \t/") != std::string_view::npos || name.front() == '-' ||
      name.front() == '+')
    return Err("{} \"{}\": not a valid name", what, name);
  return Ok();
}

template <typename T, typename IdOf>
void Override(std::vector<T>& defaults, const std::string& name, uint32_t id, IdOf id_of) {
  std::erase_if(defaults, [&](const T& d) { return d.name == name || id_of(d) == id; });
}

std::optional<uint32_t> ParseId(std::string_view s) {
  auto v = strings::ParseUint(s);
  if (!v || *v > 0xfffffffeULL) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

}  // namespace

Result<ResolvedAccounts> ResolveAccounts(const Accounts& accounts) {
  ResolvedAccounts out;
  out.users = {
      {"root", 0, 0, "/root", "/sbin/nologin"},
      {"nonroot", kNonroot, kNonroot, "/home/nonroot", "/sbin/nologin"},
      {"nobody", kNobody, kNobody, "/nonexistent", "/sbin/nologin"},
  };
  out.groups = {{"root", 0, {}},
                {"tty", 5, {}},
                {"staff", 50, {}},
                {"nonroot", kNonroot, {}},
                {"nobody", kNobody, {}}};
  std::set<std::string> names;
  std::set<uint32_t> ids;
  for (const auto& g : accounts.groups) {
    TRY(CheckName("group", g.name));
    if (!names.insert(g.name).second) return Err("group \"{}\": defined twice", g.name);
    if (!ids.insert(g.gid).second) return Err("group \"{}\": gid {} used twice", g.name, g.gid);
    for (const auto& m : g.members) TRY(CheckName(fmt::format("group \"{}\": member", g.name), m));
    Override(out.groups, g.name, g.gid, [](const Group& d) { return d.gid; });
  }
  for (const auto& g : accounts.groups) out.groups.push_back(g);
  names.clear();
  ids.clear();
  for (const auto& u : accounts.users) {
    TRY(CheckName("user", u.name));
    if (!names.insert(u.name).second) return Err("user \"{}\": defined twice", u.name);
    if (!ids.insert(u.uid).second) return Err("user \"{}\": uid {} used twice", u.name, u.uid);
    Override(out.users, u.name, u.uid, [](const User& d) { return d.uid; });
  }
  for (User u : accounts.users) {
    if (u.home.empty()) u.home = u.uid == 0 ? "/root" : "/home/" + u.name;
    if (u.shell.empty()) u.shell = "/sbin/nologin";
    TRY(CheckField(fmt::format("user \"{}\": home", u.name), u.home));
    TRY(CheckField(fmt::format("user \"{}\": shell", u.name), u.shell));
    if (u.home.front() != '/')
      return Err("user \"{}\": home \"{}\" is not absolute", u.name, u.home);
    out.users.push_back(std::move(u));
  }
  // Every primary gid gets a group, or `id` and `ls -l` show bare numbers.
  for (const auto& u : out.users) {
    auto has_gid = [&](const Group& g) { return g.gid == u.gid; };
    if (std::any_of(out.groups.begin(), out.groups.end(), has_gid)) continue;
    auto same_name = [&](const Group& g) { return g.name == u.name; };
    if (std::any_of(out.groups.begin(), out.groups.end(), same_name))
      return Err("user \"{}\": no group has gid {}, and the group \"{}\" has another", u.name,
                 u.gid, u.name);
    out.groups.push_back({u.name, u.gid, {}});
  }
  std::sort(out.users.begin(), out.users.end(),
            [](const User& a, const User& b) { return a.uid < b.uid; });
  std::sort(out.groups.begin(), out.groups.end(),
            [](const Group& a, const Group& b) { return a.gid < b.gid; });
  return out;
}

std::string PasswdFile(const ResolvedAccounts& a) {
  std::string out;
  for (const auto& u : a.users)
    out += fmt::format("{}:x:{}:{}:{}:{}:{}\n", u.name, u.uid, u.gid, u.name, u.home, u.shell);
  return out;
}

std::string GroupFile(const ResolvedAccounts& a) {
  std::string out;
  for (const auto& g : a.groups)
    out += fmt::format("{}:x:{}:{}\n", g.name, g.gid, strings::Join(g.members, ","));
  return out;
}

std::string ShadowFile(const ResolvedAccounts& a) {
  // '*' matches no password: every account is locked for password logins.
  // The last-change field stays empty (no aging), which also keeps the file
  // free of the build date.
  std::string out;
  for (const auto& u : a.users) out += fmt::format("{}:*::0:99999:7:::\n", u.name);
  return out;
}

Result<std::string> ResolveRunAs(const BuildSpec& spec) {
  const std::string& run_as = spec.accounts.run_as;
  if (run_as.empty()) return std::string();
  auto accounts = TRY(ResolveAccounts(spec.accounts).wrap("run_as"));
  size_t colon = run_as.find(':');
  std::string user = run_as.substr(0, colon);
  std::optional<uint32_t> uid, gid;
  for (const auto& u : accounts.users) {
    if (u.name == user || std::to_string(u.uid) == user) {
      uid = u.uid;
      gid = u.gid;
      break;
    }
  }
  if (!uid) {
    uid = ParseId(user);
    if (!uid) return Err("run_as \"{}\": no user \"{}\"", run_as, user);
    gid = 0;
  }
  if (colon != std::string::npos) {
    std::string group = run_as.substr(colon + 1);
    gid.reset();
    for (const auto& g : accounts.groups)
      if (g.name == group) gid = g.gid;
    if (!gid) gid = ParseId(group);
    if (!gid) return Err("run_as \"{}\": no group \"{}\"", run_as, group);
  }
  return fmt::format("{}:{}", *uid, *gid);
}

namespace internal {

Status WriteAccounts(RootFs& root, const Accounts& accounts) {
  auto a = TRY(ResolveAccounts(accounts));
  gid_t shadow_gid = 0;
  for (const auto& g : a.groups)
    if (g.name == "shadow") shadow_gid = g.gid;
  TRY(root.WriteFile("/etc/passwd", PasswdFile(a), 0644));
  TRY(root.WriteFile("/etc/group", GroupFile(a), 0644));
  TRY(root.WriteFile("/etc/shadow", ShadowFile(a), 0640, 0, shadow_gid));
  for (const auto& u : a.users) {
    if (u.home == "/nonexistent" || u.home == "/") continue;
    auto st = TRY(root.Lstat(u.home));
    if (st) continue;
    TRY(root.MkdirAll(u.home, 0700, u.uid, u.gid).wrap("home of " + u.name));
  }
  return Ok();
}

Status WriteNsswitch(RootFs& root) {
  if (TRY(root.Stat("/etc/nsswitch.conf"))) return Ok();
  // distroless's: files only, no libnss-db or nis in a minimal image.
  static constexpr std::string_view kNsswitch =
      "passwd:         files\n"
      "group:          files\n"
      "shadow:         files\n"
      "gshadow:        files\n"
      "\n"
      "hosts:          files dns\n"
      "networks:       files\n"
      "\n"
      "protocols:      files\n"
      "services:       files\n"
      "ethers:         files\n"
      "rpc:            files\n";
  return root.WriteFile("/etc/nsswitch.conf", kNsswitch);
}

Status WriteOsRelease(RootFs& root, const BuildSpec& spec) {
  // Stat, not Lstat: a link left dangling by a slice is replaced.
  if (TRY(root.Stat("/etc/os-release"))) return Ok();
  if (TRY(root.Stat("/usr/lib/os-release")))
    return root.Symlink("/etc/os-release", "../usr/lib/os-release");
  // No base-files: say what base-files of the first suite's release would,
  // debian_version included (Trivy identifies Debian by that file).
  std::string codename;
  if (!spec.repositories.empty() && !spec.repositories.front().suites.empty()) {
    codename = spec.repositories.front().suites.front();
    codename = codename.substr(0, codename.find_first_of("-/"));
  }
  static const std::map<std::string, std::string> kVersions = {
      {"buster", "10"}, {"bullseye", "11"}, {"bookworm", "12"}, {"trixie", "13"}, {"forky", "14"}};
  std::string text;
  auto it = kVersions.find(codename);
  if (it != kVersions.end()) {
    text = fmt::format(
        "PRETTY_NAME=\"Debian GNU/Linux {0} ({1})\"\n"
        "NAME=\"Debian GNU/Linux\"\n"
        "VERSION_ID=\"{0}\"\n"
        "VERSION=\"{0} ({1})\"\n"
        "VERSION_CODENAME={1}\n",
        it->second, it->first);
    if (!TRY(root.Stat("/etc/debian_version")))
      TRY(root.WriteFile("/etc/debian_version", it->second + "\n"));
  } else {
    text = "PRETTY_NAME=\"Debian GNU/Linux\"\nNAME=\"Debian GNU/Linux\"\n";
    if (!codename.empty() && codename.find('"') == std::string::npos)
      text += "VERSION_CODENAME=" + codename + "\n";
  }
  text +=
      "ID=debian\n"
      "HOME_URL=\"https://www.debian.org/\"\n"
      "SUPPORT_URL=\"https://www.debian.org/support\"\n"
      "BUG_REPORT_URL=\"https://bugs.debian.org/\"\n";
  return root.WriteFile("/etc/os-release", text);
}

namespace {

// Regular *.crt files below dir, as paths relative to it, bytewise sorted.
Status FindCerts(RootFs& root, const std::string& dir, const std::string& rel,
                 std::vector<std::string>& out) {
  std::string here = rel.empty() ? dir : dir + "/" + rel;
  for (const auto& name : TRY(root.List(here))) {
    std::string r = rel.empty() ? name : rel + "/" + name;
    auto st = TRY(root.Lstat(dir + "/" + r));
    if (!st) continue;
    if (S_ISDIR(st->st_mode)) {
      TRY(FindCerts(root, dir, r, out));
    } else if (S_ISREG(st->st_mode) && name.size() > 4 &&
               name.compare(name.size() - 4, 4, ".crt") == 0) {
      out.push_back(r);
    }
  }
  return Ok();
}

}  // namespace

Status WriteCaBundle(RootFs& root) {
  auto shared = TRY(root.Stat("/usr/share/ca-certificates"));
  if (!shared || !S_ISDIR(shared->st_mode)) return Ok();
  std::string bundle;
  for (const char* dir : {"/usr/share/ca-certificates", "/usr/local/share/ca-certificates"}) {
    std::vector<std::string> certs;
    TRY(FindCerts(root, dir, "", certs));
    std::sort(certs.begin(), certs.end());
    for (const auto& c : certs) {
      std::string pem = TRY(root.ReadFile(std::string(dir) + "/" + c));
      bundle += pem;
      // update-ca-certificates adds a missing final newline (#635570).
      if (!pem.empty() && pem.back() != '\n') bundle += '\n';
    }
  }
  TRY(root.MkdirAll("/etc/ssl/certs"));
  return root.WriteFile("/etc/ssl/certs/ca-certificates.crt", bundle, 0644);
}

namespace {

// The directories ld.so.conf and ld.so.conf.d/*.conf list. "include" lines
// are not followed: they name ld.so.conf.d in every Debian release.
Result<std::vector<std::string>> LdConfDirs(RootFs& root) {
  std::vector<std::string> files = {"/etc/ld.so.conf"};
  for (const auto& n : TRY(root.List("/etc/ld.so.conf.d")))
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0)
      files.push_back("/etc/ld.so.conf.d/" + n);
  std::vector<std::string> dirs;
  for (const auto& f : files) {
    auto st = TRY(root.Stat(f));
    if (!st || !S_ISREG(st->st_mode)) continue;
    std::string text = TRY(root.ReadFile(f));
    for (auto line : strings::Split(text, '\n')) {
      line = line.substr(0, line.find('#'));
      std::string_view l = strings::Trim(line);
      if (l.empty() || strings::StartsWith(l, "include") || strings::StartsWith(l, "hwcap"))
        continue;
      std::string token;
      for (char c : std::string(l) + " ") {
        if (c == ' ' || c == '\t' || c == ':' || c == ',' || c == '=') {
          if (!token.empty() && token.front() == '/') dirs.push_back(fs::Clean(token));
          token.clear();
        } else {
          token.push_back(c);
        }
      }
    }
  }
  return dirs;
}

// Searched by ld.so without a cache (usrmerged: /lib is /usr/lib).
bool SystemLibDir(std::string dir) {
  if (dir == "/lib" || strings::StartsWith(dir, "/lib/")) dir = "/usr" + dir;
  return dir == "/usr/lib" ||
         (strings::StartsWith(dir, "/usr/lib/") && dir.find('/', 9) == std::string::npos &&
          dir.find("-linux-") != std::string::npos);
}

Result<std::string> Run(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoErr("pipe");
  UniqueFd rd(fds[0]), wr(fds[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int r = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) return CodeErr(r, "run {}", argv[0]);
  wr.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < 4096) out.append(buf, static_cast<size_t>(n));
  }
  int status;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return ErrnoErr("wait for {}", argv[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Err("{} failed: {}", argv[0], strings::Trim(out));
  return out;
}

}  // namespace

Status UpdateLdCache(RootFs& root, const std::string& arch) {
  std::vector<std::string> extra;
  for (const auto& dir : TRY(LdConfDirs(root))) {
    if (SystemLibDir(dir)) continue;
    for (const auto& n : TRY(root.List(dir))) {
      if (n.find(".so") != std::string::npos) {
        extra.push_back(dir);
        break;
      }
    }
  }
  if (extra.empty()) return Ok();
  std::string dirs = strings::Join(extra, " ");
  std::string ldconfig;
  for (const char* p : {"/sbin/ldconfig", "/usr/sbin/ldconfig"})
    if (::access(p, X_OK) == 0) {
      ldconfig = p;
      break;
    }
  if (ldconfig.empty() || arch != HostDebianArch()) {
    log::Warnf(
        "no ld.so.cache written ({}): libraries in {} are found only through "
        "LD_LIBRARY_PATH or RUNPATH",
        ldconfig.empty() ? "no ldconfig on this host" : "the host is not " + arch, dirs);
    return Ok();
  }
  // ldconfig -r reads ROOT/etc/ld.so.conf only; libc-bin, which ships it, may
  // not be in the image.
  if (!TRY(root.Lstat("/etc/ld.so.conf")))
    TRY(root.WriteFile("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n"));
  // -X: the packages ship their soname links; ldconfig must not add others.
  TRY(Run({ldconfig, "-X", "-r", root.dir()}));
  // ldconfig's own cache of file ctimes, useless in an image and never the same twice.
  TRY(root.Remove("/var/cache/ldconfig/aux-cache"));
  return Ok();
}

}  // namespace internal

}  // namespace husk::build
