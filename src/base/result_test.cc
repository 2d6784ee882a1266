#include "base/result.h"

#include <gtest/gtest.h>

namespace husk {
namespace {

Result<int> Half(int v) {
  if (v % 2) return Err("{} is odd", v);
  return v / 2;
}

Result<int> Quarter(int v) {
  int h = TRY_CTX(Half(v), "quarter of {}", v);
  return TRY(Half(h));
}

Status Check(int v) {
  TRY(Quarter(v));
  return Ok();
}

TEST(Result, ValuePassesThrough) {
  auto r = Quarter(8);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
}

TEST(Result, ErrorGetsContext) {
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "3 is odd");
  auto r2 = Quarter(5);
  EXPECT_EQ(r2.error().message(), "quarter of 5: 5 is odd");
  EXPECT_FALSE(Check(5).ok());
  EXPECT_TRUE(Check(4).ok());
}

TEST(Result, ErrnoMessageComesLast) {
  Error e = CodeErr(ENOENT, "open /x");
  EXPECT_EQ(e.wrap("create c1").message(), "create c1: open /x: No such file or directory");
}

}  // namespace
}  // namespace husk
