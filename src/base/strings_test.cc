#include "base/strings.h"

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

}  // namespace
}  // namespace husk
