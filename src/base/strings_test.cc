#include "base/strings.h"

#include <ctime>

#include <gtest/gtest.h>

#include "base/time.h"

namespace husk {
namespace {

TEST(Strings, SplitJoinTrim) {
  auto p = strings::Split("a,b,,c", ',');
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[2], "");
  EXPECT_EQ(strings::Join(p, ","), "a,b,,c");
  EXPECT_EQ(strings::Trim("  x \n"), "x");
}

TEST(Strings, JsonEscape) {
  EXPECT_EQ(strings::JsonEscape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\n\\u0001");
}

TEST(Strings, ParseInt) {
  EXPECT_EQ(strings::ParseInt("-12"), -12);
  EXPECT_FALSE(strings::ParseInt("12x"));
  EXPECT_FALSE(strings::ParseInt(""));
  EXPECT_FALSE(strings::ParseUint("-1"));
}

TEST(Time, Rfc3339Nano) {
  timespec ts{1700000000, 123450000};
  EXPECT_EQ(time::Rfc3339Nano(ts), "2023-11-14T22:13:20.12345Z");
  timespec whole{1700000000, 0};
  EXPECT_EQ(time::Rfc3339Nano(whole), "2023-11-14T22:13:20Z");
}

// The hand-written civil-date conversion agrees with gmtime_r across leap
// years, century rules, month ends and times before the epoch.
TEST(Time, Rfc3339NanoMatchesGmtime) {
  for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400LL * 7 + 3607) {
    for (int64_t edge : {t, t - t % 86400, t - t % 86400 - 1}) {
      time_t tt = static_cast<time_t>(edge);
      struct tm tm {};
      ASSERT_NE(gmtime_r(&tt, &tm), nullptr);
      char want[32];
      strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
      ASSERT_EQ(time::Rfc3339Nano(timespec{tt, 0}), want) << edge;
    }
  }
  EXPECT_EQ(time::Rfc3339Nano(timespec{951782400, 0}), "2000-02-29T00:00:00Z");
  EXPECT_EQ(time::Rfc3339Nano(timespec{-1, 0}), "1969-12-31T23:59:59Z");
}

}  // namespace
}  // namespace husk
