// exec --cgroup: parsing the flag values, and joining sub-cgroups on the host's real
// hierarchies (as root) with the v1 manager and the v2 one (on a hybrid host, over its
// cgroup2 mount, where a sub-cgroup needs no controller to be joined).
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/cgroup/cgroup.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {
namespace {

std::string ParseError(const std::vector<std::string>& args) {
  auto r = ParseSubCgroups(args);
  return r ? "<ok>" : r.error().message();
}

TEST(SubCgroupParse, PathForEveryController) {
  EXPECT_EQ(*ParseSubCgroups({}), SubCgroups{});
  EXPECT_EQ(*ParseSubCgroups({"sub"}), (SubCgroups{{"", "sub"}}));
  // Absolute paths are relative to the container's cgroup; "/" is the cgroup itself.
  EXPECT_EQ(*ParseSubCgroups({"/a//b/"}), (SubCgroups{{"", "a/b"}}));
  EXPECT_EQ(*ParseSubCgroups({"/"}), (SubCgroups{{"", ""}}));
  EXPECT_EQ(*ParseSubCgroups({"a/../b/."}), (SubCgroups{{"", "b"}}));
  EXPECT_EQ(*ParseSubCgroups({"a/.."}), (SubCgroups{{"", ""}}));
}

TEST(SubCgroupParse, ControllerPrefixes) {
  EXPECT_EQ(*ParseSubCgroups({"memory:submem", "cpu,cpuacct:subcpu"}),
            (SubCgroups{{"memory", "submem"}, {"cpu", "subcpu"}, {"cpuacct", "subcpu"}}));
  EXPECT_EQ(*ParseSubCgroups({"name=systemd:/x"}), (SubCgroups{{"name=systemd", "x"}}));
  EXPECT_EQ(*ParseSubCgroups({"cpu:a", "cpu:b"}), (SubCgroups{{"cpu", "b"}}));  // last wins
  EXPECT_EQ(*ParseSubCgroups({"cpu:"}), (SubCgroups{{"cpu", ""}}));
  // Controller names are checked against the mounts when joining, not here.
  EXPECT_EQ(*ParseSubCgroups({"whaaat:/"}), (SubCgroups{{"whaaat", ""}}));
}

TEST(SubCgroupParse, Refusals) {
  EXPECT_EQ(ParseError({".."}), ".. is not a sub cgroup path");
  EXPECT_EQ(ParseError({"a/../../b"}), "a/../../b is not a sub cgroup path");
  EXPECT_EQ(ParseError({"/../x"}), "/../x is not a sub cgroup path");
  EXPECT_EQ(ParseError({"memory:../c2"}), "../c2 is not a sub cgroup path");
  EXPECT_EQ(ParseError({"a", "memory:b"}),
            "invalid --cgroup argument: a (missing <controller>: prefix)");
  EXPECT_EQ(ParseError({"a:b:c"}), "invalid --cgroup argument: a:b:c");
  EXPECT_EQ(ParseError({"cpu,:x"}), "invalid --cgroup argument: cpu,:x (empty controller name)");
  EXPECT_EQ(ParseError({":x"}), "invalid --cgroup argument: :x (empty controller name)");
}

TEST(SubCgroupError, ReadsAsRuncs) {
  Error e = internal::JoinError(42, CodeErr(ENOENT, "open /c/nonexistent/cgroup.procs"));
  EXPECT_EQ(e.message(),
            "adding pid 42 to cgroups: open /c/nonexistent/cgroup.procs: no such file or "
            "directory");
  e = internal::JoinError(42, CodeErr(EBUSY, "write /c/cgroup.procs"));
  EXPECT_EQ(e.message(),
            "adding pid 42 to cgroups: write /c/cgroup.procs: device or resource busy");
}

// A child that sleeps until killed; reaped on destruction.
struct Sleeper {
  pid_t pid = ::fork();
  Sleeper() {
    if (pid == 0) {
      for (;;) ::pause();
    }
  }
  explicit Sleeper(pid_t p) : pid(p) {}
  ~Sleeper() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

enum class Kind { kDetected, kCgroup2Mount };

class SubCgroupJoin : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto l = DetectLayout();
    if (!l) GTEST_SKIP() << l.error().message();
    auto mounts = internal::ReadMounts();
    ASSERT_TRUE(mounts.ok());
    mounts_ = *mounts;
    if (GetParam() == Kind::kCgroup2Mount && (*l != Layout::kHybrid || !mounts_.v2))
      GTEST_SKIP() << "not a hybrid host: Detected covers this layout";
    static int n = 0;
    path_ = "/husk-subcg-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    m_ = Make(path_);
    ASSERT_TRUE(m_->Create().ok());
    auto sub = Make(path_ + "/sub");
    ASSERT_TRUE(sub->Create().ok());
  }
  void TearDown() override {
    if (!m_) return;
    (void)m_->KillAll(SIGKILL);
    auto st = m_->Destroy();
    EXPECT_TRUE(st.ok()) << st.error().message();
  }

  std::unique_ptr<Manager> Make(const std::string& path) {
    if (GetParam() == Kind::kCgroup2Mount) return internal::NewV2(*mounts_.v2, path);
    return Open(path, "ignored", false).value();
  }
  bool V2() const { return m_->layout() == Layout::kUnified; }

  // pid's cgroup in the hierarchy of controller ("" for cgroup2), from /proc/PID/cgroup.
  static std::string CgroupOf(pid_t pid, const std::string& controller) {
    auto text = fs::ReadFile("/proc/" + std::to_string(pid) + "/cgroup").value_or("");
    for (const auto& line : strings::Split(text, '\n')) {
      // ID:controller,controller:path
      size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      auto ctls = strings::Split(line.substr(a + 1, b - a - 1), ',');
      bool match = controller.empty()
                       ? line.substr(0, a) == "0"
                       : std::find(ctls.begin(), ctls.end(), controller) != ctls.end();
      if (match) return line.substr(b + 1);
    }
    return "<none>";
  }
  // Every v1 controller the host mounts, named hierarchies included.
  std::vector<std::string> Controllers() const {
    std::vector<std::string> out;
    for (const auto& h : mounts_.v1)
      out.insert(out.end(), h.controllers.begin(), h.controllers.end());
    return out;
  }

  internal::Mounts mounts_;
  std::string path_;
  std::unique_ptr<Manager> m_;
};

TEST_P(SubCgroupJoin, EveryHierarchy) {
  Sleeper c;
  auto st = m_->AddProcessTo(c.pid, *ParseSubCgroups({"/sub"}), 0);
  ASSERT_TRUE(st.ok()) << st.error().message();
  if (V2()) {
    EXPECT_EQ(CgroupOf(c.pid, ""), path_ + "/sub");
    return;
  }
  for (const auto& ctl : Controllers()) EXPECT_EQ(CgroupOf(c.pid, ctl), path_ + "/sub") << ctl;
  // "/" and no --cgroup at all: the container's own cgroup.
  ASSERT_TRUE(m_->AddProcessTo(c.pid, *ParseSubCgroups({"/"}), 0).ok());
  for (const auto& ctl : Controllers()) EXPECT_EQ(CgroupOf(c.pid, ctl), path_) << ctl;
  ASSERT_TRUE(m_->AddProcessTo(c.pid, {}, 0).ok());
  for (const auto& ctl : Controllers()) EXPECT_EQ(CgroupOf(c.pid, ctl), path_) << ctl;
}

TEST_P(SubCgroupJoin, PerController) {
  Sleeper c;
  if (V2()) {
    auto st = m_->AddProcessTo(c.pid, *ParseSubCgroups({"memory:sub"}), 0);
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(strings::StartsWith(st.error().message(), "unknown controller \"memory\" "))
        << st.error().message();
    return;
  }
  std::string mem, pids;
  for (const auto& h : mounts_.v1) {
    for (const auto& c : h.controllers) {
      if (c == "memory") mem = h.mountpoint;
      if (c == "pids") pids = h.mountpoint;
    }
  }
  if (mem.empty() || pids.empty() || mem == pids) GTEST_SKIP() << "needs memory and pids apart";
  ASSERT_EQ(::mkdir((mem + path_ + "/only-mem").c_str(), 0755), 0);
  auto st = m_->AddProcessTo(c.pid, *ParseSubCgroups({"memory:only-mem", "pids:sub"}), 0);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(CgroupOf(c.pid, "memory"), path_ + "/only-mem");
  EXPECT_EQ(CgroupOf(c.pid, "pids"), path_ + "/sub");
  for (const auto& ctl : Controllers())
    if (ctl != "memory" && ctl != "pids") {
      EXPECT_EQ(CgroupOf(c.pid, ctl), path_) << ctl;
    }

  st = m_->AddProcessTo(c.pid, *ParseSubCgroups({"whaaat:/"}), 0);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(strings::StartsWith(st.error().message(), "unknown controller \"whaaat\" (mounted: "))
      << st.error().message();
}

TEST_P(SubCgroupJoin, MissingSubCgroup) {
  Sleeper c;
  std::vector<std::string> args = {"nonexistent"};
  if (!V2()) args = {"pids:nonexistent"};
  auto st = m_->AddProcessTo(c.pid, *ParseSubCgroups(args), 0);
  ASSERT_FALSE(st.ok());
  std::string want = fmt::format("adding pid {} to cgroups: open ", c.pid);
  std::string msg = st.error().message();
  EXPECT_TRUE(strings::StartsWith(msg, want)) << msg;
  EXPECT_NE(msg.find(path_ + "/nonexistent/cgroup.procs: no such file or directory"),
            std::string::npos)
      << msg;
  // The process went nowhere it wasn't asked to.
  if (!V2()) {
    EXPECT_EQ(CgroupOf(c.pid, "pids"), CgroupOf(::getpid(), "pids"));
  }
}

TEST_P(SubCgroupJoin, CloneIntoSubCgroup) {
  auto fd = m_->OpenForClone(*ParseSubCgroups({"sub"}));
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  if (!V2()) {
    EXPECT_FALSE(fd->valid());
    return;
  }
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(fd->get());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0) << strerror(errno);
  Sleeper c(static_cast<pid_t>(pid));
  EXPECT_EQ(CgroupOf(c.pid, ""), path_ + "/sub");
  EXPECT_FALSE(m_->OpenForClone(*ParseSubCgroups({"nonexistent"})).ok());
}

