// Entering namespaces for a moment and coming back.
//
// huskrun's parent enters the namespaces a container joins by path right
// before clone3 and returns to its own right after: the child starts in them,
// and a new user namespace made by clone3 owns only the namespaces it creates
// (a child already inside a new user namespace may not join namespaces owned
// by the host's). Everything else the parent does (hooks, cgroups, state
// files) happens in its own namespaces. The process must be single-threaded.
#pragma once

#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace husk::sys {

class NsSwitch {
 public:
  NsSwitch() = default;
  NsSwitch(const NsSwitch&) = delete;
  NsSwitch& operator=(const NsSwitch&) = delete;
  // Returns to the saved namespaces (errors ignored; call Leave() to see them).
  ~NsSwitch();

  // Joins the namespace fd refers to (nstype: one CLONE_NEW* other than
  // CLONE_NEWUSER, which has no way back). For pid and time this changes what
  // children get. Saves the current namespace of that type first; a mount
  // namespace also saves root and working directory.
  Status Enter(int fd, int nstype);
  // unshare(nstype) (CLONE_NEWTIME, CLONE_NEWPID: for children), saving the
  // current namespace first.
  Status Unshare(int nstype);
  // Back to every saved namespace (and root and cwd), newest first; forgets
  // them, so a second call does nothing. The first error is returned after
  // all were tried.
  Status Leave();

 private:
  struct Saved {
    int nstype;
    UniqueFd ns, root, cwd;  // root and cwd: mount namespaces only
  };
  Status Save(int nstype);
  std::vector<Saved> saved_;
};

// /proc/self/ns name of a CLONE_NEW* flag ("net" for CLONE_NEWNET), "" if unknown.
const char* NsProcName(int nstype);

}  // namespace husk::sys
