// Tests against the host's real cgroups (run as root); no mocks. Each test uses its own
// cgroup, /husk-test-<pid>-<n>, and removes it even when an assertion fails.
#include "sys/cgroup/cgroup.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/cgroup/device_bpf.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {
namespace {

// The layout computed independently of the code under test: a v1 mount carrying a real
// controller means v1 controllers are in use.
Layout ExpectedLayout() {
  auto text = fs::ReadFile("/proc/self/mountinfo").value_or("");
  bool v1 = false, v2 = false;
  for (const auto& line : strings::Split(text, '\n')) {
    auto pos = line.find(" - ");
    if (pos == std::string::npos) continue;
    auto f = strings::Split(line.substr(pos + 3), ' ');
    if (f.size() < 3) continue;
    if (f[0] == "cgroup2") v2 = true;
    if (f[0] == "cgroup") {
      for (const auto& o : strings::Split(f[2], ','))
        if (o == "memory" || o == "cpu" || o == "pids" || o == "freezer" || o == "devices")
          v1 = true;
    }
  }
  if (v1) return v2 ? Layout::kHybrid : Layout::kLegacy;
  return Layout::kUnified;
}

TEST(CgroupDetect, MatchesMountinfo) {
  auto l = DetectLayout();
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(*l, ExpectedLayout()) << "detected " << LayoutName(*l);
}

TEST(CgroupOpen, Paths) {
  if (!DetectLayout().ok()) GTEST_SKIP() << "no cgroups mounted";
  EXPECT_EQ((*Open("", "c1", false))->path(), "/huskrun/c1");
  EXPECT_EQ((*Open("pod/c1", "c1", false))->path(), "/huskrun/pod/c1");
  EXPECT_EQ((*Open("/a//b/", "c1", false))->path(), "/a/b");
  EXPECT_FALSE(Open("../etc", "c1", false).ok());
  EXPECT_FALSE(Open("/", "c1", false).ok());
  auto sd = Open("", "c1", true);
  ASSERT_FALSE(sd.ok());
  EXPECT_NE(sd.error().message().find("systemd cgroup driver is not supported"), std::string::npos);
}

// A child that sleeps until signalled; killed and reaped if a test bails out.
struct Child {
  pid_t pid = -1;
  explicit Child(pid_t p) : pid(p) {}
  Child() {
    pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // The exit status, or -1 if it doesn't end within 5 s.
  int Wait() {
    for (int i = 0; i < 500; ++i) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        return st;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
};

// The single-letter State of /proc/PID/status.
char ProcState(pid_t pid) {
  auto s = fs::ReadFile("/proc/" + std::to_string(pid) + "/status").value_or("");
  auto pos = s.find("State:\t");
  return pos == std::string::npos ? '?' : s[pos + 7];
}

bool WaitState(pid_t pid, char want) {
  for (int i = 0; i < 200; ++i) {
    if (ProcState(pid) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Every manager runs the same suite: the one Open picks for this host, and, on a hybrid
// host, the v2 manager over the host's cgroup2 mount, so v2 code runs here too (that
// cgroup2 side usually offers few controllers; tests needing absent files skip), and the
// v1 manager as a pure-v1 host would use it (the cgroup2 mount ignored).
enum class Kind { kDetected, kCgroup2Mount, kV1Only };

class CgroupManager : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto l = DetectLayout();
    if (!l) GTEST_SKIP() << l.error().message();
    if (GetParam() != Kind::kDetected && *l != Layout::kHybrid)
      GTEST_SKIP() << "not a hybrid host: the detected manager covers this layout";
    static int n = 0;
    path_ = "/husk-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    m_ = Make(path_);
    ASSERT_TRUE(m_);
    auto st = m_->Create();
    ASSERT_TRUE(st.ok()) << st.error().message();
  }
  void TearDown() override {
    if (!m_) return;
    (void)m_->KillAll(SIGKILL);
    auto st = m_->Destroy();
    EXPECT_TRUE(st.ok()) << st.error().message();
  }

  std::unique_ptr<Manager> Make(const std::string& path) {
    if (GetParam() == Kind::kCgroup2Mount)
      return internal::NewV2(*internal::ReadMounts()->v2, path);
    if (GetParam() == Kind::kV1Only) {
      auto mounts = *internal::ReadMounts();
      mounts.v2.reset();
      return internal::NewV1(std::move(mounts), Layout::kLegacy, path);
    }
    auto m = Open(path, "ignored", false);
    EXPECT_TRUE(m.ok()) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }
  // Skips the test when the v2 cgroup lacks a file (its controller is not offered).
  bool Lacks(const std::string& file) { return V2() && !fs::Exists(Dir("") + "/" + file); }

  // The container's directory in the hierarchy of controller (v2: the one directory).
  std::string Dir(const std::string& controller) {
    auto mounts = *internal::ReadMounts();
    if (m_->layout() == Layout::kUnified) return mounts.v2->mountpoint + path_;
    for (const auto& h : mounts.v1)
      for (const auto& c : h.controllers)
        if (c == controller) return h.mountpoint + path_;
    return "";
  }
  std::string ReadBack(const std::string& controller, const std::string& file) {
    std::string d = Dir(controller);
    if (d.empty()) return "<" + controller + " not mounted>";
    return std::string(strings::Trim(fs::ReadFile(d + "/" + file).value_or("<unreadable>")));
  }
  bool V2() const { return m_->layout() == Layout::kUnified; }

  std::string path_;
  std::unique_ptr<Manager> m_;
};

TEST_P(CgroupManager, CreateMakesEveryHierarchy) {
  auto mounts = *internal::ReadMounts();
  if (V2()) {
    EXPECT_TRUE(fs::IsDir(mounts.v2->mountpoint + path_));
    return;
  }
  for (const auto& h : mounts.v1) EXPECT_TRUE(fs::IsDir(h.mountpoint + path_)) << h.mountpoint;
  // A fresh cpuset cgroup is unusable until cpus and mems are copied in.
  if (!Dir("cpuset").empty()) {
    EXPECT_NE(ReadBack("cpuset", "cpuset.cpus"), "");
    EXPECT_NE(ReadBack("cpuset", "cpuset.mems"), "");
  }
}

// Create says whether it made the cgroup: create skips its frozen/not-empty
// checks only for one it made. A second Create of the same path, and Create of
// a nested path whose parents are missing, report correctly.
TEST_P(CgroupManager, MadeByCreateTellsNewFromExisting) {
  EXPECT_TRUE(m_->MadeByCreate());
  auto again = Make(path_);
  ASSERT_TRUE(again->Create().ok());
  EXPECT_FALSE(again->MadeByCreate());
  auto nested = Make(path_ + "/a/b");
  auto st = nested->Create();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(nested->MadeByCreate());
  // Destroy of the outer cgroup removes the nested ones too (rmdir answers EBUSY first).
  ASSERT_TRUE(m_->Destroy().ok());
  EXPECT_FALSE(fs::Exists(Dir("pids").empty() ? Dir("memory") : Dir("pids")));
}

// v1 cpuset: levels made on the way get the parent's cpus and mems and
// cgroup.clone_children (so later leaves start filled in); a process can join
// the leaf, and a leaf below a level made elsewhere without clone_children is
// filled in by copying.
TEST_P(CgroupManager, CpusetLevelsAreFilledIn) {
  if (V2() || Dir("cpuset").empty()) GTEST_SKIP() << "v1 cpuset controller only";
  std::string top = Dir("cpuset");
  std::string root_cpus = ReadBack("cpuset", "cpuset.cpus");
  ASSERT_FALSE(root_cpus.empty());
  auto nested = Make(path_ + "/a/b");
  ASSERT_TRUE(nested->Create().ok());
  EXPECT_EQ(strings::Trim(*fs::ReadFile(top + "/a/cgroup.clone_children")), "1");
  EXPECT_EQ(strings::Trim(*fs::ReadFile(top + "/a/b/cpuset.cpus")), root_cpus);
  EXPECT_FALSE(strings::Trim(*fs::ReadFile(top + "/a/b/cpuset.mems")).empty());
  Child c;
  auto st = nested->AddProcess(c.pid);
  EXPECT_TRUE(st.ok()) << st.error().message();
  // Made elsewhere: a level without clone_children and empty cpus.
  ASSERT_EQ(::mkdir((top + "/plain").c_str(), 0755), 0);
  ASSERT_TRUE(fs::WriteFile(top + "/plain/cgroup.clone_children", "0").ok());
  auto below = Make(path_ + "/plain/leaf");
  ASSERT_TRUE(below->Create().ok());
  EXPECT_EQ(strings::Trim(*fs::ReadFile(top + "/plain/leaf/cpuset.cpus")), root_cpus);
  Child c2;
  st = below->AddProcess(c2.pid);
  EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST_P(CgroupManager, ApplyWritesLimits) {
  if (Lacks("memory.max") || Lacks("cpu.max") || Lacks("pids.max"))
    GTEST_SKIP() << "memory, cpu or pids controller not offered";
  oci::Resources r;
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.memory->reservation = 32 << 20;
  r.cpu = oci::CpuResources{};
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.pids = oci::PidsResources{42};
  auto st = m_->Apply(r);
  ASSERT_TRUE(st.ok()) << st.error().message();
  if (V2()) {
    EXPECT_EQ(ReadBack("", "memory.max"), std::to_string(64 << 20));
    EXPECT_EQ(ReadBack("", "memory.low"), std::to_string(32 << 20));
    EXPECT_EQ(ReadBack("", "cpu.weight"), "20");  // 1 + (510 * 9999) / 262142
    EXPECT_EQ(ReadBack("", "cpu.max"), "50000 100000");
    EXPECT_EQ(ReadBack("", "pids.max"), "42");
  } else {
    EXPECT_EQ(ReadBack("memory", "memory.limit_in_bytes"), std::to_string(64 << 20));
    EXPECT_EQ(ReadBack("memory", "memory.soft_limit_in_bytes"), std::to_string(32 << 20));
    EXPECT_EQ(ReadBack("cpu", "cpu.shares"), "512");
    EXPECT_EQ(ReadBack("cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(ReadBack("cpu", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(ReadBack("pids", "pids.max"), "42");
  }

  // `update` style: unlimited pids, then memory raised and lowered together with swap;
  // the kernel rejects the wrong write order.
  oci::Resources u;
  u.pids = oci::PidsResources{0};
  ASSERT_TRUE(m_->Apply(u).ok());
  EXPECT_EQ(ReadBack(V2() ? "" : "pids", "pids.max"), "max");
  bool memsw = V2() ? fs::Exists(Dir("") + "/memory.swap.max")
                    : fs::Exists(Dir("memory") + "/memory.memsw.limit_in_bytes");
  if (!memsw) return;
  for (int64_t mib : {256, 32}) {
    oci::Resources s;
    s.memory = oci::MemoryResources{};
    s.memory->limit = mib << 20;
    s.memory->swap = (2 * mib) << 20;
    auto st2 = m_->Apply(s);
    ASSERT_TRUE(st2.ok()) << st2.error().message();
    if (V2()) {
      EXPECT_EQ(ReadBack("", "memory.swap.max"), std::to_string(mib << 20));
    } else {
      EXPECT_EQ(ReadBack("memory", "memory.limit_in_bytes"), std::to_string(mib << 20));
      EXPECT_EQ(ReadBack("memory", "memory.memsw.limit_in_bytes"), std::to_string((2 * mib) << 20));
    }
  }
}

TEST_P(CgroupManager, RejectedValueNamesFileAndValue) {
  if (Lacks("cpu.max")) GTEST_SKIP() << "cpu controller not offered";
  oci::Resources r;
  r.cpu = oci::CpuResources{};
  r.cpu->quota = 100;  // below the kernel's 1 ms minimum
  r.cpu->period = 100000;
  auto st = m_->Apply(r);
  ASSERT_FALSE(st.ok());
  std::string msg = st.error().message();
  std::string file = V2() ? Dir("") + "/cpu.max" : Dir("cpu") + "/cpu.cfs_quota_us";
  std::string value = V2() ? "\"100 100000\"" : "\"100\"";
  EXPECT_EQ(msg, "write " + file + " " + value + ": Invalid argument");

  oci::Resources u;
  u.unified["cgroup.max.depth"] = "max";
  auto st2 = m_->Apply(u);
  if (V2()) {
    EXPECT_TRUE(st2.ok()) << st2.error().message();
  } else {
    ASSERT_FALSE(st2.ok());
    EXPECT_EQ(st2.error().message(),
              "invalid configuration: linux.resources.unified requires cgroup v2");
  }
}

// 0 or the errno op returns, run in a child moved into m's cgroup.
int ErrnoInCgroup(Manager& m, const std::function<int()>& op) {
  int go[2], res[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    int r = op();
    (void)!::write(res[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(res[1]);
  int r = -1;
  if (m.AddProcess(pid).ok() && ::write(go[1], "x", 1) == 1 &&
      ::read(res[0], &r, sizeof r) != sizeof r)
    r = -1;
  ::close(go[1]);
  ::close(res[0]);
  ::waitpid(pid, nullptr, 0);
  return r;
}

int OpenInCgroup(Manager& m, const char* path, int flags) {
  return ErrnoInCgroup(m, [&] {
    int fd = ::open(path, flags | O_CLOEXEC);
    return fd < 0 ? errno : 0;
  });
}

TEST_P(CgroupManager, DeviceRules) {
  oci::Resources r;
  r.devices.push_back({false, "", std::nullopt, std::nullopt, "rwm"});
  r.devices.push_back({true, "c", 1, 3, "rwm"});
  r.devices.push_back({true, "c", 136, std::nullopt, "rw"});
  auto st = m_->Apply(r);
  ASSERT_TRUE(st.ok()) << st.error().message();
  if (V2()) {
    // An eBPF program on the cgroup; applying again (update) replaces it.
    EXPECT_EQ(AttachedDevicePrograms(Dir(""))->size(), 1u);
    st = m_->Apply(r);
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(AttachedDevicePrograms(Dir(""))->size(), 1u);
    // Limits without devices (update --memory) leave the filter alone.
    ASSERT_TRUE(m_->Apply(oci::Resources{}).ok());
    EXPECT_EQ(AttachedDevicePrograms(Dir(""))->size(), 1u);
  } else if (!Dir("devices").empty()) {
    EXPECT_EQ(ReadBack("devices", "devices.list"), "c 1:3 rwm\nc 136:* rw");
  } else {
    return;
  }
  EXPECT_EQ(OpenInCgroup(*m_, "/dev/null", O_RDWR), 0);
  EXPECT_EQ(OpenInCgroup(*m_, "/dev/full", O_RDONLY), EPERM);
}

// v1 `update` of the device rules changes only what differs: a process that
// keeps its access to /dev/null is never refused it while the rules flip back
// and forth (a deny-all first, as before, made such opens fail now and then).
TEST_P(CgroupManager, DeviceUpdateNeverRefusesKeptAccess) {
  if (V2() || Dir("devices").empty()) GTEST_SKIP() << "v1 devices controller only";
  oci::Resources a, b;
  for (auto* r : {&a, &b}) {
    r->devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
    r->devices.push_back({true, "c", 1, 3, "rwm"});
  }
  b.devices.push_back({true, "c", 1, 7, "r"});
  ASSERT_TRUE(m_->Apply(a).ok());
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
    while (std::chrono::steady_clock::now() < end) {
      int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (fd < 0) ::_exit(1);
      ::close(fd);
    }
    ::_exit(0);
  }
  ::close(go[0]);
  ASSERT_TRUE(m_->AddProcess(pid).ok());
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  ::close(go[1]);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(m_->Apply(i % 2 ? a : b).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "an open of /dev/null failed";
  ASSERT_TRUE(m_->Apply(b).ok());
  EXPECT_EQ(ReadBack("devices", "devices.list"), "c 1:3 rwm\nc 1:7 r");
  EXPECT_EQ(OpenInCgroup(*m_, "/dev/full", O_RDONLY), 0);
  EXPECT_EQ(OpenInCgroup(*m_, "/dev/full", O_WRONLY), EPERM);
}

// 0 or the errno of mknod of a device node at path, in m's cgroup.
int MknodInCgroup(Manager& m, const std::string& path, mode_t type, dev_t dev) {
  return ErrnoInCgroup(m, [&] {
    int r = ::mknod(path.c_str(), type | 0600, dev) == 0 ? 0 : errno;
    ::unlink(path.c_str());
    return r;
  });
}

// create writes the limits while init still makes device nodes when
// DeviceRulesCertainlyAllow says the rules allow each mknod: the kernel must
// agree. Random rule lists over a few types and numbers, applied as create
// applies them, then every device the function vouches for is made for real.
TEST_P(CgroupManager, CertainlyAllowedMknodSucceeds) {
  if (!V2() && Dir("devices").empty()) GTEST_SKIP() << "no devices controller";
  char tmpl[] = "/tmp/husk-mknod-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  const char* types[] = {"a", "c", "b"};
  const std::optional<int64_t> nums[] = {std::nullopt, 1, 7};
  const char* accesses[] = {"rwm", "m", "rw", "wm", ""};
  unsigned seed = 42;
  auto next = [&seed](unsigned n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  int vouched = 0;
  for (int round = 0; round < 30; ++round) {
    oci::Resources r;
    // As create does: mostly a deny-all first, then rules.
    if (next(4) != 0) r.devices.push_back({false, "a", std::nullopt, std::nullopt, "rwm"});
    for (unsigned k = 0, n = 1 + next(4); k < n; ++k)
      r.devices.push_back(
          {next(2) == 0, types[next(3)], nums[next(3)], nums[next(3)], accesses[next(5)]});
    auto st = m_->Apply(r);
    ASSERT_TRUE(st.ok()) << round << ": " << st.error().message();
    for (char type : {'c', 'b'})
      for (int64_t major : {1, 7})
        for (int64_t minor : {1, 7}) {
          if (!DeviceRulesCertainlyAllow(r.devices, type, major, minor, 'm')) continue;
          ++vouched;
          int e = MknodInCgroup(*m_, dir + "/node", type == 'c' ? S_IFCHR : S_IFBLK,
                                makedev(major, minor));
          EXPECT_EQ(e, 0) << "round " << round << ": " << type << " " << major << ":" << minor;
        }
  }
  EXPECT_GT(vouched, 10);  // the lists above must exercise the positive answer
  ::rmdir(dir.c_str());
}

TEST_P(CgroupManager, HugetlbLimit) {
  auto sizes = internal::HugePageSizes();
  if (sizes.empty()) GTEST_SKIP() << "no huge pages";
  // v1 hugetlb if mounted, else the cgroup2 side (also on hybrid hosts).
  auto mounts = *internal::ReadMounts();
  std::string file = Dir("hugetlb") + "/hugetlb." + sizes[0] + ".limit_in_bytes";
  if (V2() || Dir("hugetlb").empty()) {
    if (!mounts.v2 || GetParam() == Kind::kV1Only) GTEST_SKIP() << "no hugetlb controller";
    file = mounts.v2->mountpoint + path_ + "/hugetlb." + sizes[0] + ".max";
  }
  if (!fs::Exists(file)) GTEST_SKIP() << file << " not offered";
  oci::Resources r;
  r.hugepage_limits.push_back({sizes[0], 1ull << 30});  // a multiple of every page size
  auto st = m_->Apply(r);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(strings::Trim(*fs::ReadFile(file)), std::to_string(1ull << 30));
  auto stats = m_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE((*stats)["hugetlb"].contains(sizes[0])) << stats->dump();
}

TEST_P(CgroupManager, CloneIntoCgroup) {
  auto fd = m_->OpenForClone({});
  ASSERT_TRUE(fd.ok()) << fd.error().message();
  if (!V2()) {
    EXPECT_FALSE(fd->valid());  // v1: the caller uses AddProcess
    return;
  }
  ASSERT_TRUE(fd->valid());
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(fd->get());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    for (;;) ::pause();
  }
  ASSERT_GT(pid, 0) << strerror(errno);
  Child c(static_cast<pid_t>(pid));
  EXPECT_EQ(*m_->Pids(), std::vector<pid_t>{c.pid});
}

TEST_P(CgroupManager, StatsShape) {
  Child c;
  ASSERT_TRUE(m_->AddProcess(c.pid).ok());
  auto stats = m_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  const auto& d = *stats;
  for (const char* k : {"cpu", "memory", "pids", "blkio", "hugetlb"})
    EXPECT_TRUE(d.contains(k)) << k << " in " << d.dump();
  EXPECT_TRUE(d["cpu"]["usage"].contains("kernel"));
  EXPECT_TRUE(d["cpu"]["usage"].contains("user"));
  EXPECT_TRUE(d["cpu"].contains("throttling"));
  EXPECT_TRUE(d["memory"]["usage"].contains("limit"));
  EXPECT_TRUE(d["memory"]["usage"].contains("failcnt"));
  if (!V2() && !Dir("cpuacct").empty()) {
    // The child ran a little: one entry per cpu, as in cpuacct.usage_percpu.
    EXPECT_EQ(d["cpu"]["usage"]["percpu_user"].size(), d["cpu"]["usage"]["percpu"].size());
  }
}

TEST_P(CgroupManager, ProcessLifecycle) {
  Child c;
  ASSERT_GT(c.pid, 0);
  auto st = m_->AddProcess(c.pid);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto pids = m_->Pids();
  ASSERT_TRUE(pids.ok()) << pids.error().message();
  EXPECT_EQ(*pids, std::vector<pid_t>{c.pid});

  // Sub-cgroups the container makes count too, and go away with it.
  auto sub = Make(path_ + "/sub");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(sub->Create().ok());
  Child c2;
  ASSERT_TRUE(sub->AddProcess(c2.pid).ok());
  pids = m_->Pids();
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(pids->size(), 2u);

  ASSERT_TRUE(WaitState(c.pid, 'S'));
  st = m_->Freeze();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(m_->Frozen().value_or(false));
  if (V2()) {
    EXPECT_NE(ReadBack("", "cgroup.events").find("frozen 1"), std::string::npos);
  } else {
    EXPECT_EQ(ReadBack("freezer", "freezer.state"), "FROZEN");
    // Frozen tasks show as uninterruptible sleep since Linux 6.1.
    EXPECT_TRUE(WaitState(c.pid, 'D')) << ProcState(c.pid);
  }
  st = m_->Thaw();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_FALSE(m_->Frozen().value_or(true));
  EXPECT_TRUE(WaitState(c.pid, 'S')) << ProcState(c.pid);

  st = m_->KillAll(SIGKILL);
  ASSERT_TRUE(st.ok()) << st.error().message();
  int ws = c.Wait();
  EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL) << ws;
  ws = c2.Wait();
  EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL) << ws;

  st = m_->Destroy();
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto mounts = *internal::ReadMounts();
  if (V2()) {
    EXPECT_FALSE(fs::Exists(mounts.v2->mountpoint + path_));
  }
  for (const auto& h : mounts.v1) EXPECT_FALSE(fs::Exists(h.mountpoint + path_)) << h.mountpoint;
  // Destroying again is fine: the directories are already gone.
  EXPECT_TRUE(m_->Destroy().ok());
}

TEST_P(CgroupManager, KillAllOtherSignalKeepsPausedContainerPaused) {
  Child c;
  ASSERT_TRUE(m_->AddProcess(c.pid).ok());
  ASSERT_TRUE(m_->KillAll(SIGTERM).ok());
  int ws = c.Wait();
  EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM) << ws;

  Child c2;
  ASSERT_TRUE(m_->AddProcess(c2.pid).ok());
  ASSERT_TRUE(m_->Freeze().ok());
  ASSERT_TRUE(m_->KillAll(SIGTERM).ok());
  EXPECT_TRUE(m_->Frozen().value_or(false));
  ASSERT_TRUE(m_->Thaw().ok());
  ws = c2.Wait();
  EXPECT_TRUE(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGTERM) << ws;
}

TEST_P(CgroupManager, LoadSavedPath) {
  if (GetParam() != Kind::kDetected) GTEST_SKIP() << "Load picks the host's layout";
  oci::Resources r;
  r.pids = oci::PidsResources{7};
  ASSERT_TRUE(m_->Apply(r).ok());
  auto l = Load(m_->path());
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ((*l)->path(), path_);
  EXPECT_EQ((*l)->layout(), m_->layout());
  Child c;
  ASSERT_TRUE((*l)->AddProcess(c.pid).ok());
  EXPECT_EQ(*m_->Pids(), std::vector<pid_t>{c.pid});
  auto stats = (*l)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  EXPECT_EQ((*stats)["pids"]["current"], 1);
  EXPECT_EQ((*stats)["pids"]["limit"], 7);
  EXPECT_TRUE((*stats)["memory"]["usage"].contains("limit")) << stats->dump();
  EXPECT_TRUE((*stats)["cpu"]["usage"].contains("kernel"));
  EXPECT_TRUE((*stats)["memory"].contains("raw"));
  EXPECT_FALSE(Load("relative/path").ok());
}

TEST_P(CgroupManager, ContainerMounts) {
  auto plain = m_->ContainerMounts(false);
  auto ns = m_->ContainerMounts(true);
  if (V2()) {
    ASSERT_EQ(plain.size(), 1u);
    EXPECT_EQ(plain[0].fstype, "bind");
    EXPECT_EQ(plain[0].source, Dir(""));
    ASSERT_EQ(ns.size(), 1u);
    EXPECT_EQ(ns[0].fstype, "cgroup2");
    return;
  }
  ASSERT_FALSE(plain.empty());
  EXPECT_EQ(plain[0].fstype, "tmpfs");
  EXPECT_EQ(plain[0].target, "");
  auto mounts = *internal::ReadMounts();
  for (const auto& h : mounts.v1) {
    std::string name = h.mountpoint.substr(h.mountpoint.rfind('/') + 1);
    bool found_bind = false, found_mount = false;
    for (const auto& s : plain)
      if (s.target == name && s.fstype == "bind" && s.source == h.mountpoint + path_)
        found_bind = true;
    for (const auto& s : ns)
      if (s.target == name && s.fstype == "cgroup" && s.data == strings::Join(h.controllers, ","))
        found_mount = true;
    EXPECT_TRUE(found_bind) << name;
    EXPECT_TRUE(found_mount) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cgroup, CgroupManager,
                         ::testing::Values(Kind::kDetected, Kind::kCgroup2Mount, Kind::kV1Only),
                         [](const auto& info) -> std::string {
                           switch (info.param) {
                             case Kind::kDetected:
                               return "Detected";
                             case Kind::kCgroup2Mount:
                               return "Cgroup2Mount";
                             case Kind::kV1Only:
                               return "V1Only";
                           }
                           return "";
                         });

}  // namespace
}  // namespace husk::cgroup
