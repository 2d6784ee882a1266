#include "sys/ns_switch.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <string>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace husk::sys {

const char* NsProcName(int nstype) {
  switch (nstype) {
    case CLONE_NEWNS:
      return "mnt";
    case CLONE_NEWNET:
      return "net";
    case CLONE_NEWPID:
      return "pid";
    case CLONE_NEWIPC:
      return "ipc";
    case CLONE_NEWUTS:
      return "uts";
    case CLONE_NEWUSER:
      return "user";
    case CLONE_NEWCGROUP:
      return "cgroup";
    case CLONE_NEWTIME:
      return "time";
  }
  return "";
}

NsSwitch::~NsSwitch() {
  (void)Leave();
}

Status NsSwitch::Save(int nstype) {
  for (auto& s : saved_)
    if (s.nstype == nstype) return Ok();  // the first save is where we came from
  const char* name = NsProcName(nstype);
  if (!*name || nstype == CLONE_NEWUSER)
    return CodeErr(EINVAL, "namespace type {:#x} cannot be entered and left", nstype);
  // pid and time: setns changes what children get; the active namespace is
  // also where the children went before.
  std::string path = std::string("/proc/self/ns/") + name;
  Saved s{nstype, UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), {}, {}};
  if (!s.ns) return ErrnoErr("open {}", path);
  if (nstype == CLONE_NEWNS) {
    s.root.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!s.root) return ErrnoErr("open /");
    s.cwd.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!s.cwd) return ErrnoErr("open the working directory");
  }
  saved_.push_back(std::move(s));
  return Ok();
}

Status NsSwitch::Enter(int fd, int nstype) {
  TRY(Save(nstype));
  if (::setns(fd, nstype) != 0) return ErrnoErr("setns {}", NsProcName(nstype));
  return Ok();
}

Status NsSwitch::Unshare(int nstype) {
  TRY(Save(nstype));
  if (::unshare(nstype) != 0) return ErrnoErr("unshare {} namespace", NsProcName(nstype));
  return Ok();
}

Status NsSwitch::Leave() {
  Status first;
  auto note = [&](Error e) {
    if (first.ok()) first = std::move(e);
  };
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
    const char* name = NsProcName(it->nstype);
    if (::setns(it->ns.get(), it->nstype) != 0) {
      note(ErrnoErr("return to our own {} namespace", name));
      continue;
    }
    if (it->nstype != CLONE_NEWNS) continue;
    // setns put us at the namespace's root: go back to where we were.
    if (::fchdir(it->root.get()) != 0 || ::chroot(".") != 0 || ::fchdir(it->cwd.get()) != 0)
      note(ErrnoErr("return to our own root and working directory"));
  }
  saved_.clear();
  return first;
}

}  // namespace husk::sys
