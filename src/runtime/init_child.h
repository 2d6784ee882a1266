// The entry point of the cloned child (container init, or an exec'd process).
#pragma once

#include "runtime/plan.h"

namespace husk::runtime {

// Runs the child's half of protocol.h and execs the user process. Never returns.
[[noreturn]] void ChildMain(InitPlan& p) noexcept;

}  // namespace husk::runtime
