#include "runtime/rootless.h"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace husk::runtime {
namespace {

TEST(RootlessTest, UidMapNesting) {
  // The initial namespace, as the kernel pads it.
  EXPECT_FALSE(UidMapIsNested("         0          0 4294967295\n"));
  EXPECT_FALSE(UidMapIsNested("0 0 4294967295"));
  // A rootless container's map, podman's sub-uid ranges, nothing mapped yet.
  EXPECT_TRUE(UidMapIsNested("         0       1000          1\n"));
  EXPECT_TRUE(UidMapIsNested("0 1000 1\n1 100000 65536\n"));
  EXPECT_TRUE(UidMapIsNested("0 0 4294967294\n"));
  EXPECT_TRUE(UidMapIsNested(""));
}

TEST(RootlessTest, AutoDetection) {
  // auto: rootless for any non-root euid, and for root of a nested namespace.
  EXPECT_TRUE(RootlessFor(std::nullopt, 1000, false));
  EXPECT_TRUE(RootlessFor(std::nullopt, 1000, true));
  EXPECT_FALSE(RootlessFor(std::nullopt, 0, false));
  EXPECT_TRUE(RootlessFor(std::nullopt, 0, true));
  // --rootless true/false win over detection.
  EXPECT_FALSE(RootlessFor(false, 1000, true));
  EXPECT_TRUE(RootlessFor(true, 0, false));
}

TEST(RootlessTest, DefaultRoot) {
  auto r = DefaultRootFor(1000, false, "/run/user/1000", "alice");
  EXPECT_EQ(r.path, "/run/user/1000/huskrun");
  EXPECT_TRUE(r.from_xdg);
  // Without $XDG_RUNTIME_DIR (or with it empty) runc keeps the system path.
  r = DefaultRootFor(1000, false, nullptr, "alice");
  EXPECT_EQ(r.path, "/run/huskrun");
  EXPECT_FALSE(r.from_xdg);
  EXPECT_EQ(DefaultRootFor(1000, false, "", "alice").path, "/run/huskrun");
  // Real root ignores /run/user/0.
  r = DefaultRootFor(0, false, "/run/user/0", "root");
  EXPECT_EQ(r.path, "/run/huskrun");
  EXPECT_FALSE(r.from_xdg);
  // Root of a nested user namespace honours it unless $USER says root.
  EXPECT_EQ(DefaultRootFor(0, true, "/run/user/1000", "alice").path, "/run/user/1000/huskrun");
  EXPECT_EQ(DefaultRootFor(0, true, "/run/user/1000", nullptr).path, "/run/user/1000/huskrun");
  EXPECT_EQ(DefaultRootFor(0, true, "/run/user/1000", "root").path, "/run/huskrun");
}

TEST(RootlessTest, PrepareXdgRootIsPrivateAndSticky) {
  char tmpl[] = "/tmp/rootless-test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = std::string(tmpl) + "/huskrun";
  ASSERT_TRUE(PrepareXdgRoot(root).ok());
  struct stat st;
  ASSERT_EQ(stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01700u);
  // Again, on an existing directory with other modes.
  chmod(root.c_str(), 0755);
  ASSERT_TRUE(PrepareXdgRoot(root).ok());
  ASSERT_EQ(stat(root.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01700u);
  // Something in the way is a one-line error naming $XDG_RUNTIME_DIR.
  std::string file = std::string(tmpl) + "/file";
  ASSERT_TRUE(fs::WriteFile(file, "x").ok());
  auto bad = PrepareXdgRoot(file + "/huskrun");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("$XDG_RUNTIME_DIR"), std::string::npos)
      << bad.error().message();
  (void)fs::RemoveAll(tmpl);
}

TEST(RootlessTest, LimitsRequested) {
  oci::Resources r;
  EXPECT_TRUE(LimitsRequested(r).empty());
  // Device rules (runc's spec denies all) are no limit: rootless ignores them.
  r.devices.push_back(oci::DeviceCgroupRule{false, "a", {}, {}, "rwm"});
  EXPECT_TRUE(LimitsRequested(r).empty());
  // Present but empty sections set nothing.
  r.memory = oci::MemoryResources{};
  r.cpu = oci::CpuResources{};
  r.block_io = oci::BlockIoResources{};
  r.memory->swappiness = UINT64_MAX;  // -1: leave as is
  EXPECT_TRUE(LimitsRequested(r).empty());
  r.memory->limit = 64 << 20;
  r.pids = oci::PidsResources{100};
  EXPECT_EQ(LimitsRequested(r), (std::vector<std::string>{"memory", "pids"}));
  r.cpu->cpus = "0";
  r.unified["memory.high"] = "1G";
  EXPECT_EQ(LimitsRequested(r), (std::vector<std::string>{"memory", "cpu", "pids", "unified"}));
}

TEST(RootlessTest, CgroupFailurePolicy) {
  Error denied = CodeErr(EACCES, "create cgroup /huskrun/c: mkdir /sys/fs/cgroup/cpu/huskrun/c");
  CgroupPolicy p;
  p.uid = 1000;
  // Root: every error stays, unchanged.
  auto e = CgroupFailure(denied, p);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message(), denied.message());

