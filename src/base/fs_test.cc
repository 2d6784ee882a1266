#include "base/fs.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

// ReadFile sizes its buffer from fstat when it can: files of every size around
// the buffer's edges, a /proc file (size 0) and a pipe must read whole.
TEST(Fs, ReadFileWholeAtAnySize) {
  char tmpl[] = "/tmp/husk-fs-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (size_t n : {0, 1, 4095, 4096, 4097, 8192, 100000}) {
    std::string data(n, 'x');
    for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(fs::WriteFile(dir + "/f", data).ok());
    auto r = fs::ReadFile(dir + "/f");
    ASSERT_TRUE(r.ok()) << n;
    EXPECT_EQ(*r, data) << n;
  }
  auto status = fs::ReadFile("/proc/self/status");
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("\nVmRSS:"), std::string::npos);
  EXPECT_EQ(status->back(), '\n');

  int p[2];
  ASSERT_EQ(pipe(p), 0);
  std::string big(70000, 'p');
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    (void)!write(p[1], big.data(), big.size());
    _exit(0);
  }
  close(p[1]);
  auto piped = fs::ReadFile("/proc/self/fd/" + std::to_string(p[0]));
  close(p[0]);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(piped.ok());
  EXPECT_EQ(piped->size(), big.size());
  ASSERT_TRUE(fs::RemoveAll(dir).ok());
}

}  // namespace
}  // namespace husk
