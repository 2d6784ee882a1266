#include "build/apt_repo.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/strings.h"
#include "build/deb_cache.h"
#include "debian/solver.h"
#include "digest/digest.h"

extern char** environ;

namespace husk::build {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------- helpers

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/husk-apt-test-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)fs::RemoveAll(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view p) const { return fs::Join(path_, p); }

 private:
  std::string path_;
};

bool OnPath(const std::string& tool) {
  const char* path = getenv("PATH");
  for (const std::string& dir : strings::Split(path ? path : "/usr/bin:/bin", ':'))
    if (!dir.empty() && ::access(fs::Join(dir, tool).c_str(), X_OK) == 0) return true;
  return false;
}

// The source tree: $HUSK_REPO, else two levels above this file.
std::string SourceRoot() {
  if (const char* r = getenv("HUSK_REPO"); r && *r) return r;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

int Shell(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// python3 -m http.server on an ephemeral port of 127.0.0.1, killed on
// destruction. Its request log (one line per request) goes to log_path.
class HttpServer {
 public:
  HttpServer(const std::string& dir, const std::string& log_path) : log_(log_path) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    stdout_.reset(p[0]);
    UniqueFd wr(p[1]);
    int rd = stdout_.get();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
    posix_spawn_file_actions_addopen(&fa, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    // Port 0: the kernel picks a free one and the server prints it.
    std::vector<std::string> argv = {
        "python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory", dir};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int rc = posix_spawnp(&pid_, "python3", &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return;
    }
    wr.reset();
    // "Serving HTTP on 127.0.0.1 port 43567 (http://127.0.0.1:43567/) ..."
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{rd, POLLIN, 0};
      if (::poll(&pfd, 1, 200) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(rd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
      auto at = out.find(" port ");
      if (at != std::string::npos && out.find(' ', at + 6) != std::string::npos) {
        port_ = std::atoi(out.c_str() + at + 6);
        break;
      }
    }
  }
  ~HttpServer() { Stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  bool ok() const { return pid_ > 0 && port_ > 0; }
  // The archive root of a make-apt-repo.sh output directory `name` under the served one.
  std::string url(std::string_view name = "repo") const {
    return fmt::format("http://127.0.0.1:{}/{}/debian", port_, name);
  }
  // Requests whose path contains `part`.
  size_t Count(std::string_view part) const {
    size_t n = 0;
    for (const std::string& line : strings::Split(fs::ReadFile(log_).value_or(""), '\n'))
      if (line.find("\"GET ") != std::string::npos && line.find(part) != std::string::npos) n++;
    return n;
  }

 private:
  std::string log_;
  // Kept open while the server runs: it exits on EPIPE if its banner's last
  // bytes arrive after the port was read and the pipe closed.
  UniqueFd stdout_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// ---------------------------------------------------------------- fixture

// One fixture repository (make-apt-repo.sh) and one server for the suite
// (python starts slowly); tests that tamper with files copy the repository
// beside it, where the same server serves the copy.
class AptRepoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* tool : {"dpkg-deb", "gpg", "gpgv", "python3", "xz"}) {
      if (!OnPath(tool)) {
        skip_ = std::string(tool) + " is not installed";
        return;
      }
    }
    fixture_ = new TempDir();
    auto made = MakeRepo();
    if (!made.ok()) {
      setup_error_ = made.error().message();
      return;
    }
    // Each test gets its own copy: ctest runs every test in a process of its own.
    if (Shell("cp -a '" + *made + "' '" + RepoDir() + "'") != 0) {
      setup_error_ = "cp -a " + *made + " failed";
      return;
    }
    server_ = new HttpServer(fixture_->path(), *fixture_ / "server.log");
    if (!server_->ok()) setup_error_ = "python3 -m http.server did not start";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete fixture_;
    server_ = nullptr;
    fixture_ = nullptr;
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_EQ(setup_error_, "");
  }

  // make-apt-repo.sh's output, made once per version of the script and kept
  // beside the test binary: the script takes seconds, and ctest would run it
  // for every test.
  static Result<std::string> MakeRepo() {
    std::string script = fs::Join(SourceRoot(), "tests/lib/make-apt-repo.sh");
    std::string text = TRY(fs::ReadFile(script));
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    std::string dir = fs::Join(exe, "apt-fixture-" + Sha256Of(text).short_hex());
    if (fs::IsDir(dir)) return dir;
    std::string tmp = dir + ".tmp." + std::to_string(::getpid());
    if (Shell("'" + script + "' '" + tmp + "'") != 0) {
      (void)fs::RemoveAll(tmp);
      return Err("{} failed", script);
    }
    // Another test process may have won the race; either copy is good.
    if (::rename(tmp.c_str(), dir.c_str()) != 0) (void)fs::RemoveAll(tmp);
    // Outputs of earlier versions of the script.
    for (const std::string& name : fs::ListDir(exe).value_or(std::vector<std::string>{})) {
      std::string path = fs::Join(exe, name);
      if (strings::StartsWith(name, "apt-fixture-") && path != dir &&
          name.find(".tmp.") == std::string::npos)
        (void)fs::RemoveAll(path);
    }
    return dir;
  }
  static std::string RepoDir() { return *fixture_ / "repo"; }
  static std::string Keyring(const std::string& name = "keyring.gpg") {
    return fs::Join(RepoDir(), name);
  }
  static Repository Repo(const std::string& url,
                         std::vector<std::string> suites = {"stable", "stable-updates"}) {
    return Repository{url, std::move(suites), {"main"}, Keyring()};
  }
  AptOptions Options(bool offline = false) const {
    AptOptions o;
    o.cache_dir = cache_ / "cache";
    o.offline = offline;
    return o;
  }
  // A copy of the repository to tamper with, served as server_->url(name).
  static std::string CopyRepo(const std::string& name) {
    std::string to = *fixture_ / name;
    EXPECT_EQ(Shell("cp -a '" + RepoDir() + "' '" + to + "'"), 0);
    return to;
  }
  static Status FlipByte(const std::string& path) {
    std::string data = TRY(fs::ReadFile(path));
    data[data.size() / 2] ^= 0x55;
    return fs::WriteFile(path, data);
  }

  static inline std::string skip_, setup_error_;
  static inline TempDir* fixture_ = nullptr;
  static inline HttpServer* server_ = nullptr;
  TempDir cache_;
};

std::vector<std::string> Ids(const debian::Solution& s) {
  std::vector<std::string> out;
  for (const auto& sel : s.packages) out.push_back(sel.package->name + "=" + sel.package->version);
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- loading

TEST_F(AptRepoTest, LoadsVerifiesAndMergesSuites) {
  std::vector<std::string> log;
  AptOptions o = Options();
  o.log = [&](const std::string& line) { log.push_back(line); };
  auto idx = LoadAptIndex({Repo(server_->url())}, o);
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(idx->packages.size(), 10u);  // eleven .debs, libfoo in both suites
  ASSERT_EQ(idx->suites.size(), 2u);
  EXPECT_EQ(idx->suites[0].release.suite, "stable");
  EXPECT_EQ(idx->suites[0].release_url, server_->url() + "/dists/stable/InRelease");
  EXPECT_TRUE(idx->suites[1].release.acquire_by_hash);
  EXPECT_EQ(idx->indexes_downloaded, 2u);
  EXPECT_EQ(idx->indexes_cached, 0u);

  const debian::Package* libfoo = idx->packages.Find("libfoo", "amd64");
  ASSERT_NE(libfoo, nullptr);
  EXPECT_EQ(libfoo->version, "1.2");  // stable-updates wins
  const debian::Package* hello = idx->packages.Find("hello", "amd64");
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(idx->DebUrl(*hello), server_->url() + "/pool/main/h/hello/hello_2.10-3_amd64.deb");
  EXPECT_EQ(idx->BaseUrl(*libfoo), server_->url());
  const debian::Package* base = idx->packages.Find("base-thing", "all");
  ASSERT_NE(base, nullptr);
  EXPECT_FALSE(idx->packages.Providers("base-virtual", "amd64").empty());

  // The by-hash name is what was fetched for stable-updates, the plain one for stable.
  EXPECT_GE(server_->Count("/dists/stable-updates/main/binary-amd64/by-hash/SHA256/"), 1u);
  EXPECT_GE(server_->Count("/dists/stable/main/binary-amd64/Packages.xz"), 1u);
  EXPECT_THAT(strings::Join(log, "\n"),
              HasSubstr("Get " + server_->url() + "/dists/stable/InRelease"));

  debian::SolveOptions so;
  auto sol = debian::Resolve(idx->packages, {"hello"}, so);
  ASSERT_TRUE(sol.ok()) << sol.error().message();
  EXPECT_EQ(Ids(*sol), (std::vector<std::string>{"base-thing=1.0", "hello=2.10-3", "libfoo=1.2"}));
  EXPECT_EQ(sol->packages.back().package->name, "hello");  // dependencies first

  auto pre = debian::Resolve(idx->packages, {"predep-user"}, so);
  ASSERT_TRUE(pre.ok()) << pre.error().message();
  EXPECT_EQ(Ids(*pre),
            (std::vector<std::string>{"essential-thing=1.0", "libfoo=1.2", "predep-user=1.0"}));
  auto virt = debian::Resolve(idx->packages, {"needs-virtual"}, so);
  ASSERT_TRUE(virt.ok()) << virt.error().message();
  EXPECT_EQ(Ids(*virt), (std::vector<std::string>{"base-thing=1.0", "needs-virtual=1.0"}));
  auto broken = debian::Resolve(idx->packages, {"broken"}, so);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.error().message(), HasSubstr("missing-pkg"));
}

TEST_F(AptRepoTest, OnlyStableHasTheOlderLibfoo) {
  auto idx = LoadAptIndex({Repo(server_->url(), {"stable"})}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  ASSERT_NE(idx->packages.Find("libfoo", "amd64"), nullptr);
  EXPECT_EQ(idx->packages.Find("libfoo", "amd64")->version, "1.0");
  // predep-user needs libfoo >= 1.2, which only stable-updates has.
  auto sol = debian::Resolve(idx->packages, {"predep-user"}, debian::SolveOptions{});
  EXPECT_FALSE(sol.ok());
}

TEST_F(AptRepoTest, WarmCacheFetchesOnlyInRelease) {
  ASSERT_TRUE(LoadAptIndex({Repo(server_->url())}, Options()).ok());
  // Index files nobody has used for weeks go; recent ones (another project's) stay.
  std::string indexes = cache_ / "cache/indexes";
  std::string old_index = indexes + "/" + std::string(64, 'a');
  std::string new_index = indexes + "/" + std::string(64, 'b');
  std::string old_tmp = indexes + "/" + std::string(64, 'c') + ".tmp.AbCdEf";
  for (const std::string& f : {old_index, new_index, old_tmp})
    ASSERT_TRUE(fs::WriteFile(f, "x").ok());
  timespec old[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 30 * 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_index.c_str(), old, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, old_tmp.c_str(), old, 0), 0);

  size_t before = server_->Count("/binary-amd64/");
  size_t releases = server_->Count("/InRelease");
  auto idx = LoadAptIndex({Repo(server_->url())}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(idx->indexes_downloaded, 0u);
  EXPECT_EQ(idx->indexes_cached, 2u);
  EXPECT_EQ(server_->Count("/binary-amd64/"), before);
  EXPECT_EQ(server_->Count("/InRelease"), releases + 2);  // always re-checked online
  EXPECT_EQ(idx->packages.Find("libfoo", "amd64")->version, "1.2");
  EXPECT_FALSE(fs::Exists(old_index));
  EXPECT_FALSE(fs::Exists(old_tmp));
  EXPECT_TRUE(fs::Exists(new_index));
}

TEST_F(AptRepoTest, CheckReleasesFingerprintsTheVerifiedSuites) {
  size_t indexes = server_->Count("/binary-amd64/");
  auto a = CheckReleases({Repo(server_->url())}, Options());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(server_->Count("/binary-amd64/"), indexes);  // only the InRelease files
  auto b = CheckReleases({Repo(server_->url())}, Options());
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(*a, *b);
  // Another suite set, another architecture: another fingerprint.
  auto c = CheckReleases({Repo(server_->url(), {"stable"})}, Options());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_NE(*a, *c);
  AptOptions arm = Options();
  arm.arch = "arm64";
  auto d = CheckReleases({Repo(server_->url())}, arm);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_NE(*a, *d);
  // The signature is checked every time.
  Repository wrong = Repo(server_->url());
  wrong.keyring = Keyring("wrong-keyring.gpg");
  auto e = CheckReleases({wrong}, Options());
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.error().message(), HasSubstr("/dists/stable/InRelease: bad signature"));
  // What CheckReleases left in the cache is what LoadAptIndex then reads.
  AptOptions cached = Options();
  cached.cached_releases = true;
  size_t releases = server_->Count("/InRelease");
  auto idx = LoadAptIndex({Repo(server_->url())}, cached);
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(server_->Count("/InRelease"), releases);
  EXPECT_EQ(idx->packages.Find("libfoo", "amd64")->version, "1.2");
}

TEST_F(AptRepoTest, ArmoredKeyrings) {
  Repository r = Repo(server_->url());
  r.keyring = Keyring("keyring.asc");
  auto idx = LoadAptIndex({r}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  // deb822's Signed-By may hold the key block itself.
  r.keyring = fs::ReadFile(Keyring("keyring.asc")).value_or("");
  idx = LoadAptIndex({r}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
}

TEST_F(AptRepoTest, WrongKeyringIsABadSignature) {
  Repository r = Repo(server_->url());
  r.keyring = Keyring("wrong-keyring.gpg");
  auto idx = LoadAptIndex({r}, Options());
  ASSERT_FALSE(idx.ok());
  std::string msg = idx.error().message();
  EXPECT_THAT(msg, HasSubstr(server_->url() + "/dists/stable/InRelease: bad signature (gpgv: "));
  EXPECT_THAT(msg, HasSubstr("No public key"));
  // Nothing unverified is cached.
  auto names = fs::ListDir(cache_ / "cache/indexes");
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << strings::Join(*names, " ");
}

TEST_F(AptRepoTest, MissingKeyringIsNamed) {
  Repository r = Repo(server_->url());
  r.keyring = "/nonexistent/keyring.gpg";
  auto idx = LoadAptIndex({r}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(), HasSubstr("/nonexistent/keyring.gpg"));
  EXPECT_THAT(idx.error().message(), HasSubstr("No such file or directory"));
}

TEST_F(AptRepoTest, UnsignedDataIsRejected) {
  Status st = VerifySignature(Keyring(), "Suite: stable\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("bad signature (gpgv: "));
  std::string inrelease = fs::ReadFile(RepoDir() + "/debian/dists/stable/InRelease").value_or("");
  EXPECT_TRUE(VerifySignature(Keyring(), inrelease).ok());
  // A changed line in the signed text.
  std::string forged = inrelease;
  forged.replace(forged.find("Suite: stable"), 13, "Suite: stabla");
  st = VerifySignature(Keyring(), forged);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message(), HasSubstr("BAD signature"));
  // Good, but over a SHA-1 digest.
  st = VerifySignature(Keyring(), fs::ReadFile(Keyring("sha1-signed.txt")).value_or(""));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "bad signature (signed with the weak digest algorithm SHA-1)");
}

TEST_F(AptRepoTest, TamperedPackagesIsASha256Mismatch) {
  std::string repo = CopyRepo("tampered-packages");
  ASSERT_TRUE(FlipByte(repo + "/debian/dists/stable/main/binary-amd64/Packages.xz").ok());
  std::string url = server_->url("tampered-packages");
  auto idx = LoadAptIndex({Repo(url)}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(),
              HasSubstr(url + "/dists/stable/main/binary-amd64/Packages.xz: SHA256 mismatch"));
}

TEST_F(AptRepoTest, TamperedByHashFileIsASha256Mismatch) {
  std::string repo = CopyRepo("tampered-by-hash");
  std::string bin = repo + "/debian/dists/stable-updates/main/binary-amd64/";
  std::string xz = fs::ReadFile(bin + "Packages.xz").value_or("");
  std::string hashed = bin + "by-hash/SHA256/" + Sha256Of(xz).hex();
  ASSERT_TRUE(FlipByte(hashed).ok());
  std::string url = server_->url("tampered-by-hash");
  auto idx = LoadAptIndex({Repo(url)}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(),
              HasSubstr(url + "/dists/stable-updates/main/binary-amd64/by-hash/SHA256/" +
                        Sha256Of(xz).hex() + ": SHA256 mismatch"));
}

TEST_F(AptRepoTest, FallsBackToReleaseAndReleaseGpg) {
  std::string repo = CopyRepo("detached");
  ASSERT_EQ(::unlink((repo + "/debian/dists/stable/InRelease").c_str()), 0);
  std::string url = server_->url("detached");
  auto idx = LoadAptIndex({Repo(url, {"stable"})}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(idx->suites[0].release_url, url + "/dists/stable/Release");
  EXPECT_EQ(server_->Count("/detached/debian/dists/stable/Release.gpg"), 1u);

  // A detached signature that does not match is as bad as a wrong key.
  std::string release = repo + "/debian/dists/stable/Release";
  ASSERT_TRUE(fs::WriteFile(release, fs::ReadFile(release).value_or("") + "X-Extra: 1\n").ok());
  idx = LoadAptIndex({Repo(url, {"stable"})}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(), HasSubstr(url + "/dists/stable/Release: bad signature"));
}

TEST_F(AptRepoTest, UnreachableMirrorIsNamed) {
  auto idx = LoadAptIndex({Repo("http://127.0.0.1:1/debian")}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_EQ(idx.error().message(),
            "fetch http://127.0.0.1:1/debian/dists/stable/InRelease: Connection refused");
}

TEST_F(AptRepoTest, MissingSuiteAndComponent) {
  auto idx = LoadAptIndex({Repo(server_->url(), {"nope"})}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_EQ(idx.error().message(),
            "fetch " + server_->url() + "/dists/nope/Release: 404 Not Found");

  Repository r = Repo(server_->url(), {"stable"});
  r.components = {"contrib"};
  idx = LoadAptIndex({r}, Options());
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(), HasSubstr(server_->url() + "/dists/stable/InRelease lists no "
                                                                "contrib/binary-amd64/Packages"));
}

TEST_F(AptRepoTest, ExpiredReleaseIsRejected) {
  AptOptions o = Options();
  o.now = 4102531200;  // 2100-01-02, a day after stable-updates' Valid-Until
  auto idx = LoadAptIndex({Repo(server_->url())}, o);
  ASSERT_FALSE(idx.ok());
  EXPECT_THAT(idx.error().message(),
              HasSubstr(server_->url() + "/dists/stable-updates/InRelease: Release file of "
                                         "stable-updates expired"));
}

TEST_F(AptRepoTest, OfflineUsesTheWarmCache) {
  TempDir dir;
  HttpServer server(fixture_->path(), dir / "server.log");
  ASSERT_TRUE(server.ok());
  std::string url = server.url();

  auto cold = LoadAptIndex({Repo(url)}, Options(/*offline=*/true));
  ASSERT_FALSE(cold.ok());
  EXPECT_THAT(cold.error().message(), HasSubstr(url + "/dists/stable/InRelease: not in the cache"));

  ASSERT_TRUE(LoadAptIndex({Repo(url)}, Options()).ok());
  server.Stop();
  auto idx = LoadAptIndex({Repo(url)}, Options(/*offline=*/true));
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_EQ(idx->indexes_cached, 2u);
  EXPECT_EQ(idx->packages.Find("libfoo", "amd64")->version, "1.2");
  EXPECT_EQ(idx->DebUrl(*idx->packages.Find("hello", "amd64")),
            url + "/pool/main/h/hello/hello_2.10-3_amd64.deb");

  // The cached InRelease is still checked against the keyring.
  Repository wrong = Repo(url);
  wrong.keyring = Keyring("wrong-keyring.gpg");
  auto bad = LoadAptIndex({wrong}, Options(/*offline=*/true));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("bad signature"));
  // Online, the stopped server is an error naming the URL.
  auto down = LoadAptIndex({Repo(url)}, Options());
  ASSERT_FALSE(down.ok());
  EXPECT_THAT(down.error().message(), HasSubstr("fetch " + url + "/dists/stable/InRelease: "));
}

// ---------------------------------------------------------------- .debs over HTTP

TEST_F(AptRepoTest, FetchDebsOfASolution) {
  TempDir dir;
  auto idx = LoadAptIndex({Repo(server_->url())}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  auto sol = debian::Resolve(idx->packages, {"hello", "needs-virtual"}, debian::SolveOptions{});
  ASSERT_TRUE(sol.ok()) << sol.error().message();
  std::vector<const debian::Package*> pkgs;
  for (const auto& s : sol->packages) pkgs.push_back(s.package);

  std::string debs = DebCacheDir(dir / "store");
  size_t downloaded = 0, cached = 0;
  DebFetchOptions fo;
  fo.progress = [&](const DebFetchEvent& e) { (e.cached ? cached : downloaded)++; };
  size_t gets = server_->Count("/repo/debian/pool/");
  auto paths = FetchDebs(*idx, pkgs, debs, fo);
  ASSERT_TRUE(paths.ok()) << paths.error().message();
  ASSERT_EQ(paths->size(), pkgs.size());
  for (size_t i = 0; i < pkgs.size(); i++) {
    EXPECT_EQ((*paths)[i], debs + "/" + pkgs[i]->sha256 + ".deb");
    auto d = Sha256File((*paths)[i]);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->hex(), pkgs[i]->sha256);
  }
  EXPECT_EQ(downloaded, pkgs.size());
  EXPECT_EQ(server_->Count("/repo/debian/pool/"), gets + pkgs.size());

  downloaded = cached = 0;
  paths = FetchDebs(*idx, pkgs, debs, fo);
  ASSERT_TRUE(paths.ok()) << paths.error().message();
  EXPECT_EQ(downloaded, 0u);
  EXPECT_EQ(cached, pkgs.size());
  EXPECT_EQ(server_->Count("/repo/debian/pool/"), gets + pkgs.size());
}

TEST_F(AptRepoTest, FetchDebsRejectsATamperedDeb) {
  TempDir dir;
  std::string repo = CopyRepo("tampered-deb");
  auto idx = LoadAptIndex({Repo(server_->url("tampered-deb"))}, Options());
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  const debian::Package* hello = idx->packages.Find("hello", "amd64");
  const debian::Package* base = idx->packages.Find("base-thing", "all");
  ASSERT_TRUE(FlipByte(repo + "/debian/" + hello->filename).ok());

  std::string debs = dir / "debs";
  auto paths = FetchDebs(*idx, {base, hello}, debs, {});
  ASSERT_FALSE(paths.ok());
  EXPECT_THAT(paths.error().message(), HasSubstr(idx->DebUrl(*hello) + ": SHA256 mismatch"));
  EXPECT_FALSE(fs::Exists(debs + "/" + hello->sha256 + ".deb"));
  auto names = fs::ListDir(debs);
  ASSERT_TRUE(names.ok());
  // base-thing, verified, stays; no partial file is left behind.
  EXPECT_EQ(*names, (std::vector<std::string>{base->sha256 + ".deb"}));
}

// ---------------------------------------------------------------- sources

TEST(AptSources, Deb822) {
  const char* text = R"(Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Enabled: no

Types: deb deb-src
URIs: http://a.example/x http://b.example/x
Suites: s
Components: c
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZZZZZZ
 -----END PGP PUBLIC KEY BLOCK-----
)";
  auto r = ParseDeb822Sources(text, "debian.sources");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].url, "http://deb.debian.org/debian");
  EXPECT_EQ((*r)[0].suites, (std::vector<std::string>{"bookworm", "bookworm-updates"}));
  EXPECT_EQ((*r)[0].components, (std::vector<std::string>{"main", "contrib"}));
  EXPECT_EQ((*r)[0].keyring, kDebianArchiveKeyring);
  EXPECT_EQ((*r)[1].url, "http://a.example/x");
  EXPECT_EQ((*r)[2].url, "http://b.example/x");
  EXPECT_EQ(
      (*r)[2].keyring,
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZZZZZZ\n-----END PGP PUBLIC KEY BLOCK-----");

  auto fpr = ParseDeb822Sources(
      "Types: deb\nURIs: http://x\nSuites: s\nComponents: c\n"
      "Signed-By: 0123456789ABCDEF\n",
      "x.sources");
  ASSERT_FALSE(fpr.ok());
  EXPECT_THAT(fpr.error().message(), HasSubstr("x.sources: line 5: Signed-By"));
  auto nouri = ParseDeb822Sources("Types: deb\nSuites: s\n", "y.sources");
  ASSERT_FALSE(nouri.ok());
  EXPECT_EQ(nouri.error().message(), "y.sources: line 1: no URIs");
}

TEST(AptSources, OneLine) {
  const char* text = R"(# comment
deb http://deb.debian.org/debian bookworm main contrib
deb-src http://deb.debian.org/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] https://example.com/apt/ stable main # tail

)";
  auto r = ParseOneLineSources(text, "sources.list");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].url, "http://deb.debian.org/debian");
  EXPECT_EQ((*r)[0].suites, std::vector<std::string>{"bookworm"});
  EXPECT_EQ((*r)[0].components, (std::vector<std::string>{"main", "contrib"}));
  EXPECT_EQ((*r)[0].keyring, kDebianArchiveKeyring);
  EXPECT_EQ((*r)[1].url, "https://example.com/apt");
  EXPECT_EQ((*r)[1].keyring, "/etc/apt/keyrings/x.gpg");

  auto bad = ParseOneLineSources("\ndeb http://x\n", "s.list");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "s.list: line 2: want \"deb URI SUITE [COMPONENT...]\"");
}

