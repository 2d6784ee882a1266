#include "engine/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace husk::engine {
namespace {

// Overlay's mount options are split at ',' and lowerdir at ':'; such paths need escaping
// that old kernels do not all understand, so refuse them instead.
Status CheckPath(const std::string& p) {
  if (p.find_first_of(",:") != std::string::npos)
    return Err("overlay path {} contains ',' or ':'", p);
  return Ok();
}

Status MountWithNewApi(const std::vector<std::string>& lowers, const std::string& upper,
                       const std::string& work, const std::string& target) {
  int raw = fsopen("overlay", FSOPEN_CLOEXEC);
  if (raw < 0) return ErrnoErr("fsopen overlay");
  UniqueFd fsfd(raw);
  for (auto& l : lowers) {
    if (fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "lowerdir+", l.c_str(), 0) != 0)
      return ErrnoErr("overlay lowerdir+ {}", l);
  }
  if (fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str(), 0) != 0)
    return ErrnoErr("overlay upperdir {}", upper);
  if (fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "workdir", work.c_str(), 0) != 0)
    return ErrnoErr("overlay workdir {}", work);
  if (fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return ErrnoErr("create overlay");
  int m = fsmount(fsfd.get(), FSMOUNT_CLOEXEC, 0);
  if (m < 0) return ErrnoErr("fsmount overlay");
  UniqueFd mfd(m);
  if (move_mount(mfd.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return ErrnoErr("mount overlay on {}", target);
  return Ok();
}

}  // namespace

Status MountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target) {
  if (lowers.empty()) return Err("overlay on {}: no lower layers", target);
  auto first = MountWithNewApi(lowers, upper, work, target);
  if (first.ok()) return first;
  // "lowerdir+" arrived in 6.8; before that (EINVAL) use one options string.
  if (first.error().code != EINVAL && first.error().code != ENOSYS) return first;
  for (auto& l : lowers) TRY(CheckPath(l));
  TRY(CheckPath(upper));
  TRY(CheckPath(work));
  std::string data =
      "lowerdir=" + strings::Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work;
  if (data.size() >= static_cast<size_t>(getpagesize()))
    return Err("overlay on {}: {} layers are too many for this kernel's mount options", target,
               lowers.size());
  if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0)
    return ErrnoErr("mount overlay on {}", target);
  return Ok();
}

bool OverlaySupported(const std::string& dir) {
  static int cached = -1;
  if (cached >= 0) return cached == 1;
  char tmpl[4096];
  snprintf(tmpl, sizeof(tmpl), "%s/.overlay-probe.XXXXXX", dir.c_str());
  if (!mkdtemp(tmpl)) return false;
  std::string base = tmpl;
  for (const char* d : {"l", "u", "w", "m"}) (void)fs::MkdirAll(fs::Join(base, d));
  bool ok = MountOverlay({fs::Join(base, "l")}, fs::Join(base, "u"), fs::Join(base, "w"),
                         fs::Join(base, "m"))
                .ok();
  if (ok) ::umount2(fs::Join(base, "m").c_str(), MNT_DETACH);
  (void)fs::RemoveAll(base);
  cached = ok ? 1 : 0;
  return ok;
}

}  // namespace husk::engine
