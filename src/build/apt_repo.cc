#include "build/apt_repo.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "archive/decompress.h"
#include "base/fs.h"
#include "base/strings.h"
#include "debian/deb822.h"
#include "digest/digest.h"

extern char** environ;

namespace husk::build {
namespace {

// ---------------------------------------------------------------- helpers

std::string_view TrimSlashes(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return s;
}

// Splits on blanks, newlines and (for Signed-By and option lists) commas.
std::vector<std::string> Words(std::string_view s, bool commas = false) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || (commas && c == ',')) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr std::string_view kArmoredKey = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

// Signed-By holds a keyring path, or (deb822 only) the armored key itself.
Result<std::string> SignedBy(std::string_view value, std::string_view where) {
  if (value.find(kArmoredKey) != std::string_view::npos) {
    return std::string(strings::Trim(debian::UnfoldText(value)));
  }
  std::vector<std::string> w = Words(value, /*commas=*/true);
  if (w.empty()) return std::string(kDebianArchiveKeyring);
  if (w.size() > 1) return Err("{}: Signed-By names several keyrings; husk takes one", where);
  if (w[0].empty() || w[0][0] != '/')
    return Err(
        "{}: Signed-By \"{}\" is not an absolute keyring path (fingerprints are not "
        "supported)",
        where, w[0]);
  return w[0];
}

// ---------------------------------------------------------------- subprocesses

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> Make(std::string_view prefix) {
    const char* base = getenv("TMPDIR");
    std::string tmpl = fs::Join(base && *base ? base : "/tmp", std::string(prefix) + ".XXXXXX");
    if (!mkdtemp(tmpl.data())) return ErrnoErr("mkdtemp {}", tmpl);
    TempDir t;
    t.path_ = tmpl;
    return t;
  }
  TempDir(TempDir&& o) noexcept : path_(std::exchange(o.path_, "")) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (!path_.empty()) (void)fs::RemoveAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  TempDir() = default;
  std::string path_;
};

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (searched in PATH) with stdin on /dev/null and the C locale,
// so messages are English and the status protocol is what we parse. stderr
// goes through a file in `scratch`: reading two pipes needs poll, a file does not.
Result<RunResult> Run(const std::vector<std::string>& argv, const std::string& scratch) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    if (strings::StartsWith(kv, "LC_ALL=") || strings::StartsWith(kv, "LANGUAGE=")) continue;
    env_store.emplace_back(kv);
  }
  env_store.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return ErrnoErr("{}: pipe", argv[0]);
  UniqueFd rd(p[0]), wr(p[1]);
  std::string err_path = fs::Join(scratch, "stderr");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  // Other threads' sockets (libcurl does not open them close-on-exec) stay here.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc == ENOENT) return Err("{} not found (install the {} package)", argv[0], argv[0]);
  if (rc != 0) return CodeErr(rc, "run {}", argv[0]);
  wr.reset();
  RunResult r;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (r.out.size() < (1 << 20)) r.out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoErr("wait for {}", argv[0]);
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = fs::ReadFile(err_path).value_or("");
  return r;
}

// gpg's human-readable complaints, without the lines that only describe the
// signature ("Signature made", "using EDDSA key") or praise a good one.
std::string GpgComplaints(std::string_view err, std::string_view tool) {
  std::vector<std::string> keep;
  std::string prefix = std::string(tool) + ": ";
  for (const std::string& line : strings::Split(err, '\n')) {
    std::string_view l = strings::Trim(line);
    if (l.empty()) continue;
    std::string_view msg = strings::StartsWith(l, prefix) ? l.substr(prefix.size()) : l;
    if (msg.empty() || msg[0] == ' ' || strings::StartsWith(msg, "Signature made") ||
        strings::StartsWith(msg, "Good signature") || strings::StartsWith(msg, "aka ") ||
        strings::StartsWith(msg, "issuer ") || strings::StartsWith(msg, "using ") ||
        strings::StartsWith(msg, "WARNING: not a detached signature"))
      continue;
    keep.push_back(std::string(tool) + ": " + std::string(strings::Trim(msg)));
  }
  return strings::Join(keep, "; ");
}

