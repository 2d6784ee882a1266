#include "sys/ns_switch.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "sys/test_child.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

namespace husk::sys {
namespace {

using testutil::InChild;

std::string Link(const char* path) {
  char buf[256];
  ssize_t n = ::readlink(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

std::string Hostname() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

// A process in its own uts and mount namespaces: hostname "ns-switch-test",
// a tmpfs holding the file `marker` on dir. Killed when the test is done.
class Holder {
 public:
  explicit Holder(const std::string& dir) {
    int p[2];
    if (::pipe(p) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[0]);
      bool ok = ::unshare(CLONE_NEWUTS | CLONE_NEWNS) == 0 &&
                ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                ::sethostname("ns-switch-test", 14) == 0 &&
                ::mount("tmpfs", dir.c_str(), "tmpfs", 0, nullptr) == 0 &&
                ::close(::open((dir + "/marker").c_str(), O_CREAT | O_WRONLY, 0644)) == 0;
      (void)!::write(p[1], ok ? "y" : "n", 1);
      ::pause();
      _exit(0);
    }
    ::close(p[1]);
    char c = 0;
    ready_ = ::read(p[0], &c, 1) == 1 && c == 'y';
    ::close(p[0]);
  }
  ~Holder() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  UniqueFd Ns(const char* name) const {
    std::string path = "/proc/" + std::to_string(pid_) + "/ns/" + name;
    return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

class NsSwitchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/ns-switch-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(NsSwitchTest, EntersAndComesBackWithRootAndCwd) {
  Holder holder(dir_);
  ASSERT_TRUE(holder.ready());
  UniqueFd uts = holder.Ns("uts"), mnt = holder.Ns("mnt");
  ASSERT_TRUE(uts.valid() && mnt.valid());
  std::string marker = dir_ + "/marker";
  std::string host_name = Hostname();
  EXPECT_EQ(InChild([&] {
              if (::chdir("/tmp") != 0) return 1;
              std::string uts_before = Link("/proc/self/ns/uts");
              NsSwitch ns;
              if (!ns.Enter(uts.get(), CLONE_NEWUTS).ok()) return 2;
              if (!ns.Enter(mnt.get(), CLONE_NEWNS).ok()) return 3;
              if (Hostname() != "ns-switch-test") return 4;
              if (::access(marker.c_str(), F_OK) != 0) return 5;  // the holder's mount
              if (!ns.Leave().ok()) return 6;
              if (Hostname() != host_name) return 7;
              if (Link("/proc/self/ns/uts") != uts_before) return 8;
              if (::access(marker.c_str(), F_OK) == 0) return 9;  // our own mounts again
              char cwd[4096];
              if (!::getcwd(cwd, sizeof cwd) || std::strcmp(cwd, "/tmp") != 0) return 10;
              return ns.Leave().ok() ? 0 : 11;  // nothing left to do
            }),
            0);
}

TEST_F(NsSwitchTest, DestructorComesBack) {
  Holder holder(dir_);
  ASSERT_TRUE(holder.ready());
  UniqueFd uts = holder.Ns("uts");
  std::string host_name = Hostname();
  EXPECT_EQ(InChild([&] {
              {
                NsSwitch ns;
                if (!ns.Enter(uts.get(), CLONE_NEWUTS).ok()) return 1;
                if (Hostname() != "ns-switch-test") return 2;
              }
              return Hostname() == host_name ? 0 : 3;
            }),
            0);
}

TEST_F(NsSwitchTest, UnsharedTimeNamespaceIsForChildrenUntilLeave) {
  if (::access("/proc/self/ns/time", F_OK) != 0) GTEST_SKIP() << "no time namespaces";
  EXPECT_EQ(InChild([&] {
              std::string own = Link("/proc/self/ns/time");
              NsSwitch ns;
              if (!ns.Unshare(CLONE_NEWTIME).ok()) return 1;
              if (Link("/proc/self/ns/time_for_children") == own) return 2;
              if (!ns.Leave().ok()) return 3;
              return Link("/proc/self/ns/time_for_children") == own ? 0 : 4;
            }),
            0);
}

TEST_F(NsSwitchTest, UserNamespaceIsRefused) {
  UniqueFd user(::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
  NsSwitch ns;
  auto r = ns.Enter(user.get(), CLONE_NEWUSER);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
}

}  // namespace
}  // namespace husk::sys
