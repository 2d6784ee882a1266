#include "sys/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "base/unique_fd.h"
#include "sys/fdpass.h"

namespace husk::sys {
namespace {

// Reads a pty master until the slave side is closed by everyone (EIO) or
// timeout_ms passes without data.
std::string ReadUntilHangup(int master, int timeout_ms = 10000) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{master, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = read(master, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EIO: hung up
    out.append(buf, n);
  }
  return out;
}

TEST(PtyTest, OpenPairTalks) {
  PtyPair p;
  ASSERT_EQ(OpenPtyNoAlloc(&p), 0);
  UniqueFd master(p.master), slave(p.slave);
  EXPECT_TRUE(isatty(master.get()));
  EXPECT_TRUE(isatty(slave.get()));
  EXPECT_NE(fcntl(master.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(fcntl(slave.get(), F_GETFD) & FD_CLOEXEC, 0);

  auto name = PtsName(master.get());
  ASSERT_TRUE(name.ok()) << name.error().message();
  EXPECT_EQ(*name, std::string(ttyname(slave.get())));

  // Output processing (ONLCR) happens on the slave: "\n" arrives as "\r\n".
  ASSERT_EQ(write(slave.get(), "x\n", 2), 2);
  char buf[8] = {};
  ASSERT_EQ(read(master.get(), buf, sizeof(buf)), 3);
  EXPECT_STREQ(buf, "x\r\n");

  ASSERT_EQ(SetWinsizeNoAlloc(master.get(), 33, 77), 0);
  winsize ws{};
  ASSERT_EQ(ioctl(slave.get(), TIOCGWINSZ, &ws), 0);
  EXPECT_EQ(ws.ws_row, 33);
  EXPECT_EQ(ws.ws_col, 77);
  EXPECT_EQ(SetWinsizeNoAlloc(master.get(), 70000, 1), -EINVAL);
}

TEST(PtyTest, Errors) {
  EXPECT_EQ(OpenPtyNoAlloc(nullptr), -EINVAL);
  EXPECT_EQ(SetWinsizeNoAlloc(-1, 1, 1), -EBADF);
  EXPECT_FALSE(PtsName(-1).ok());
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  EXPECT_EQ(SetWinsizeNoAlloc(null.get(), 1, 1), -ENOTTY);
  EXPECT_FALSE(PtsName(null.get()).ok());
}

// The whole console-socket flow of a container with a terminal: the child
// opens the pty, makes it its controlling terminal, sends the master out and
// execs; the parent sizes the terminal before the command runs.
TEST(PtyTest, ChildSendsMasterAndRunsShellOnTty) {
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd parent_end(sp[0]), child_end(sp[1]);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Only NoAlloc calls and syscalls, as in the container init.
    PtyPair p;
    if (OpenPtyNoAlloc(&p) != 0) _exit(10);
    if (MakeControllingTtyNoAlloc(p.slave) != 0) _exit(11);
    if (SendFdNoAlloc(child_end.get(), p.master, "/dev/ptmx") != 0) _exit(12);
    close(p.master);
    char go;
    if (read(child_end.get(), &go, 1) != 1) _exit(13);
    execl("/bin/sh", "sh", "-c", "stty size; tty; echo hi", static_cast<char*>(nullptr));
    _exit(127);
  }
  child_end.reset();
  std::string name;
  auto master = RecvFd(parent_end.get(), &name);
  ASSERT_TRUE(master.ok()) << master.error().message();
  EXPECT_EQ(name, "/dev/ptmx");
  ASSERT_EQ(SetWinsizeNoAlloc(master->get(), 33, 77), 0);
  auto pts = PtsName(master->get());
  ASSERT_TRUE(pts.ok());
  ASSERT_EQ(write(parent_end.get(), "g", 1), 1);

  std::string out = ReadUntilHangup(master->get());
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(out, "33 77\r\n" + *pts + "\r\nhi\r\n");
}

// Ctrl-C is just a byte to the master; the line discipline turns it into
// SIGINT for the foreground process group of the slave.
TEST(PtyTest, InterruptByteSignalsForegroundGroup) {
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  UniqueFd parent_end(sp[0]), child_end(sp[1]);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    PtyPair p;
    if (OpenPtyNoAlloc(&p) != 0) _exit(10);
    if (MakeControllingTtyNoAlloc(p.slave) != 0) _exit(11);
    if (SendFdNoAlloc(child_end.get(), p.master, "") != 0) _exit(12);
    close(p.master);
    child_end.reset();
    pause();
    _exit(0);
  }
  child_end.reset();
  std::string name = "x";
  auto master = RecvFd(parent_end.get(), &name);
  ASSERT_TRUE(master.ok()) << master.error().message();
  EXPECT_EQ(name, "");
  // The child closed its end once it was past setup.
  char c;
  ASSERT_EQ(read(parent_end.get(), &c, 1), 0);
  ASSERT_EQ(write(master->get(), "\x03", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
}

}  // namespace
}  // namespace husk::sys