  // Rootless, default path, no limits: permission problems mean "no cgroup".
  p.rootless = true;
  EXPECT_FALSE(CgroupFailure(denied, p).has_value());
  EXPECT_FALSE(CgroupFailure(CodeErr(EPERM, "x"), p).has_value());
  EXPECT_FALSE(CgroupFailure(CodeErr(EROFS, "x"), p).has_value());
  // Other errors are real ones.
  EXPECT_TRUE(CgroupFailure(CodeErr(ENOSPC, "x"), p).has_value());
  EXPECT_TRUE(CgroupFailure(Err("no cgroup filesystem is mounted"), p).has_value());

  // Limits: the error says which, and what would make them work.
  p.limits = {"memory", "pids"};
  e = CgroupFailure(denied, p);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->message(),
            "cannot set memory, pids limits: container could not join or create cgroup "
            "(rootless: limits need a cgroup delegated to uid 1000, named in linux.cgroupsPath): "
            "create cgroup /huskrun/c: mkdir /sys/fs/cgroup/cpu/huskrun/c: Permission denied");
  EXPECT_EQ(e->code, EACCES);
  p.limits = {"pids"};
  e = CgroupFailure(denied, p);
  EXPECT_EQ(
      e->message().rfind("cannot set pids limit: container could not join or create cgroup", 0), 0u)
      << e->message();
  p.limits = {"memory", "pids"};

  // A path the user chose must work, limits or not (runc too).
  p.limits.clear();
  p.cgroups_path = "/user.slice/c";
  e = CgroupFailure(denied, p);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(
      e->message().rfind("linux.cgroupsPath \"/user.slice/c\" is not delegated to uid 1000: ", 0),
      0u)
      << e->message();
}

TEST(RootlessTest, VerbsWithoutCgroupSayWhy) {
  ContainerState st;
  st.id = "c";
  auto cg = ContainerCgroup(st, "toggle freezer");
  ASSERT_FALSE(cg.ok());
  EXPECT_EQ(cg.error().message(),
            "cannot toggle freezer: cgroups not configured for container (created rootless "
            "without a cgroup of its own)");
}

pid_t ForkPause() {
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  return pid;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(RootlessTest, SignalWithoutPidNamespaceReachesInitOnly) {
  pid_t init = ForkPause();
  pid_t other = ForkPause();
  ASSERT_TRUE(SignalWithoutCgroup(init, SIGTERM).ok());
  EXPECT_EQ(WaitStatus(init), 128 + SIGTERM);
  // Same pid namespace as ours: cannot be told apart from the container's, left alone.
  EXPECT_EQ(waitpid(other, nullptr, WNOHANG), 0);
  kill(other, SIGKILL);
  WaitStatus(other);
}

TEST(RootlessTest, SignalReachesEveryProcessOfInitsPidNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a pid namespace";
  int pid_pipe[2], ready_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  ASSERT_EQ(pipe(ready_pipe), 0);
  pid_t helper = fork();
  if (helper == 0) {
    // The helper stays outside; its next child is init of a new pid namespace.
    if (unshare(CLONE_NEWPID) != 0) _exit(2);
    pid_t init = fork();
    if (init == 0) {
      pid_t child = ForkPause();
      (void)!write(ready_pipe[1], "r", 1);
      int status = 0;
      waitpid(child, &status, 0);
      // Init has no SIGTERM handler: only its child can have died of it.
      _exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM ? 7 : 1);
    }
    (void)!write(pid_pipe[1], &init, sizeof init);
    _exit(WaitStatus(init));
  }
  pid_t init = 0;
  char ready = 0;
  ASSERT_EQ(read(pid_pipe[0], &init, sizeof init), static_cast<ssize_t>(sizeof init));
  ASSERT_EQ(read(ready_pipe[0], &ready, 1), 1);
  ASSERT_TRUE(SignalWithoutCgroup(init, SIGTERM).ok());
  EXPECT_EQ(WaitStatus(helper), 7);
  for (int fd : {pid_pipe[0], pid_pipe[1], ready_pipe[0], ready_pipe[1]}) close(fd);
}

}  // namespace
}  // namespace husk::runtime