// The keyring as gpgv reads it: binary keyrings as they are, armored ones
// (by content, whatever the file is called) dearmored into `dir`.
Result<std::string> BinaryKeyring(const std::string& keyring, const std::string& dir) {
  std::string armored_path;
  bool inline_key = strings::StartsWith(strings::Trim(keyring), "-----BEGIN");
  if (inline_key) {
    armored_path = fs::Join(dir, "inline.asc");
    TRY(fs::WriteFile(armored_path, keyring, 0600));
  } else {
    std::string path = fs::Absolute(keyring);
    auto fd = fs::Open(path, O_RDONLY | O_CLOEXEC);
    if (!fd) return std::move(fd).error().wrap("keyring");
    char head[64] = {0};
    ssize_t n = ::pread(fd->get(), head, sizeof head - 1, 0);
    if (n < 0) return ErrnoErr("read keyring {}", path);
    if (!strings::StartsWith(strings::Trim(std::string_view(head, static_cast<size_t>(n))),
                             "-----BEGIN"))
      return path;
    armored_path = path;
  }
  std::string out = fs::Join(dir, "keyring.gpg");
  RunResult r = TRY(Run({"gpg", "--batch", "--no-options", "--homedir", dir, "--dearmor",
                         "--output", out, armored_path},
                        dir));
  if (r.exit_code != 0) {
    std::string why = GpgComplaints(r.err, "gpg");
    return Err("dearmor keyring {}: {}", inline_key ? "(inline Signed-By)" : armored_path,
               why.empty() ? "gpg failed" : why);
  }
  return out;
}

std::string_view HashName(std::string_view id) {
  if (id == "1") return "MD5";
  if (id == "2") return "SHA-1";
  if (id == "3") return "RIPEMD-160";
  return "";
}

// ---------------------------------------------------------------- apt's cache names

