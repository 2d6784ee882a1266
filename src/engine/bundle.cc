#include "engine/bundle.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "engine/overlay.h"
#include "oci/default_spec.h"

namespace husk::engine {
namespace {

constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Reads a file of the rootfs without following links out of it.
Result<std::string> ReadInRoot(const std::string& rootfs, const std::string& rel) {
  auto root = TRY(fs::Open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, root.get(), rel.c_str(), &how, sizeof(how)));
  if (fd < 0) return ErrnoErr("open {} in {}", rel, rootfs);
  UniqueFd f(fd);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(f.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {} in {}", rel, rootfs);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Looks a name up in a passwd/group style file: field 0 = name, field 2 = id;
// for passwd, field 3 is the primary group.
std::optional<std::vector<std::string>> LookupDbEntry(const std::string& db,
                                                      const std::string& name) {
  for (auto& line : strings::Split(db, '\n')) {
    auto f = strings::Split(line, ':');
    if (f.size() >= 4 && f[0] == name) return f;
  }
  return std::nullopt;
}

struct User {
  uint32_t uid = 0, gid = 0;
};

Result<User> ResolveUser(const std::string& spec, const std::string& rootfs) {
  User u;
  if (spec.empty()) return u;
  std::string user = spec, group;
  if (auto c = spec.find(':'); c != std::string::npos) {
    user = spec.substr(0, c);
    group = spec.substr(c + 1);
  }
  bool gid_set = false;
  if (auto n = strings::ParseUint(user)) {
    u.uid = static_cast<uint32_t>(*n);
    // A numeric uid still takes its primary group from passwd when listed.
    if (auto pw = ReadInRoot(rootfs, "/etc/passwd"); pw.ok()) {
      for (auto& line : strings::Split(*pw, '\n')) {
        auto f = strings::Split(line, ':');
        if (f.size() >= 4 && f[2] == user) {
          if (auto g = strings::ParseUint(f[3])) u.gid = static_cast<uint32_t>(*g), gid_set = true;
          break;
        }
      }
    }
    if (!gid_set) u.gid = 0;
  } else {
    auto pw = ReadInRoot(rootfs, "/etc/passwd");
    if (!pw) return Err("image user \"{}\": the image has no /etc/passwd", spec);
    auto e = LookupDbEntry(*pw, user);
    if (!e) return Err("image user \"{}\": no such user in /etc/passwd", spec);
    auto uid = strings::ParseUint((*e)[2]);
    auto gid = strings::ParseUint((*e)[3]);
    if (!uid || !gid) return Err("image user \"{}\": malformed /etc/passwd entry", spec);
    u.uid = static_cast<uint32_t>(*uid);
    u.gid = static_cast<uint32_t>(*gid);
  }
  if (!group.empty()) {
    if (auto n = strings::ParseUint(group)) {
      u.gid = static_cast<uint32_t>(*n);
    } else {
      auto gr = ReadInRoot(rootfs, "/etc/group");
      if (!gr) return Err("image user \"{}\": the image has no /etc/group", spec);
      auto e = LookupDbEntry(*gr, group);
      auto gid = e ? strings::ParseUint((*e)[2]) : std::nullopt;
      if (!gid) return Err("image user \"{}\": no such group in /etc/group", spec);
      u.gid = static_cast<uint32_t>(*gid);
    }
  }
  return u;
}

}  // namespace

Result<std::string> BundleSpecJson(const image::ImageConfig& cfg, const std::string& rootfs,
                                   const std::vector<std::string>& args) {
  auto spec = nlohmann::ordered_json::parse(oci::DefaultSpecJson(false));
  std::vector<std::string> argv = cfg.config.entrypoint;
  const auto& cmd = args.empty() ? cfg.config.cmd : args;
  argv.insert(argv.end(), cmd.begin(), cmd.end());
  if (argv.empty()) return Err("the image has no Entrypoint or Cmd: give a command");
  auto& proc = spec["process"];
  proc["terminal"] = false;
  proc["args"] = argv;
  std::vector<std::string> env = cfg.config.env;
  bool has_path = false;
  for (auto& e : env) has_path |= e.rfind("PATH=", 0) == 0;
  if (!has_path) env.insert(env.begin(), kDefaultPath);
  proc["env"] = env;
  proc["cwd"] = cfg.config.working_dir.empty() ? "/" : cfg.config.working_dir;
  auto user = TRY(ResolveUser(cfg.config.user, rootfs));
  proc["user"] = {{"uid", user.uid}, {"gid", user.gid}};
  spec["root"] = {{"path", "rootfs"}, {"readonly", false}};
  spec["hostname"] = "husk";
  nlohmann::ordered_json ann = nlohmann::ordered_json::object();
  for (auto& [k, v] : cfg.config.labels) ann[k] = v;
  if (!cfg.config.stop_signal.empty())
    ann["org.opencontainers.image.stopSignal"] = cfg.config.stop_signal;
  if (!cfg.created.empty()) ann["org.opencontainers.image.created"] = cfg.created;
  if (!ann.empty()) spec["annotations"] = ann;
  return spec.dump(2) + "\n";
}

}  // namespace husk::engine

namespace husk::engine {

Result<BundleResult> MakeBundle(store::Store& st, const std::string& image, const std::string& dir,
                                const BundleOptions& o) {
  auto img = TRY(st.Resolve(image));
  if (img.config.diff_ids.size() != img.manifest.layers.size())
    return Err("image {}: {} layers but {} DiffIDs in its config", image,
               img.manifest.layers.size(), img.config.diff_ids.size());
  std::string bundle = fs::Absolute(dir);
  if (fs::Exists(fs::Join(bundle, "config.json")) || fs::Exists(fs::Join(bundle, "rootfs")))
    return Err("bundle {}: already has a config.json or rootfs", bundle);
  bool created_dir = !fs::Exists(bundle);
  TRY(fs::MkdirAll(bundle, 0755));
  BundleResult res;
  res.rootfs = fs::Join(bundle, "rootfs");
  auto cleanup = [&](Error e) -> Error {
    if (res.overlay) ::umount2(res.rootfs.c_str(), MNT_DETACH);
    (void)fs::RemoveAll(res.rootfs);
    (void)fs::RemoveAll(fs::Join(bundle, ".husk"));
    if (created_dir) ::rmdir(bundle.c_str());
    return e.wrap("bundle " + bundle);
  };
  if (auto s = fs::MkdirAll(res.rootfs, 0755); !s) return cleanup(std::move(s).error());

  // Layers unpacked into the store (a pull did this already; `load` may not have).
  auto chains = image::ChainIds(img.config.diff_ids);
  std::vector<std::string> lowers;
  std::vector<Digest> blobs;
  for (size_t i = 0; i < chains.size(); i++) blobs.push_back(img.manifest.layers[i].digest);
  bool use_overlay = !o.copy && geteuid() == 0 && OverlaySupported(st.root());
  if (use_overlay) {
    for (size_t i = 0; i < chains.size(); i++) {
      auto li = st.EnsureLayer(chains[i], blobs[i], img.config.diff_ids[i]);
      if (!li) return cleanup(std::move(li).error());
      lowers.insert(lowers.begin(), li->path);
    }
    auto upper = fs::Join(bundle, ".husk/upper"), work = fs::Join(bundle, ".husk/work");
    auto empty = fs::Join(bundle, ".husk/empty");
    for (auto* d : {&upper, &work, &empty}) {
      if (auto s = fs::MkdirAll(*d, 0755); !s) return cleanup(std::move(s).error());
    }
    if (lowers.empty()) lowers.push_back(empty);  // overlay wants at least one lower
    if (auto s = MountOverlay(lowers, upper, work, res.rootfs); !s)
      return cleanup(std::move(s).error());
    res.overlay = true;
  } else if (auto s = st.FlattenInto(blobs, res.rootfs); !s) {
    return cleanup(std::move(s).error());
  }
  auto spec = BundleSpecJson(img.config, res.rootfs, o.args);
  if (!spec) return cleanup(std::move(spec).error());
  if (auto s = fs::WriteFileAtomic(fs::Join(bundle, "config.json"), *spec); !s)
    return cleanup(std::move(s).error());
  return res;
}

Status RemoveBundle(const std::string& dir) {
  std::string bundle = fs::Absolute(dir);
  auto rootfs = fs::Join(bundle, "rootfs");
  if (!fs::Exists(fs::Join(bundle, "config.json")) && !fs::Exists(rootfs))
    return Err("{} is not a bundle", bundle);
  if (fs::Exists(fs::Join(bundle, ".husk")) && ::umount2(rootfs.c_str(), MNT_DETACH) != 0 &&
      errno != EINVAL && errno != ENOENT)
    return ErrnoErr("unmount {}", rootfs);
  return fs::RemoveAll(bundle);
}

}  // namespace husk::engine
