#include "sys/rootfs_path.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace husk::sys {
namespace {

// A scratch tree whose rootfs sits three levels down, so that a link escaping
// the rootfs by "../../.." still lands inside the scratch tree: if the code
// under test were wrong, it would litter our temp dir, not the host.
class RootfsPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/husk_rootfs_path_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    outside_ = base_ + "/d1";
    root_ = outside_ + "/d2/d3/root";
    ASSERT_TRUE(fs::MkdirAll(root_).ok());
    Symlink("/etc", "hostetc");
    Symlink("../../..", "evil");  // would be <base>/d1 from the host
    Symlink("/nonexistent/dir", "dangling");
    Symlink("../run/real.conf", "resolv.conf");
    rootfd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(rootfd_.valid());
  }
  void TearDown() override {
    rootfd_.reset();
    // RemoveAll does not follow symlinks, so the links above are safe to leave.
    if (!base_.empty()) (void)fs::RemoveAll(base_);
  }
  void Symlink(const std::string& target, const std::string& name) {
    ASSERT_EQ(symlink(target.c_str(), (root_ + "/" + name).c_str()), 0) << name;
  }
  // The path an fd resolves to, as the host sees it.
  static std::string Where(int fd) {
    char buf[64];
    EXPECT_EQ(FdPathNoAlloc(fd, buf, sizeof(buf)), 0);
    char target[4096];
    ssize_t n = readlink(buf, target, sizeof(target) - 1);
    if (n < 0) return "";
    return std::string(target, n);
  }

  std::string base_, outside_, root_;
  UniqueFd rootfd_;
};