TEST(AptSources, SystemRepositoriesReadsWhatAptReads) {
  TempDir etc;
  ASSERT_TRUE(fs::MkdirAll(etc / "sources.list.d").ok());
  ASSERT_TRUE(fs::WriteFile(etc / "sources.list", "deb http://one/debian a main\n").ok());
  ASSERT_TRUE(fs::WriteFile(etc / "sources.list.d/b.sources",
                            "Types: deb\nURIs: http://three/debian\nSuites: c\nComponents: main\n")
                  .ok());
  ASSERT_TRUE(fs::WriteFile(etc / "sources.list.d/a.list", "deb http://two/debian b main\n").ok());
  ASSERT_TRUE(
      fs::WriteFile(etc / "sources.list.d/c.list.disabled-by-farm", "deb http://no/ x y\n").ok());
  ASSERT_TRUE(fs::WriteFile(etc / "sources.list.d/d.sources.save", "garbage").ok());
  auto r = SystemRepositories(etc.path());
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].url, "http://one/debian");
  EXPECT_EQ((*r)[1].url, "http://two/debian");
  EXPECT_EQ((*r)[2].url, "http://three/debian");
  EXPECT_EQ((*r)[2].keyring, kDebianArchiveKeyring);

  // The machine's own, when it has any: every entry is usable as given.
  auto sys = SystemRepositories();
  ASSERT_TRUE(sys.ok()) << sys.error().message();
  for (const Repository& repo : *sys) {
    EXPECT_FALSE(repo.url.empty());
    EXPECT_FALSE(repo.suites.empty());
  }
}

}  // namespace
}  // namespace husk::build
