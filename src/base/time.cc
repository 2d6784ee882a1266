#include "base/time.h"

#include <fmt/format.h>

namespace husk::time {

timespec Now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

std::string Rfc3339Nano(const timespec& ts) {
  // Civil date from days since the epoch (proleptic Gregorian, eras of 400
  // years), not gmtime_r: glibc's gmtime reads /etc/localtime first, and this
  // runs on every container start.
  int64_t secs = ts.tv_sec;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int64_t sod = secs - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", year, month, day, sod / 3600,
                                sod / 60 % 60, sod % 60);
  if (ts.tv_nsec != 0) {
    std::string frac = fmt::format("{:09}", ts.tv_nsec);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  out += "Z";
  return out;
}

}  // namespace husk::time
