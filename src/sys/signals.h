// Signal names as `kill` and `runc kill` accept them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::sys {

// Parses "9", "KILL", "SIGKILL", "sigkill", "SIGRTMIN", "SIGRTMIN+3", "RTMAX-2".
// Numbers are accepted from 0 (kill's "is it alive" probe) to SIGRTMAX.
// Error: invalid signal "FOO".
Result<int> ParseSignal(std::string_view s);
// "SIGKILL", "SIGRTMIN+3"; the decimal number for anything else.
std::string SignalName(int sig);
// Every canonical name ("SIGHUP" ... "SIGSYS"), without the real-time range.
const std::vector<std::string>& KnownSignalNames();

}  // namespace husk::sys