TEST_F(RootfsPathTest, OpenInRootKeepsAbsoluteLinksInside) {
  // The host has /etc/passwd; the root does not.
  ASSERT_TRUE(fs::Exists("/etc/passwd"));
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "hostetc/passwd", O_RDONLY), -ENOENT);
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "/hostetc/passwd", O_RDONLY), -ENOENT);
  // etc -> /etc is a loop inside the root, never the host's /etc.
  Symlink("/etc", "etc");
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "/etc/passwd", O_RDONLY), -ELOOP);
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "hostetc/passwd", O_RDONLY), -ELOOP);

  ASSERT_EQ(unlink((root_ + "/etc").c_str()), 0);
  ASSERT_TRUE(fs::MkdirAll(root_ + "/etc").ok());
  ASSERT_TRUE(fs::WriteFile(root_ + "/etc/passwd", "inside\n").ok());
  UniqueFd fd(OpenInRootNoAlloc(rootfd_.get(), "/hostetc/passwd", O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[16] = {};
  ASSERT_EQ(read(fd.get(), buf, sizeof(buf)), 7);
  EXPECT_STREQ(buf, "inside\n");
  EXPECT_EQ(Where(fd.get()), root_ + "/etc/passwd");
}

TEST_F(RootfsPathTest, OpenInRootClampsDotDot) {
  UniqueFd fd(OpenInRootNoAlloc(rootfd_.get(), "../../../..", O_PATH | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(Where(fd.get()), root_);
  UniqueFd evil(OpenInRootNoAlloc(rootfd_.get(), "evil", O_PATH | O_DIRECTORY));
  ASSERT_GE(evil.get(), 0);
  EXPECT_EQ(Where(evil.get()), root_);
}

TEST_F(RootfsPathTest, OpenInRootFlags) {
  // O_NOFOLLOW|O_PATH gives the link itself; without O_PATH it is refused.
  UniqueFd link(OpenInRootNoAlloc(rootfd_.get(), "evil", O_PATH | O_NOFOLLOW));
  ASSERT_GE(link.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(link.get(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "evil", O_RDONLY | O_NOFOLLOW), -ELOOP);
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "x", O_CREAT | O_RDWR), -EINVAL);
  // A link into /proc means the root's /proc, which is empty here.
  ASSERT_TRUE(fs::MkdirAll(root_ + "/proc").ok());
  ASSERT_EQ(symlink("/proc/self/root", (root_ + "/magic").c_str()), 0);
  EXPECT_EQ(OpenInRootNoAlloc(rootfd_.get(), "magic", O_PATH), -ENOENT);
}

TEST_F(RootfsPathTest, MkdirAllThroughEscapingLinkStaysInside) {
  UniqueFd fd(MkdirAllInRootNoAlloc(rootfd_.get(), "evil/x", 0755));
  ASSERT_GE(fd.get(), 0) << strerror(-fd.get());
  EXPECT_EQ(Where(fd.get()), root_ + "/x");
  EXPECT_TRUE(fs::IsDir(root_ + "/x"));
  EXPECT_FALSE(fs::Exists(outside_ + "/x"));
}

TEST_F(RootfsPathTest, MkdirAllDeepAndIdempotent) {
  UniqueFd a(MkdirAllInRootNoAlloc(rootfd_.get(), "/a//b/./c/", 0700));
  ASSERT_GE(a.get(), 0) << strerror(-a.get());
  EXPECT_EQ(Where(a.get()), root_ + "/a/b/c");
  struct stat st;
  ASSERT_EQ(stat((root_ + "/a/b").c_str(), &st), 0);
  mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0700u & ~mask);
  UniqueFd again(MkdirAllInRootNoAlloc(rootfd_.get(), "a/b/c", 0755));
  ASSERT_GE(again.get(), 0);
  EXPECT_EQ(Where(again.get()), root_ + "/a/b/c");
  UniqueFd top(MkdirAllInRootNoAlloc(rootfd_.get(), "/", 0755));
  ASSERT_GE(top.get(), 0);
  EXPECT_EQ(Where(top.get()), root_);
  // ".." past a freshly made directory is still clamped at the root.
  UniqueFd up(MkdirAllInRootNoAlloc(rootfd_.get(), "new/../../../up", 0755));
  ASSERT_GE(up.get(), 0);
  EXPECT_EQ(Where(up.get()), root_ + "/up");
}

TEST_F(RootfsPathTest, MkdirAllFollowsDanglingLinkInside) {
  UniqueFd fd(MkdirAllInRootNoAlloc(rootfd_.get(), "dangling/sub", 0755));
  ASSERT_GE(fd.get(), 0) << strerror(-fd.get());
  EXPECT_EQ(Where(fd.get()), root_ + "/nonexistent/dir/sub");
  EXPECT_FALSE(fs::Exists("/nonexistent"));
}

// The last component alone missing takes a shorter way (mkdirat in its parent):
// a dangling link there, relative or absolute, must still land inside.
TEST_F(RootfsPathTest, MkdirAllLastComponentDanglingLinkStaysInside) {
  UniqueFd fd(MkdirAllInRootNoAlloc(rootfd_.get(), "/dangling", 0755));
  ASSERT_GE(fd.get(), 0) << strerror(-fd.get());
  EXPECT_EQ(Where(fd.get()), root_ + "/nonexistent/dir");
  Symlink("../../../made-by-link", "up-dangling");
  UniqueFd up(MkdirAllInRootNoAlloc(rootfd_.get(), "up-dangling", 0755));
  ASSERT_GE(up.get(), 0) << strerror(-up.get());
  EXPECT_EQ(Where(up.get()), root_ + "/made-by-link");
  EXPECT_FALSE(fs::Exists(outside_ + "/made-by-link"));
  ASSERT_TRUE(fs::MkdirAll(root_ + "/p").ok());
  UniqueFd last(MkdirAllInRootNoAlloc(rootfd_.get(), "/p/q", 0700));
  ASSERT_GE(last.get(), 0) << strerror(-last.get());
  EXPECT_EQ(Where(last.get()), root_ + "/p/q");
}

TEST_F(RootfsPathTest, MkdirAllErrors) {
  ASSERT_TRUE(fs::WriteFile(root_ + "/file", "").ok());
  EXPECT_EQ(MkdirAllInRootNoAlloc(rootfd_.get(), "file/sub", 0755), -ENOTDIR);
  EXPECT_EQ(MkdirAllInRootNoAlloc(rootfd_.get(), "file", 0755), -ENOTDIR);
  ASSERT_EQ(symlink("loop", (root_ + "/loop").c_str()), 0);
  EXPECT_EQ(MkdirAllInRootNoAlloc(rootfd_.get(), "loop/x", 0755), -ELOOP);
  std::string huge(5000, 'a');
  EXPECT_EQ(MkdirAllInRootNoAlloc(rootfd_.get(), huge.c_str(), 0755), -ENAMETOOLONG);
}

TEST_F(RootfsPathTest, CreateFileMakesParentsAndFile) {
  UniqueFd fd(CreateFileInRootNoAlloc(rootfd_.get(), "evil/etc2/hosts", 0644));
  ASSERT_GE(fd.get(), 0) << strerror(-fd.get());
  EXPECT_EQ(Where(fd.get()), root_ + "/etc2/hosts");
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_FALSE(fs::Exists(outside_ + "/etc2"));
  // The flags show an O_PATH fd.
  EXPECT_EQ(fcntl(fd.get(), F_GETFL) & O_PATH, O_PATH);
  EXPECT_NE(fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
}

TEST_F(RootfsPathTest, CreateFileKeepsExistingEntry) {
  ASSERT_TRUE(fs::WriteFile(root_ + "/keep", "data").ok());
  UniqueFd fd(CreateFileInRootNoAlloc(rootfd_.get(), "/keep", 0644));
  ASSERT_GE(fd.get(), 0);
  std::string got = fs::ReadFile(root_ + "/keep").value_or("?");
  EXPECT_EQ(got, "data");
  // A directory is returned as is; the caller checks the type.
  ASSERT_TRUE(fs::MkdirAll(root_ + "/adir").ok());
  UniqueFd dir(CreateFileInRootNoAlloc(rootfd_.get(), "adir", 0644));
  ASSERT_GE(dir.get(), 0);
  struct stat st;
  ASSERT_EQ(fstat(dir.get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(RootfsPathTest, CreateFileFollowsDanglingLinkInside) {
  // resolv.conf -> ../run/real.conf, as many images ship it.
  UniqueFd fd(CreateFileInRootNoAlloc(rootfd_.get(), "/resolv.conf", 0644));
  ASSERT_GE(fd.get(), 0) << strerror(-fd.get());
  EXPECT_EQ(Where(fd.get()), root_ + "/run/real.conf");
  EXPECT_FALSE(fs::Exists(outside_ + "/d2/d3/run"));
}

TEST(FdPathTest, Formats) {
  char buf[32];
  ASSERT_EQ(FdPathNoAlloc(0, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "/proc/self/fd/0");
  ASSERT_EQ(FdPathNoAlloc(1234567, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "/proc/self/fd/1234567");
  ASSERT_EQ(FdPathNoAlloc(2147483647, buf, sizeof(buf)), 0);
  EXPECT_STREQ(buf, "/proc/self/fd/2147483647");
  EXPECT_EQ(FdPathNoAlloc(-1, buf, sizeof(buf)), -EBADF);
  EXPECT_EQ(FdPathNoAlloc(42, buf, 16), -ENAMETOOLONG);  // needs 17
  EXPECT_EQ(FdPathNoAlloc(42, buf, 17), 0);
  EXPECT_STREQ(buf, "/proc/self/fd/42");
}

// Runs fn in a forked child inside a private mount namespace so that mounts
// never reach the host; returns the child's exit status (0 = all good).
template <typename Fn>
int InPrivateMountNs(Fn fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0) _exit(100);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(101);
    _exit(fn());
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(RootfsPathTest, BindMountOntoResolvedFdLandsInside) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for unshare(CLONE_NEWNS)";
  std::string src = base_ + "/src";
  ASSERT_TRUE(fs::MkdirAll(src).ok());
  ASSERT_TRUE(fs::WriteFile(src + "/marker", "m").ok());
  std::string src_file = base_ + "/srcfile";
  ASSERT_TRUE(fs::WriteFile(src_file, "file-bind").ok());
  std::string root_path = root_;
  std::string check_dir = root_ + "/mnt/marker";
  std::string check_file = root_ + "/run/real.conf";
  std::string outside_dir = outside_ + "/mnt";
  std::string proc_dir = root_ + "/proc";
  ASSERT_TRUE(fs::MkdirAll(proc_dir).ok());
  const char* proc_c = proc_dir.c_str();
  // Only NoAlloc calls and syscalls in the child, as in the container init.
  const char* root_c = root_path.c_str();
  const char* src_c = src.c_str();
  const char* src_file_c = src_file.c_str();
  const char* check_dir_c = check_dir.c_str();
  const char* check_file_c = check_file.c_str();
  const char* outside_c = outside_dir.c_str();
  int rc = InPrivateMountNs([=]() -> int {
    // Opened after unshare: an fd from before names the old namespace's
    // mount, and mount(2) refuses such a target with EINVAL.
    int root = open(root_c, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return 20;
    int fd = MkdirAllInRootNoAlloc(root, "evil/mnt", 0755);
    if (fd < 0) return 1;
    char target[32];
    if (FdPathNoAlloc(fd, target, sizeof(target)) != 0) return 2;
    if (mount(src_c, target, nullptr, MS_BIND, nullptr) != 0) return 3;
    if (access(check_dir_c, F_OK) != 0) return 4;
    if (access(outside_c, F_OK) == 0) return 5;
    int file = CreateFileInRootNoAlloc(root, "/resolv.conf", 0644);
    if (file < 0) return 6;
    if (FdPathNoAlloc(file, target, sizeof(target)) != 0) return 7;
    if (mount(src_file_c, target, nullptr, MS_BIND, nullptr) != 0) return 8;
    int rd = open(check_file_c, O_RDONLY | O_CLOEXEC);
    if (rd < 0) return 9;
    char buf[16] = {};
    if (read(rd, buf, sizeof(buf)) != 9 || memcmp(buf, "file-bind", 9) != 0) return 10;
    // With a real /proc inside, its magic links (a path to the host's root
    // for a process outside the container) are refused.
    if (mount("/proc", proc_c, nullptr, MS_BIND | MS_REC, nullptr) != 0) return 11;
    if (OpenInRootNoAlloc(root, "/proc/self/root", O_PATH) != -ELOOP) return 12;
    if (OpenInRootNoAlloc(root, "/proc/self/status", O_RDONLY) < 0) return 13;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  // The host's view is untouched: the mount point is empty here.
  EXPECT_TRUE(fs::IsDir(root_ + "/mnt"));
  EXPECT_FALSE(fs::Exists(root_ + "/mnt/marker"));
}

}  // namespace
}  // namespace husk::sys
