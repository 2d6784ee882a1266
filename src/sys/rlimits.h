// RLIMIT_* names of process.rlimits[].type.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::sys {

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE. Error: unknown rlimit type "RLIMIT_FOO".
Result<int> RlimitFromName(std::string_view name);
// "RLIMIT_NOFILE"; empty for a number no table entry has.
std::string RlimitName(int resource);
// Every name RlimitFromName accepts, in resource-number order.
const std::vector<std::string>& KnownRlimits();

}  // namespace husk::sys
