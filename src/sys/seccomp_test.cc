#include "sys/seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "sys/test_child.h"

namespace husk::sys {
namespace {

using husk::testutil::InChild;

// mkdirat(2) by raw syscall, so libc cannot pick another syscall; -errno or 0.
int RawMkdirat(const std::string& path, mode_t mode) {
  long rc = syscall(SYS_mkdirat, AT_FDCWD, path.c_str(), mode);
  return rc < 0 ? -errno : 0;
}

class SeccompTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/husk-seccomp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

oci::SeccompSyscall Rule(std::vector<std::string> names, std::string action,
                         std::vector<oci::SeccompArg> args = {},
                         std::optional<unsigned> errno_ret = std::nullopt) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.args = std::move(args);
  s.errno_ret = errno_ret;
  return s;
}

TEST_F(SeccompTest, DeniesMatchingCallWithErrnoInChild) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  // mkdirat with mode 0700 fails with EXDEV (distinct from any real failure);
  // other modes, and every other syscall, go through.
  s.syscalls.push_back(Rule({"mkdirat", "no_such_syscall_at_all"}, "SCMP_ACT_ERRNO",
                            {{2, 0700, 0, "SCMP_CMP_EQ"}}, EXDEV));
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_FALSE(p->notify);
  EXPECT_EQ(p->flags, 0u);
  EXPECT_GT(p->filter.size(), 4u);