// What apt calls a URI's list file name: no scheme or credentials, '/' -> '_',
// and the characters that would make two names collide percent-encoded.
std::string ListFileName(std::string_view url) {
  if (auto p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  if (auto at = url.find('@'), slash = url.find('/');
      at != std::string_view::npos && (slash == std::string_view::npos || at < slash))
    url.remove_prefix(at + 1);
  std::string out;
  for (char c : url) {
    if (c == '/') {
      out.push_back('_');
    } else if (c == '_' || c == '%' || static_cast<unsigned char>(c) <= ' ' ||
               static_cast<unsigned char>(c) >= 0x7f) {
      out += fmt::format("%{:02x}", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------- HTTP

void CurlGlobalInit() {
  // curl_global_init is not thread-safe on every build; once is enough.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view Reason(long status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 407:
      return "Proxy Authentication Required";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

struct Transfer {
  const HttpClient::Sink* sink;
  Status error;
};

size_t OnWrite(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t len = size * n;
  Status st = (*t->sink)(std::string_view(data, len));
  if (!st) {
    t->error = std::move(st);
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  return len;
}

}  // namespace

HttpClient::HttpClient() {
  CurlGlobalInit();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Status HttpClient::Get(const std::string& url, const Sink& sink, bool* not_found) {
  if (not_found) *not_found = false;
  auto* c = static_cast<CURL*>(curl_);
  if (!c) return Err("fetch {}: cannot create a curl handle", url);
  // Forgets the previous request's options but keeps its connection.
  curl_easy_reset(c);
  Transfer t{&sink, Ok()};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // A mirror that sends nothing for a minute is cut off rather than waited on forever.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "husk-build");
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return Ok();
  if (rc == CURLE_WRITE_ERROR && !t.error.ok()) return std::move(t.error);
  if (rc == CURLE_HTTP_RETURNED_ERROR) {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (not_found) *not_found = status == 404 || status == 410;
    std::string_view reason = Reason(status);
    return Err("fetch {}: {}{}{}", url, status, reason.empty() ? "" : " ", reason);
  }
  if (rc == CURLE_FILE_COULDNT_READ_FILE) {
    if (not_found) *not_found = true;
    return CodeErr(ENOENT, "fetch {}", url);
  }
  long os_errno = 0;
  curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno != 0 && rc == CURLE_COULDNT_CONNECT)
    return CodeErr(static_cast<int>(os_errno), "fetch {}", url);
  return Err("fetch {}: {}", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
}

Result<std::string> HttpClient::GetString(const std::string& url, size_t max_bytes,
                                          bool* not_found) {
  std::string body;
  TRY(Get(
      url,
      [&](std::string_view chunk) -> Status {
        if (body.size() + chunk.size() > max_bytes)
          return Err("fetch {}: larger than {} bytes", url, max_bytes);
        body.append(chunk);
        return Ok();
      },
      not_found));
  return body;
}

// ---------------------------------------------------------------- sources

Result<std::vector<Repository>> ParseDeb822Sources(std::string_view text, std::string_view origin) {
  auto paragraphs = TRY_CTX(debian::ParseDeb822(text), "{}", origin);
  std::vector<Repository> out;
  for (const debian::Paragraph& p : paragraphs) {
    auto where = [&](std::string_view field) {
      return fmt::format("{}: line {}", origin, p.LineOf(field));
    };
    std::string_view enabled = strings::Trim(p.Get("Enabled"));
    if (enabled == "no" || enabled == "No" || enabled == "false") continue;
    std::vector<std::string> types = Words(p.Get("Types"));
    if (std::find(types.begin(), types.end(), "deb") == types.end()) continue;
    std::vector<std::string> uris = Words(p.Get("URIs"));
    std::vector<std::string> suites = Words(p.Get("Suites"));
    std::vector<std::string> components = Words(p.Get("Components"));
    if (uris.empty()) return Err("{}: no URIs", where("Types"));
    if (suites.empty()) return Err("{}: no Suites", where("Types"));
    std::string keyring = TRY(SignedBy(p.Get("Signed-By"), where("Signed-By")));
    for (const std::string& uri : uris) {
      out.push_back(Repository{std::string(TrimSlashes(uri)), suites, components, keyring});
    }
  }
  return out;
}

Result<std::vector<Repository>> ParseOneLineSources(std::string_view text,
                                                    std::string_view origin) {
  std::vector<Repository> out;
  uint32_t lineno = 0;
  for (const std::string& raw : strings::Split(text, '\n')) {
    lineno++;
    std::string_view line = raw;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = strings::Trim(line);
    if (line.empty()) continue;
    std::string where = fmt::format("{}: line {}", origin, lineno);
    std::string options;
    std::string rest;
    // "[opt=v opt2=v2]" sits between the type and the URI.
    auto open = line.find('[');
    if (open != std::string_view::npos) {
      auto close = line.find(']', open);
      if (close == std::string_view::npos) return Err("{}: unterminated [options]", where);
      options = std::string(line.substr(open + 1, close - open - 1));
      rest = std::string(line.substr(0, open)) + " " + std::string(line.substr(close + 1));
    } else {
      rest = std::string(line);
    }
    std::vector<std::string> w = Words(rest);
    if (w.empty()) return Err("{}: no type", where);
    if (w[0] != "deb") {
      if (w[0] == "deb-src") continue;
      return Err("{}: unknown type \"{}\"", where, w[0]);
    }
    if (w.size() < 3) return Err("{}: want \"deb URI SUITE [COMPONENT...]\"", where);
    std::string keyring = kDebianArchiveKeyring;
    for (const std::string& opt : Words(options)) {
      auto eq = opt.find('=');
      if (eq == std::string::npos) continue;
      std::string key = opt.substr(0, eq);
      if (key == "signed-by") keyring = TRY(SignedBy(opt.substr(eq + 1), where));
    }
    Repository r;
    r.url = std::string(TrimSlashes(w[1]));
    r.suites = {w[2]};
    r.components.assign(w.begin() + 3, w.end());
    r.keyring = keyring;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<Repository>> SystemRepositories(const std::string& etc_apt) {
  std::vector<Repository> out;
  auto append = [&](std::vector<Repository> more) {
    for (auto& r : more) out.push_back(std::move(r));
  };
  std::string list = fs::Join(etc_apt, "sources.list");
  if (fs::Exists(list)) {
    std::string text = TRY(fs::ReadFile(list));
    append(TRY(ParseOneLineSources(text, list)));
  }
  std::string dir = fs::Join(etc_apt, "sources.list.d");
  if (fs::IsDir(dir)) {
    for (const std::string& name : TRY(fs::ListDir(dir))) {
      std::string path = fs::Join(dir, name);
      // apt reads only these two extensions: .disabled, .save, .dpkg-dist... are off.
      if (EndsWith(name, ".sources")) {
        std::string text = TRY(fs::ReadFile(path));
        append(TRY(ParseDeb822Sources(text, path)));
      } else if (EndsWith(name, ".list")) {
        std::string text = TRY(fs::ReadFile(path));
        append(TRY(ParseOneLineSources(text, path)));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- signatures

Status VerifySignature(const std::string& keyring, const std::string& data,
                       const std::string& sig) {
  TempDir tmp = TRY(TempDir::Make("husk-gpgv"));
  std::string ring = TRY(BinaryKeyring(keyring, tmp.path()));
  std::string data_path = fs::Join(tmp.path(), "data");
  TRY(fs::WriteFile(data_path, data, 0600));
  // --homedir keeps gpgv away from the user's ~/.gnupg and its trustedkeys.kbx:
  // only the repository's keyring counts.
  std::vector<std::string> argv = {"gpgv", "--homedir", tmp.path(), "--status-fd",
                                   "1",    "--keyring", ring};
  if (!sig.empty()) {
    std::string sig_path = fs::Join(tmp.path(), "data.sig");
    TRY(fs::WriteFile(sig_path, sig, 0600));
    argv.push_back(sig_path);
  }
  argv.push_back(data_path);
  RunResult r = TRY(Run(argv, tmp.path()));

  // Release files carry several signatures (one per archive key); apt accepts
  // one good signature when the others are only by keys it lacks, and none
  // when any signature is bad.
  size_t good = 0;
  bool bad = false;
  std::string weak;
  for (const std::string& line : strings::Split(r.out, '\n')) {
    if (!strings::StartsWith(line, "[GNUPG:] ")) continue;
    std::vector<std::string> w = Words(std::string_view(line).substr(9));
    if (w.empty()) continue;
    if (w[0] == "BADSIG") bad = true;
    if (w[0] == "VALIDSIG" && w.size() > 8) {
      std::string_view h = HashName(w[8]);
      if (h.empty()) {
        good++;
      } else {
        weak = std::string(h);
      }
    }
  }
  bool exit_ok = r.exit_code == 0 || (r.exit_code == 2 && good > 0);
  if (exit_ok && good > 0 && !bad) return Ok();
  std::string why = GpgComplaints(r.err, "gpgv");
  if (!weak.empty() && good == 0 && !bad)
    why = fmt::format("signed with the weak digest algorithm {}", weak);
  if (why.empty())
    why = fmt::format("gpgv exited with status {} and no valid signature", r.exit_code);
  return Err("bad signature ({})", why);
}

// ---------------------------------------------------------------- indexes

const std::string& AptIndex::BaseUrl(const debian::Package& p) const {
  static const std::string kNone;
  return p.origin >= 1 && p.origin <= suites.size() ? suites[p.origin - 1].base_url : kNone;
}

std::string AptIndex::DebUrl(const debian::Package& p) const {
  return BaseUrl(p) + "/" + p.filename;
}

namespace {

constexpr size_t kMaxReleaseBytes = 64 << 20;
// Index files no load has used for this long are removed from the cache.
constexpr int64_t kCacheMaxIdleSeconds = 14 * 86400;

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A whole file mapped read-only: a cached 50 MB Packages file is hashed and
// parsed in place, without a copy.
class MappedFile {
 public:
  static Result<MappedFile> Open(const std::string& path) {
    auto fd = TRY(fs::Open(path, O_RDONLY | O_CLOEXEC));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoErr("stat {}", path);
    MappedFile m;
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ == 0) return m;  // mmap refuses empty mappings
    m.addr_ = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (m.addr_ == MAP_FAILED) {
      m.addr_ = nullptr;
      return ErrnoErr("mmap {}", path);
    }
    return m;
  }
  MappedFile(MappedFile&& o) noexcept
      : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (addr_) ::munmap(addr_, size_);
  }
  std::string_view data() const {
    return addr_ ? std::string_view(static_cast<const char*>(addr_), size_) : std::string_view();
  }

 private:
  MappedFile() = default;
  void* addr_ = nullptr;
  size_t size_ = 0;
};

// Writes a cache file under a temporary name of its own, then renames it:
// loads running in parallel (threads or processes) may write the same name.
Status WriteCacheFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp.XXXXXX";
  int raw = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (raw < 0) return ErrnoErr("create {}", tmp);
  UniqueFd fd(raw);
  Status st = Ok();
  while (!data.empty() && st.ok()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno != EINTR) st = ErrnoErr("write {}", tmp);
    if (n > 0) data.remove_prefix(static_cast<size_t>(n));
  }
  if (st.ok() && ::fchmod(fd.get(), 0644) != 0) st = ErrnoErr("chmod {}", tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = ErrnoErr("rename {} to {}", tmp, path);
  if (!st.ok()) ::unlink(tmp.c_str());
  return st;
}

// One repository x suite, loaded by one thread.
struct SuiteJob {
  const Repository* repo = nullptr;
  std::string suite;
  std::string release_url;     // set by FetchRelease
  std::string release_sha256;  // set by CheckReleases
  // Results.
  Status status;
  LoadedSuite loaded;
  std::vector<debian::Package> packages;
  size_t downloaded = 0, cached = 0;
};

class Loader {
 public:
  explicit Loader(const AptOptions& o) : o_(o), dir_(fs::Join(o.cache_dir, "indexes")) {}

  const std::string& dir() const { return dir_; }

  // The suite's verified InRelease (or Release) text, kept in the cache for
  // offline builds; job.release_url says where it came from.
  Result<std::string> FetchRelease(SuiteJob& job, HttpClient& http) {
    std::string base(TrimSlashes(job.repo->url));
    if (!job.suite.empty() && job.suite.back() == '/')
      return Err("{}: suite \"{}\" is a flat repository, which husk does not support", base,
                 job.suite);
    std::string dists = fmt::format("{}/dists/{}", base, job.suite);
    std::string keyring = job.repo->keyring.empty() ? kDebianArchiveKeyring : job.repo->keyring;
    std::string list = fs::Join(dir_, ListFileName(dists + "/"));

    // InRelease, or Release with its detached Release.gpg; kept after
    // verification, under the names apt uses, for offline builds.
    std::string url = dists + "/InRelease";
    std::string inrelease, release, release_sig;
    const bool from_cache = o_.offline || o_.cached_releases;
    if (from_cache) {
      if (fs::Exists(list + "InRelease")) {
        inrelease = TRY(fs::ReadFile(list + "InRelease"));
      } else if (fs::Exists(list + "Release") && fs::Exists(list + "Release.gpg")) {
        url = dists + "/Release";
        release = TRY(fs::ReadFile(list + "Release"));
        release_sig = TRY(fs::ReadFile(list + "Release.gpg"));
      } else {
        return Err("{}: not in the cache {} (offline)", url, dir_);
      }
    } else {
      Log("Get " + url);
      bool not_found = false;
      auto got = http.GetString(url, kMaxReleaseBytes, &not_found);
      if (got) {
        inrelease = std::move(*got);
      } else if (not_found) {
        url = dists + "/Release";
        Log("Get " + url);
        release = TRY(http.GetString(url, kMaxReleaseBytes));
        release_sig = TRY(http.GetString(url + ".gpg", kMaxReleaseBytes));
      } else {
        return std::move(got).error();
      }
    }

    std::string text;
    if (!inrelease.empty()) {
      TRY_CTX(VerifySignature(keyring, inrelease), "{}", url);
      text = TRY_CTX(debian::StripClearsign(inrelease), "{}", url);
    } else {
      TRY_CTX(VerifySignature(keyring, release, release_sig), "{}", url);
      text = release;
    }
    if (!from_cache) {
      if (!inrelease.empty()) {
        TRY(WriteCacheFile(list + "InRelease", inrelease));
      } else {
        TRY(WriteCacheFile(list + "Release", release));
        TRY(WriteCacheFile(list + "Release.gpg", release_sig));
      }
    }
    job.release_url = url;
    return text;
  }

  Status Load(SuiteJob& job, HttpClient& http) {
    std::string text = TRY(FetchRelease(job, http));
    const std::string& url = job.release_url;
    debian::Release rel = TRY_CTX(debian::ParseRelease(text), "{}", url);
    TRY_CTX(rel.CheckValidUntil(o_.now), "{}", url);
    std::string base(TrimSlashes(job.repo->url));
    std::string dists = fmt::format("{}/dists/{}", base, job.suite);
    for (const std::string& component : job.repo->components)
      TRY(FetchPackages(job, http, rel, url, dists, component));
    job.loaded = LoadedSuite{base, job.suite, url, std::move(rel)};
    return Ok();
  }

 private:
  void Log(const std::string& line) {
    if (!o_.log) return;
    std::lock_guard lock(log_mu_);
    o_.log(line);
  }

  // Parses the Packages index of a component into job.packages. The cache is
  // tried first: the decompressed index by the hash the Release gives for
  // it (Debian's lists it though mirrors do not serve it), which saves
  // decompressing 50 MB of xz on every build; then a compressed form. Else
  // each form the Release lists is downloaded, best compression first, by
  // hash first when the archive offers it.
  Status FetchPackages(SuiteJob& job, HttpClient& http, const debian::Release& rel,
                       const std::string& release_url, const std::string& dists,
                       const std::string& component) {
    std::string base = fmt::format("{}/binary-{}/Packages", component, o_.arch);
    std::string origin = dists + "/" + base;
    const debian::ReleaseEntry* plain = rel.Find(base);
    std::vector<const debian::ReleaseEntry*> entries;
    for (std::string_view ext : {".xz", ".gz", ""})
      if (const debian::ReleaseEntry* e = rel.Find(base + std::string(ext))) entries.push_back(e);
    if (entries.empty())
      return Err("{} lists no {} (is {} or {} missing from the suite?)", release_url, base,
                 component, o_.arch);

    if (plain) {
      if (auto m = ReadCached(*plain)) {
        job.cached++;
        return Parse(job, m->data(), origin);
      }
    }
    for (const debian::ReleaseEntry* e : entries) {
      if (e == plain) continue;
      if (auto m = ReadCached(*e)) {
        job.cached++;
        return Unpack(job, *e, plain, m->data(), dists + "/" + e->path, origin, /*cached=*/true);
      }
    }
    if (o_.offline)
      return Err("{}/{}: not in the cache {} (offline)", dists, entries[0]->path, dir_);

    Error last = Err("{}: no index", origin);
    for (const debian::ReleaseEntry* e : entries) {
      std::vector<std::string> urls;
      if (rel.acquire_by_hash) urls.push_back(dists + "/" + debian::ByHashPath(*e));
      urls.push_back(dists + "/" + e->path);
      for (const std::string& u : urls) {
        Log("Get " + u);
        bool not_found = false;
        auto data = Download(http, u, *e, &not_found);
        if (!data) {
          // A mirror mid-sync may lack the by-hash file or one compression: try the next.
          if (!not_found) return std::move(data).error();
          last = std::move(data).error();
          continue;
        }
        job.downloaded++;
        return Unpack(job, *e, plain, *data, u, origin, /*cached=*/false);
      }
    }
    return last;
  }

  // Decompresses a verified index, keeps the decompressed text in the cache
  // when the Release vouches for it (else the file as it came) and parses it.
  Status Unpack(SuiteJob& job, const debian::ReleaseEntry& e, const debian::ReleaseEntry* plain,
                std::string_view data, const std::string& url, const std::string& origin,
                bool cached) {
    if (&e == plain) {
      TRY(WriteCacheFile(fs::Join(dir_, e.sha256), data));
      return Parse(job, data, origin);
    }
    std::string text = TRY(Decompress(data, url, plain ? plain->size : 0));
    if (plain) {
      if (text.size() != plain->size || Sha256Of(text).hex() != plain->sha256)
        return Err("{}: decompressed, it does not match the Release file's {}", url, plain->path);
      TRY(WriteCacheFile(fs::Join(dir_, plain->sha256), text));
    } else if (!cached) {
      TRY(WriteCacheFile(fs::Join(dir_, e.sha256), data));
    }
    return Parse(job, text, origin);
  }

  // Parses a Packages index into job.packages. Debian's main (45 MB, 63,000
  // stanzas) is most of a warm build's time, so a large index is cut at
  // paragraph boundaries into a piece per core, parsed at once, and the
  // pieces joined in order: the result is the same as one pass.
  static Status Parse(SuiteJob& job, std::string_view text, const std::string& origin) {
    constexpr size_t kMinPiece = 4 << 20;
    size_t cores = std::max(1u, std::thread::hardware_concurrency());
    size_t n = std::clamp<size_t>(text.size() / kMinPiece, 1, std::min<size_t>(cores, 8));
    std::vector<size_t> cut = {0};
    for (size_t i = 1; i < n; i++) {
      size_t at = text.find("\n\n", std::max(cut.back(), text.size() * i / n));
      if (at == std::string_view::npos) break;
      cut.push_back(at + 2);
    }
    cut.push_back(text.size());
    const size_t pieces = cut.size() - 1;
    std::vector<std::vector<debian::Package>> parsed(pieces);
    std::vector<Status> status(pieces, Ok());
    auto parse_piece = [&](size_t i) {
      std::string_view piece = text.substr(cut[i], cut[i + 1] - cut[i]);
      auto first_line = static_cast<uint32_t>(
          1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(cut[i]), '\n'));
      status[i] = ParsePiece(piece, first_line, origin, &parsed[i]);
    };
    std::vector<std::thread> threads;
    for (size_t i = 1; i < pieces; i++) threads.emplace_back(parse_piece, i);
    parse_piece(0);
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < pieces; i++) TRY(std::move(status[i]));
    size_t total = job.packages.size();
    for (const auto& v : parsed) total += v.size();
    job.packages.reserve(total);
    for (auto& v : parsed) std::move(v.begin(), v.end(), std::back_inserter(job.packages));
    return Ok();
  }

  static Status ParsePiece(std::string_view text, uint32_t first_line, const std::string& origin,
                           std::vector<debian::Package>* out) {
    // Debian's stanzas average some 800 bytes: one allocation instead of a
    // dozen reallocations moving every package each time.
    out->reserve(text.size() / 800);
    debian::Deb822Reader reader(text, first_line);
    debian::Paragraph para;
    for (;;) {
      bool more = TRY_CTX(reader.Next(&para), "{}", origin);
      if (!more) return Ok();
      auto pkg = debian::ParsePackage(para);
      if (!pkg) return std::move(pkg).error().wrap(fmt::format("{}: line {}", origin, para.line()));
      out->push_back(std::move(*pkg));
    }
  }

  // A cached index, if present and still what the Release says; its mtime is
  // refreshed so that pruning sees it is in use.
  std::optional<MappedFile> ReadCached(const debian::ReleaseEntry& e) const {
    std::string path = fs::Join(dir_, e.sha256);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != e.size)
      return std::nullopt;
    auto m = MappedFile::Open(path);
    if (!m || Sha256Of(m->data()).hex() != e.sha256) return std::nullopt;
    (void)::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
    return std::move(*m);
  }

  static Result<std::string> Download(HttpClient& http, const std::string& url,
                                      const debian::ReleaseEntry& e, bool* not_found) {
    std::string data;
    data.reserve(e.size);
    TRY(http.Get(
        url,
        [&](std::string_view chunk) -> Status {
          if (data.size() + chunk.size() > e.size)
            return Err("{}: larger than the {} bytes the Release file gives", url, e.size);
          data.append(chunk);
          return Ok();
        },
        not_found));
    if (data.size() != e.size)
      return Err("{}: size mismatch (got {} bytes, the Release file says {})", url, data.size(),
                 e.size);
    std::string got = Sha256Of(data).hex();
    if (got != e.sha256)
      return Err("{}: SHA256 mismatch (got {}, the Release file says {})", url, got, e.sha256);
    return data;
  }

  // `expected`: the decompressed size the Release gives, or 0 when unknown;
  // more than that is cut short rather than read to the end.
  static Result<std::string> Decompress(std::string_view data, const std::string& url,
                                        uint64_t expected) {
    archive::StringReader src(data);
    archive::DecompressReader dec(src);
    std::string out;
    out.reserve(expected ? expected : data.size() * 5);
    char buf[1 << 16];
    for (;;) {
      size_t n = TRY_CTX(dec.Read(buf, sizeof buf), "{}", url);
      if (n == 0) break;
      out.append(buf, n);
      if (expected && out.size() > expected)
        return Err("{}: decompresses to more than the {} bytes the Release file gives", url,
                   expected);
    }
    return out;
  }

  const AptOptions& o_;
  std::string dir_;
  std::mutex log_mu_;
};

// Removes index files that no suite of this load names and that no load has
// used for kCacheMaxIdleSeconds (other projects sharing the cache keep theirs
// fresh by using them), and temporary files left by a crash.
void PruneIndexCache(const std::string& dir, const std::vector<SuiteJob>& jobs, int64_t now) {
  std::set<std::string> keep;
  for (const SuiteJob& j : jobs)
    for (const debian::ReleaseEntry& e : j.loaded.release.files) keep.insert(e.sha256);
  auto names = fs::ListDir(dir);
  if (!names) return;
  for (const std::string& name : *names) {
    bool tmp = name.find(".tmp.") != std::string::npos;
    if (!tmp && (!IsHex64(name) || keep.count(name))) continue;
    std::string path = fs::Join(dir, name);
    struct stat st;
    int64_t idle = tmp ? 86400 : kCacheMaxIdleSeconds;
    if (::stat(path.c_str(), &st) == 0 && now - st.st_mtime > idle) ::unlink(path.c_str());
  }
}

// One job per repository and suite, in order, each run by `fn` with an HTTP
// client of its thread. A few suites at once: each is an InRelease round
// trip, a gpgv run and a parse, so a build with main, updates and security
// waits for the slowest rather than the sum.
template <typename Fn>
Result<std::vector<SuiteJob>> RunSuiteJobs(const std::vector<Repository>& repos,
                                           const AptOptions& o, Fn fn) {
  std::vector<SuiteJob> jobs;
  for (const Repository& r : repos) {
    if (r.suites.empty()) return Err("repository {}: no suites", r.url);
    for (const std::string& s : r.suites) {
      SuiteJob j;
      j.repo = &r;
      j.suite = s;
      jobs.push_back(std::move(j));
    }
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    HttpClient http;
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) jobs[i].status = fn(jobs[i], http);
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(o.jobs, 1)), 1, jobs.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; t++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  return jobs;
}

Result<AptOptions> Prepared(const std::vector<Repository>& repos, const AptOptions& opts) {
  if (opts.cache_dir.empty()) return Err("load apt indexes: no cache directory");
  if (repos.empty()) return Err("load apt indexes: no repositories");
  AptOptions o = opts;
  if (o.now == 0) o.now = static_cast<int64_t>(::time(nullptr));
  TRY(fs::MkdirAll(fs::Join(o.cache_dir, "indexes")));
  return o;
}

}  // namespace

Result<std::string> CheckReleases(const std::vector<Repository>& repos, const AptOptions& opts) {
  AptOptions o = TRY(Prepared(repos, opts));
  Loader loader(o);
  std::vector<std::string> digests;
  auto jobs = TRY(RunSuiteJobs(repos, o, [&](SuiteJob& job, HttpClient& http) -> Status {
    std::string text = TRY(loader.FetchRelease(job, http));
    debian::Release rel = TRY_CTX(debian::ParseRelease(text), "{}", job.release_url);
    TRY_CTX(rel.CheckValidUntil(o.now), "{}", job.release_url);
    job.release_sha256 = Sha256Of(text).hex();
    return Ok();
  }));
  Sha256 h;
  for (SuiteJob& j : jobs) {
    if (!j.status) return std::move(j.status).error();
    for (std::string_view part : {std::string_view(j.release_url), std::string_view(o.arch),
                                  std::string_view(j.release_sha256)}) {
      h.Update(part);
      h.Update("\n");
    }
    for (const std::string& c : j.repo->components) {
      h.Update(c);
      h.Update(" ");
    }
    h.Update("\n");
  }
  return h.Final().hex();
}

Result<AptIndex> LoadAptIndex(const std::vector<Repository>& repos, const AptOptions& opts) {
  AptOptions o = TRY(Prepared(repos, opts));
  Loader loader(o);
  auto jobs = TRY(RunSuiteJobs(
      repos, o, [&](SuiteJob& job, HttpClient& http) { return loader.Load(job, http); }));

  for (SuiteJob& j : jobs) {
    if (!j.status) return std::move(j.status).error();
  }
  if (!o.offline) PruneIndexCache(loader.dir(), jobs, static_cast<int64_t>(::time(nullptr)));

  AptIndex index;
  for (SuiteJob& j : jobs) {
    index.indexes_downloaded += j.downloaded;
    index.indexes_cached += j.cached;
    index.suites.push_back(std::move(j.loaded));
    const auto origin = static_cast<uint32_t>(index.suites.size());
    for (debian::Package& p : j.packages) {
      p.origin = origin;
      index.packages.Add(std::move(p));
    }
  }
  return index;
}

}  // namespace husk::build
