#include "base/fs.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

namespace husk {
namespace {

TEST(Fs, CleanIsLexical) {
  EXPECT_EQ(fs::Clean("/a//b/./c/../d"), "/a/b/d");
  EXPECT_EQ(fs::Clean("/../../etc"), "/etc");
  EXPECT_EQ(fs::Clean("a/../../b"), "../b");
  EXPECT_EQ(fs::Clean(""), ".");
  EXPECT_EQ(fs::Join("/a/", "/b"), "/a/b");
}

TEST(Fs, WriteReadRemove) {
  char tmpl[] = "/tmp/husk-fs-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(fs::MkdirAll(dir + "/x/y/z").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/x/y/z/f", "hello").ok());
  auto r = fs::ReadFile(dir + "/x/y/z/f");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "hello");
  ASSERT_EQ(symlink("/etc", (dir + "/x/link").c_str()), 0);
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
  EXPECT_FALSE(fs::Exists(dir));
  EXPECT_TRUE(fs::Exists("/etc/passwd"));  // the symlink was not followed
  auto missing = fs::ReadFile(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("nope: No such file"), std::string::npos);
}

}  // namespace
}  // namespace husk