  int rc = InChild([&] {
    if (LoadSeccompNoAlloc(*p) != 0) return 1;
    if (RawMkdirat(dir_ + "/denied", 0700) != -EXDEV) return 2;
    if (RawMkdirat(dir_ + "/allowed", 0755) != 0) return 3;
    if (getpid() <= 0) return 4;
    // libseccomp was told not to set no_new_privs, and the raw load does not either.
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0) return 5;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  struct stat st;
  EXPECT_NE(stat((dir_ + "/denied").c_str(), &st), 0);
  EXPECT_EQ(stat((dir_ + "/allowed").c_str(), &st), 0);
}

TEST_F(SeccompTest, SameArgumentIndexMeansOr) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls.push_back(Rule({"mkdirat"}, "SCMP_ACT_ERRNO",
                            {{2, 0700, 0, "SCMP_CMP_EQ"}, {2, 0711, 0, "SCMP_CMP_EQ"}}, EXDEV));
  // Different indexes: AND. fd == AT_FDCWD and mode masked to 0007 == 0007.
  s.syscalls.push_back(
      Rule({"fchmodat"}, "SCMP_ACT_ERRNO",
           {{0, static_cast<uint64_t>(static_cast<uint32_t>(AT_FDCWD)), 0, "SCMP_CMP_EQ"},
            {2, 0007, 0007, "SCMP_CMP_MASKED_EQ"}},
           EXDEV));
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  int rc = InChild([&] {
    if (LoadSeccompNoAlloc(*p) != 0) return 1;
    if (RawMkdirat(dir_ + "/a", 0700) != -EXDEV) return 2;
    if (RawMkdirat(dir_ + "/b", 0711) != -EXDEV) return 3;
    if (RawMkdirat(dir_ + "/c", 0755) != 0) return 4;
    std::string c = dir_ + "/c";
    if (syscall(SYS_fchmodat, AT_FDCWD, c.c_str(), 0777) != -1 || errno != EXDEV) return 5;
    if (syscall(SYS_fchmodat, AT_FDCWD, c.c_str(), 0750) != 0) return 6;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST_F(SeccompTest, DefaultErrnoRet) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.default_errno_ret = ENOSYS;
  s.syscalls.push_back(Rule({"mkdirat"}, "SCMP_ACT_ERRNO", {}, EXDEV));
  // Rules equal to the default action are dropped, not errors.
  s.syscalls.push_back(Rule({"getcwd"}, "SCMP_ACT_ERRNO", {}, ENOSYS));
  s.syscalls.push_back(Rule({"exit", "exit_group", "getpid", "write"}, "SCMP_ACT_ALLOW"));
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  int rc = InChild([&] {
    if (LoadSeccompNoAlloc(*p) != 0) return 1;
    if (RawMkdirat(dir_ + "/x", 0755) != -EXDEV) return 2;
    if (syscall(SYS_getppid) != -1 || errno != ENOSYS) return 3;
    if (syscall(SYS_getpid) <= 0) return 4;
    syscall(SYS_exit_group, 0);
    return 5;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompCompileTest, ErrorsNameTheBadThing) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_FOO";
  auto r = CompileSeccomp(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "seccomp: unknown action \"SCMP_ACT_FOO\"");

  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_VAX"};
  r = CompileSeccomp(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "seccomp: unknown architecture \"SCMP_ARCH_VAX\"");

  s.architectures = {};
  s.syscalls = {Rule({"read"}, "SCMP_ACT_ERRNO", {{0, 1, 0, "SCMP_CMP_ALMOST"}})};
  r = CompileSeccomp(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "seccomp: syscall \"read\": unknown operator \"SCMP_CMP_ALMOST\"");

  s.syscalls = {Rule({"read"}, "SCMP_ACT_ERRNO", {{6, 1, 0, "SCMP_CMP_EQ"}})};
  EXPECT_FALSE(CompileSeccomp(s).ok());

  s.syscalls = {Rule({"read"}, "SCMP_ACT_BAR")};
  r = CompileSeccomp(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "seccomp: unknown action \"SCMP_ACT_BAR\"");

  s.syscalls = {};
  s.flags = {"SECCOMP_FILTER_FLAG_NOPE"};
  r = CompileSeccomp(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "seccomp: unknown flag \"SECCOMP_FILTER_FLAG_NOPE\"");

  s.flags = {};
  s.default_action = "SCMP_ACT_NOTIFY";
  EXPECT_FALSE(CompileSeccomp(s).ok());
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls = {Rule({"write"}, "SCMP_ACT_NOTIFY")};
  EXPECT_FALSE(CompileSeccomp(s).ok());
}

TEST(SeccompCompileTest, FlagsAndNotify) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.flags = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
             "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  s.syscalls = {Rule({"mkdirat"}, "SCMP_ACT_NOTIFY")};
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_TRUE(p->notify);
  EXPECT_EQ(p->flags,
            static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                                  SECCOMP_FILTER_FLAG_NEW_LISTENER));
  // Loading returns the listener fd.
  int rc = InChild([&] {
    int fd = LoadSeccompNoAlloc(*p);
    if (fd < 0) return 1;
    return fcntl(fd, F_GETFD) >= 0 ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompCompileTest, WaitKillableRecvOnlyWithListener) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.flags = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  s.syscalls = {Rule({"mkdirat"}, "SCMP_ACT_ERRNO")};
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->flags, 0u);
  int rc = InChild([&] { return LoadSeccompNoAlloc(*p) == 0 ? 0 : 1; });
  EXPECT_EQ(rc, 0);

  s.syscalls = {Rule({"mkdirat"}, "SCMP_ACT_NOTIFY")};
  p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->flags, static_cast<unsigned>(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV |
                                            SECCOMP_FILTER_FLAG_NEW_LISTENER));
}

TEST(SeccompCompileTest, TablesAndProbe) {
  const auto& actions = KnownSeccompActions();
  EXPECT_EQ(actions.size(), 9u);
  EXPECT_TRUE(std::is_sorted(actions.begin(), actions.end()));
  EXPECT_EQ(KnownSeccompOperators().size(), 7u);
  const auto& archs = KnownSeccompArchs();
  EXPECT_NE(std::find(archs.begin(), archs.end(), "SCMP_ARCH_X86_64"), archs.end());
  EXPECT_NE(std::find(archs.begin(), archs.end(), "SCMP_ARCH_AARCH64"), archs.end());
  auto supported = SupportedSeccompFlags();
  for (const auto& f :
       {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}) {
    EXPECT_NE(std::find(supported.begin(), supported.end(), f), supported.end()) << f;
  }
  EXPECT_EQ(LibseccompVersion().substr(0, 2), "2.");
  // libseccomp accepts every known architecture, except that one filter cannot
  // mix byte orders: the big-endian ones are refused beside a little-endian native.
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  for (const auto& a : archs) {
    s.architectures = {a};
    auto p = CompileSeccomp(s);
    bool big_endian = a == "SCMP_ARCH_MIPS" || a == "SCMP_ARCH_MIPS64" ||
                      a == "SCMP_ARCH_MIPS64N32" || a == "SCMP_ARCH_PPC" ||
                      a == "SCMP_ARCH_PPC64" || a == "SCMP_ARCH_S390" || a == "SCMP_ARCH_S390X" ||
                      a == "SCMP_ARCH_PARISC" || a == "SCMP_ARCH_PARISC64";
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (big_endian) {
      ASSERT_FALSE(p.ok()) << a;
      EXPECT_NE(p.error().message().find("byte order"), std::string::npos) << p.error().message();
      continue;
    }
#endif
    EXPECT_TRUE(p.ok()) << a << ": " << p.error().message();
  }
}

