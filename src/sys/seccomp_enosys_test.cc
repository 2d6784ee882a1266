#include "sys/seccomp_enosys.h"

#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

#include <gtest/gtest.h>

#include "sys/test_child.h"

#include "sys/seccomp.h"

namespace husk::sys {
namespace {

using husk::testutil::InChild;

// -errno of a raw syscall, or its (non-negative) result.
long Raw(long nr) {
  long rc = syscall(nr, 0, 0, 0);
  return rc < 0 ? -errno : rc;
}

oci::SeccompSyscall Rule(std::vector<std::string> names, std::string action) {
  oci::SeccompSyscall r;
  r.names = std::move(names);
  r.action = std::move(action);
  return r;
}

TEST(SeccompEnosysTest, MaxSyscallNumberPerArch) {
  EXPECT_EQ(MaxSyscallNumber(SCMP_ARCH_X86_64, {"read", "mkdirat", "write"}), __NR_mkdirat);
  // x32 numbers carry bit 30, as the kernel sees them.
  EXPECT_EQ(MaxSyscallNumber(SCMP_ARCH_X32, {"read"}), 0x40000000);
  EXPECT_EQ(MaxSyscallNumber(SCMP_ARCH_X86_64, {"no_such_call"}), -1);
  EXPECT_TRUE(EnosysStub({}, {"no_such_call"}).empty());
  EXPECT_FALSE(EnosysStub({SCMP_ARCH_X86_64}, {"read"}).empty());
}

// As runc's seccomp_syscall_test1: with a refusing default, a syscall newer than
// every one the profile names is ENOSYS (so libc falls back), one the profile
// merely leaves out keeps the default's EPERM.
TEST(SeccompEnosysTest, NewerSyscallsGetEnosysOlderOnesTheDefault) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ERRNO";
  s.architectures = {"SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86_64"};
  s.syscalls = {Rule({"exit", "exit_group", "getpid", "mkdirat", "write"}, "SCMP_ACT_ALLOW")};
  auto p = CompileSeccomp(s);
  ASSERT_TRUE(p.ok()) << p.error().message();
  int rc = InChild([&] {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 1;
    if (LoadSeccompNoAlloc(*p) != 0) return 2;
    if (Raw(SYS_getpid) <= 0) return 3;                     // allowed
    if (Raw(SYS_getppid) != -EPERM) return 4;               // 110 < mkdirat (258): the default
    if (Raw(SYS_openat2) != -ENOSYS) return 5;              // 437 > 258: unknown to the profile
    if (Raw(1000) != -ENOSYS) return 6;                     // out of range
    if (Raw(0x40000000 | SYS_getppid) != -EPERM) return 7;  // x32: below the x32 maximum
    syscall(SYS_exit_group, 0);
    return 8;
  });
  EXPECT_EQ(rc, 0);
}

TEST(SeccompEnosysTest, OnlyARefusingDefaultGetsTheStub) {
  oci::Seccomp with_errno;
  with_errno.default_action = "SCMP_ACT_ERRNO";
  with_errno.syscalls = {Rule({"mkdirat"}, "SCMP_ACT_ALLOW")};
  oci::Seccomp with_allow;
  with_allow.default_action = "SCMP_ACT_ALLOW";
  with_allow.syscalls = {Rule({"mkdirat"}, "SCMP_ACT_ERRNO")};
  auto e = CompileSeccomp(with_errno);
  auto a = CompileSeccomp(with_allow);
  ASSERT_TRUE(e.ok() && a.ok());
  std::vector<sock_filter> stub = EnosysStub({}, {"mkdirat"});
  auto starts_with_stub = [&](const std::vector<sock_filter>& f) {
    if (f.size() <= stub.size()) return false;
    for (size_t i = 0; i < stub.size(); ++i) {
      if (f[i].code != stub[i].code || f[i].k != stub[i].k || f[i].jt != stub[i].jt ||
          f[i].jf != stub[i].jf)
        return false;
    }
    return true;
  };
  EXPECT_TRUE(starts_with_stub(e->filter));
  EXPECT_FALSE(starts_with_stub(a->filter));
}

}  // namespace
}  // namespace husk::sys
