// The device filter against the kernel: a cgroup made in the host's cgroup2 hierarchy
// (on hybrid hosts /sys/fs/cgroup/unified: a device program needs no v2 controller), a
// forked child moved into it, and what the child may open and mknod.
#include "sys/cgroup/device_bpf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "sys/cgroup/internal.h"

namespace husk::cgroup {
namespace {

oci::DeviceCgroupRule Rule(bool allow, std::string type, std::optional<int64_t> major,
                           std::optional<int64_t> minor, std::string access) {
  return {allow, std::move(type), major, minor, std::move(access)};
}

TEST(DeviceFilterCompile, RejectsBadRules) {
  auto p = CompileDeviceFilter({Rule(false, "", {}, {}, "rwm"), Rule(true, "p", 1, 3, "rwm")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message(), "linux.resources.devices[1]: type \"p\" is not a, c or b");
  p = CompileDeviceFilter({Rule(true, "c", int64_t{1} << 32, 3, "rwm")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message(), "linux.resources.devices[0]: major 4294967296 is out of range");
  p = CompileDeviceFilter({Rule(true, "b", 8, -1, "x")});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message(),
            "linux.resources.devices[0]: access \"x\" is not made of r, w and m");
}

TEST(DeviceFilterCompile, RulesBeforeTheLastWildcardAreDropped) {
  auto a = CompileDeviceFilter({Rule(true, "a", {}, {}, "rwm")});
  auto b = CompileDeviceFilter(
      {Rule(false, "c", 1, 3, "rwm"), Rule(true, "b", 8, {}, "r"), Rule(true, "", 1, 2, "r")});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), b->size());
  // The prologue, then "r0 = 1; exit" as default; no rule jumps to an exit block.
  EXPECT_EQ(a->size(), 6u + 2u);
  EXPECT_EQ((*a)[6].imm, 1);
}

// A cgroup in the cgroup2 hierarchy, removed at the end.
class DeviceFilter : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mounts = internal::ReadMounts();
    if (!mounts || !mounts->v2) GTEST_SKIP() << "no cgroup2 hierarchy mounted";
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    static int n = 0;
    dir_ = mounts->v2->mountpoint + "/husk-devtest-" + std::to_string(::getpid()) + "-" +
           std::to_string(++n);
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << dir_ << ": " << strerror(errno);
    char tmpl[] = "/tmp/husk-devtest-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override {
    if (!tmp_.empty()) (void)fs::RemoveAll(tmp_);
    if (!dir_.empty()) {
      auto st = internal::RemoveCgroupDir(dir_);
      EXPECT_TRUE(st.ok()) << st.error().message();
    }
  }

  // What a child in the cgroup gets from each probe: 0 or the errno.
  enum Probe { kNullRw, kZeroRo, kZeroWo, kFullRo, kMknod17, kMknod13, kProbes };
  std::array<int, kProbes> Probes() {
    std::array<int, kProbes> out;
    out.fill(-1);
    int go[2], res[2];
    if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(res, O_CLOEXEC) != 0) return out;
    pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      if (::read(go[0], &c, 1) != 1) ::_exit(1);
      std::array<int, kProbes> r{};
      auto open_probe = [](const char* path, int flags) {
        int fd = ::open(path, flags | O_CLOEXEC);
        if (fd < 0) return errno;
        ::close(fd);
        return 0;
      };
      auto mknod_probe = [&](const char* name, unsigned minor) {
        std::string p = tmp_ + "/" + name;
        return ::mknod(p.c_str(), S_IFCHR | 0600, makedev(1, minor)) == 0 ? 0 : errno;
      };
      r[kNullRw] = open_probe("/dev/null", O_RDWR);
      r[kZeroRo] = open_probe("/dev/zero", O_RDONLY);
      r[kZeroWo] = open_probe("/dev/zero", O_WRONLY);
      r[kFullRo] = open_probe("/dev/full", O_RDONLY);
      r[kMknod17] = mknod_probe("full", 7);
      r[kMknod13] = mknod_probe("null", 3);
      (void)!::write(res[1], r.data(), sizeof r);
      ::_exit(0);
    }
    ::close(go[0]);
    ::close(res[1]);
    bool moved = internal::Write(dir_, "cgroup.procs", std::to_string(pid)).ok();
    EXPECT_TRUE(moved);
    if (moved) (void)!::write(go[1], "x", 1);
    ::close(go[1]);
    if (::read(res[0], out.data(), sizeof out) != sizeof out) out.fill(-1);
    ::close(res[0]);
    ::waitpid(pid, nullptr, 0);
    return out;
  }

  std::string dir_, tmp_;
};

