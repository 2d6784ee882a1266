#pragma once

#include <time.h>

#include <string>

namespace husk::time {

timespec Now();
// RFC 3339 in UTC with nanoseconds, as Go's time.RFC3339Nano prints it
// (trailing zeros of the fraction dropped): 2024-01-02T03:04:05.123456789Z
std::string Rfc3339Nano(const timespec& ts);

}  // namespace husk::time
