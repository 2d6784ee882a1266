#include "base/time.h"

#include <fmt/format.h>

namespace husk::time {

timespec Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

std::string Rfc3339Nano(const timespec& ts) {
  struct tm tm {};
  gmtime_r(&ts.tv_sec, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (ts.tv_nsec != 0) {
    std::string frac = fmt::format("{:09}", ts.tv_nsec);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  out += "Z";
  return out;
}

}  // namespace husk::time