const std::vector<oci::DeviceCgroupRule> kRules = {
    Rule(false, "", {}, {}, "rwm"),  // deny all
    Rule(true, "c", 1, 3, "rwm"),    // /dev/null
    Rule(true, "c", 1, 5, "r"),      // /dev/zero, read only
};

TEST_F(DeviceFilter, ChildSeesOnlyAllowedDevices) {
  auto st = SetDeviceFilter(dir_, kRules);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto ids = AttachedDevicePrograms(dir_);
  ASSERT_TRUE(ids.ok()) << ids.error().message();
  EXPECT_EQ(ids->size(), 1u);

  auto r = Probes();
  EXPECT_EQ(r[kNullRw], 0) << strerror(r[kNullRw]);
  EXPECT_EQ(r[kZeroRo], 0) << strerror(r[kZeroRo]);
  EXPECT_EQ(r[kZeroWo], EPERM);
  EXPECT_EQ(r[kFullRo], EPERM);
  EXPECT_EQ(r[kMknod17], EPERM);
  EXPECT_EQ(r[kMknod13], 0) << strerror(r[kMknod13]);
}

TEST_F(DeviceFilter, UpdateReplacesTheProgram) {
  ASSERT_TRUE(SetDeviceFilter(dir_, kRules).ok());
  auto first = *AttachedDevicePrograms(dir_);
  ASSERT_EQ(first.size(), 1u);

  // Later rules win, bit by bit: w on /dev/zero granted; /dev/null loses w; 1:7 allowed.
  auto rules = kRules;
  rules.push_back(Rule(true, "c", 1, {}, "w"));
  rules.push_back(Rule(false, "c", 1, 3, "w"));
  rules.push_back(Rule(true, "c", -1, 7, ""));
  auto st = SetDeviceFilter(dir_, rules);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto second = *AttachedDevicePrograms(dir_);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0], first[0]);

  auto r = Probes();
  EXPECT_EQ(r[kNullRw], EPERM);  // needs w too
  EXPECT_EQ(r[kZeroRo], 0) << strerror(r[kZeroRo]);
  EXPECT_EQ(r[kZeroWo], 0) << strerror(r[kZeroWo]);
  EXPECT_EQ(r[kFullRo], 0) << strerror(r[kFullRo]);
  EXPECT_EQ(r[kMknod17], 0) << strerror(r[kMknod17]);
  EXPECT_EQ(r[kMknod13], 0) << strerror(r[kMknod13]);

  // An "allow all" last rule lifts every restriction.
  rules.push_back(Rule(true, "a", {}, {}, "rwm"));
  ASSERT_TRUE(SetDeviceFilter(dir_, rules).ok());
  EXPECT_EQ(AttachedDevicePrograms(dir_)->size(), 1u);
  r = Probes();
  EXPECT_EQ(r[kNullRw], 0) << strerror(r[kNullRw]);
}

TEST_F(DeviceFilter, OtherProgramsStayAttached) {
  // Someone else's filter (allowing everything) on the same cgroup: kept on update.
  auto allow_all = CompileDeviceFilter({Rule(true, "a", {}, {}, "rwm")});
  ASSERT_TRUE(allow_all.ok());
  auto other = LoadDeviceProgram(*allow_all, "other_devices");
  ASSERT_TRUE(other.ok()) << other.error().message();
  ASSERT_TRUE(ReplaceDeviceFilter(dir_, other->get()).ok());
  ASSERT_TRUE(SetDeviceFilter(dir_, kRules).ok());
  ASSERT_TRUE(SetDeviceFilter(dir_, kRules).ok());
  EXPECT_EQ(AttachedDevicePrograms(dir_)->size(), 2u);
  // Both must allow: ours still denies /dev/full.
  EXPECT_EQ(Probes()[kFullRo], EPERM);
}

TEST_F(DeviceFilter, VerifierRejectionIsReported) {
  // "exit" with r0 never set.
  bpf_insn exit_only{};
  exit_only.code = BPF_JMP | BPF_EXIT;
  auto p = LoadDeviceProgram({exit_only});
  ASSERT_FALSE(p.ok());
  std::string msg = p.error().message();
  EXPECT_EQ(msg.rfind("BPF_PROG_LOAD: Permission denied (verifier: ", 0), 0u) << msg;
  EXPECT_NE(msg.find("R0"), std::string::npos) << msg;
}

TEST_F(DeviceFilter, ErrorNamesTheCgroup) {
  auto st = SetDeviceFilter(dir_ + "/absent", kRules);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "cgroup v2 device filter for " + dir_ + "/absent: open " + dir_ +
                                      "/absent: No such file or directory");
}

}  // namespace
}  // namespace husk::cgroup