// runc's "cgroup v2 + init process in non-root cgroup": once the container enables a domain
// controller for its sub-cgroups, its own cgroup may hold no process; exec then follows
// init into its sub-cgroup, unless --cgroup names one (even "/").
TEST_P(SubCgroupJoin, V2FallsBackToInitsCgroup) {
  if (!V2()) GTEST_SKIP() << "v1 has no rule against processes in inner cgroups";
  std::string dir = mounts_.v2->mountpoint + path_;
  auto avail =
      strings::Split(strings::Trim(fs::ReadFile(dir + "/cgroup.controllers").value_or("")), ' ');
  std::string ctl;
  // Domain controllers only: threaded ones (pids, cpu) leave the cgroup open to processes.
  for (const char* c : {"memory", "io", "hugetlb"})
    if (ctl.empty() && std::find(avail.begin(), avail.end(), c) != avail.end()) ctl = c;
  if (ctl.empty()) GTEST_SKIP() << "no domain controller offered in " << dir;
  Sleeper init;
  ASSERT_TRUE(m_->AddProcessTo(init.pid, *ParseSubCgroups({"sub"}), 0).ok());
  auto st = internal::Write(dir, "cgroup.subtree_control", "+" + ctl);
  ASSERT_TRUE(st.ok()) << st.error().message();

  Sleeper c;
  st = m_->AddProcessTo(c.pid, {}, init.pid);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(CgroupOf(c.pid, ""), path_ + "/sub");

  st = m_->AddProcessTo(c.pid, *ParseSubCgroups({"/"}), init.pid);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            fmt::format("adding pid {} to cgroups: write {}/cgroup.procs: device or resource busy",
                        c.pid, dir));
  // Without init, or with init elsewhere, no fallback.
  Sleeper c2;
  EXPECT_FALSE(m_->AddProcessTo(c2.pid, {}, 0).ok());
  EXPECT_FALSE(m_->AddProcessTo(c2.pid, {}, ::getpid()).ok());
}

INSTANTIATE_TEST_SUITE_P(Cgroup, SubCgroupJoin,
                         ::testing::Values(Kind::kDetected, Kind::kCgroup2Mount),
                         [](const auto& info) -> std::string {
                           return info.param == Kind::kDetected ? "Detected" : "Cgroup2Mount";
                         });

}  // namespace
}  // namespace husk::cgroup