// Builds the oci::Seccomp a runtime would get for podman's default profile,
// applying its includes/excludes for a container on this architecture with no
// capabilities (so every caps-gated allow is left out).
oci::Seccomp PodmanProfile(const nlohmann::json& j) {
  oci::Seccomp s;
  s.default_action = j.at("defaultAction").get<std::string>();
  if (j.contains("defaultErrnoRet")) s.default_errno_ret = j["defaultErrnoRet"].get<unsigned>();
#if defined(__x86_64__)
  const std::string native = "SCMP_ARCH_X86_64", goarch = "amd64";
#elif defined(__aarch64__)
  const std::string native = "SCMP_ARCH_AARCH64", goarch = "arm64";
#else
  const std::string native = "", goarch = "";
#endif
  for (const auto& m : j.value("archMap", nlohmann::json::array())) {
    if (m.at("architecture") != native) continue;
    s.architectures.push_back(native);
    for (const auto& sub : m.value("subArchitectures", nlohmann::json::array()))
      s.architectures.push_back(sub.get<std::string>());
  }
  for (const auto& c : j.at("syscalls")) {
    auto inc = c.value("includes", nlohmann::json::object());
    auto exc = c.value("excludes", nlohmann::json::object());
    if (!inc.value("caps", nlohmann::json::array()).empty()) continue;
    auto arches = inc.value("arches", nlohmann::json::array());
    if (!arches.empty() && std::find(arches.begin(), arches.end(), goarch) == arches.end())
      continue;
    auto xarches = exc.value("arches", nlohmann::json::array());
    if (std::find(xarches.begin(), xarches.end(), goarch) != xarches.end()) continue;
    oci::SeccompSyscall r;
    r.names = c.at("names").get<std::vector<std::string>>();
    r.action = c.at("action").get<std::string>();
    if (c.contains("errnoRet")) r.errno_ret = c["errnoRet"].get<unsigned>();
    for (const auto& a : c.value("args", nlohmann::json::array())) {
      if (a.is_null()) continue;
      r.args.push_back({a.at("index").get<unsigned>(), a.at("value").get<uint64_t>(),
                        a.value("valueTwo", uint64_t{0}), a.at("op").get<std::string>()});
    }
    s.syscalls.push_back(std::move(r));
  }
  return s;
}

TEST(SeccompCompileTest, PodmanDefaultProfileLoads) {
  std::ifstream in("/usr/share/containers/seccomp.json");
  if (!in) GTEST_SKIP() << "no /usr/share/containers/seccomp.json";
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str());
  oci::Seccomp s = PodmanProfile(j);
  ASSERT_GT(s.syscalls.size(), 10u);
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  int rc = InChild([&] {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 1;
    if (LoadSeccompNoAlloc(*p) != 0) return 2;
    // Allowed: ordinary calls.
    if (syscall(SYS_getpid) <= 0) return 3;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 4;
    close(fd);
    // Denied for a container without CAP_SYS_ADMIN: bpf(2) -> EPERM (errnoRet 1).
    if (syscall(SYS_bpf, 0, nullptr, 0) != -1 || errno != EPERM) return 5;
    // Listed with errnoRet 1: EPERM although the caller is root.
    if (syscall(SYS_kexec_load, 0, 0, nullptr, 0) != -1 || errno != EPERM) return 6;
    // Forking still works under the filter.
    pid_t pid = fork();
    if (pid == 0) _exit(7);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7) return 8;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace husk::sys
