// linux.seccomp compiled to a classic BPF program in the parent (libseccomp),
// loaded in the child with one raw seccomp(2) call.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "oci/spec.h"

namespace husk::sys {

struct SeccompProgram {
  std::vector<sock_filter> filter;
  // SECCOMP_FILTER_FLAG_* from the spec's flags, plus NEW_LISTENER when notify.
  unsigned flags = 0;
  // Some rule uses SCMP_ACT_NOTIFY: loading returns a listener fd that the
  // runtime passes to the agent at linux.seccomp.listenerPath.
  bool notify = false;
};

// Builds the filter as runc does: the default action (with defaultErrnoRet,
// EPERM when unset), each architecture added beside the native one, one rule
// per resolvable syscall name. Syscall names libseccomp does not know are
// skipped (a profile lists syscalls newer than this build), rules whose action
// equals the default are skipped (libseccomp refuses them), and conditions
// that repeat an argument index are added as one rule each (OR) while distinct
// indexes stay in one rule (AND). SECCOMP_FILTER_FLAG_TSYNC is accepted and
// ignored: the child is single-threaded. no_new_privs is left to the caller.
// Errors name the bad thing, e.g. seccomp: unknown action "SCMP_ACT_FOO".
Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& s);

// NoAlloc: seccomp(SECCOMP_SET_MODE_FILTER, p.flags, &prog). The caller must
// have no_new_privs set or CAP_SYS_ADMIN. Returns -errno on failure, the
// listener fd (>= 0) when p.notify, otherwise 0.
int LoadSeccompNoAlloc(const SeccompProgram& p) noexcept;

// The names CompileSeccomp accepts, sorted; `features` prints these.
const std::vector<std::string>& KnownSeccompActions();
const std::vector<std::string>& KnownSeccompOperators();
const std::vector<std::string>& KnownSeccompArchs();
const std::vector<std::string>& KnownSeccompFlags();
// The known flags this kernel accepts (probed with seccomp(2) and no program).
std::vector<std::string> SupportedSeccompFlags();
// "2.5.4", from the linked libseccomp.
std::string LibseccompVersion();

}  // namespace husk::sys
