// OCI hooks: the hook's path is executed with its args and env, the container
// state JSON on stdin, and an optional timeout (the hook is killed after it).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "oci/spec.h"
#include "runtime/plan.h"
#include "runtime/protocol.h"

namespace husk::runtime {

// NoAlloc (usable in the container child): runs one hook to completion.
// Returns 0, or -1 with err filled ("hook /x exited with status 1").
int RunHookNoAlloc(const HookCmd& h, const char* state, size_t len, Message* err) noexcept;

// Parent side: runs the hooks of one kind in order; the first failure stops them.
// `kind` names them in errors, e.g. "prestart hook /bin/false: exited with status 1".
Status RunHooks(const std::vector<oci::Hook>& hooks, const char* kind, const std::string& state);

}  // namespace husk::runtime
