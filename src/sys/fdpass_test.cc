#include "sys/fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace husk::sys {
namespace {

struct Pair {
  UniqueFd a, b;
};
Pair SocketPair() {
  int sp[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  return {UniqueFd(sp[0]), UniqueFd(sp[1])};
}

// The received fd is the same open file: data written through it arrives.
void ExpectSamePipe(int write_end, int read_end) {
  ASSERT_EQ(write(write_end, "ok", 2), 2);
  char buf[4] = {};
  ASSERT_EQ(read(read_end, buf, sizeof(buf)), 2);
  EXPECT_STREQ(buf, "ok");
}

TEST(FdPassTest, SendAndReceiveWithName) {
  Pair s = SocketPair();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  ASSERT_EQ(SendFdNoAlloc(s.a.get(), w.get(), "/dev/ptmx"), 0);
  std::string name;
  auto got = RecvFd(s.b.get(), &name);
  ASSERT_TRUE(got.ok()) << got.error().message();
  EXPECT_EQ(name, "/dev/ptmx");
  EXPECT_NE(got->get(), w.get());
  EXPECT_NE(fcntl(got->get(), F_GETFD) & FD_CLOEXEC, 0);
  w.reset();
  ExpectSamePipe(got->get(), r.get());
}

TEST(FdPassTest, EmptyAndLongNames) {
  Pair s = SocketPair();
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(SendFdNoAlloc(s.a.get(), null.get(), ""), 0);
  ASSERT_EQ(SendFdNoAlloc(s.a.get(), null.get(), nullptr), 0);
  std::string long_name(kMaxFdNameLen, 'n');
  ASSERT_EQ(SendFdNoAlloc(s.a.get(), null.get(), long_name.c_str()), 0);
  std::string too_long(kMaxFdNameLen + 1, 'n');
  EXPECT_EQ(SendFdNoAlloc(s.a.get(), null.get(), too_long.c_str()), -ENAMETOOLONG);
  EXPECT_EQ(SendFdNoAlloc(s.a.get(), -1, "x"), -EBADF);
  for (const std::string& want : {std::string(), std::string(), long_name}) {
    std::string name = "junk";
    auto got = RecvFd(s.b.get(), &name);
    ASSERT_TRUE(got.ok()) << got.error().message();
    EXPECT_EQ(name, want);
  }
}

TEST(FdPassTest, ReceiveErrors) {
  {
    Pair s = SocketPair();
    s.a.reset();
    auto got = RecvFd(s.b.get());
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.error().message().find("closed"), std::string::npos);
  }
  {
    Pair s = SocketPair();
    ASSERT_EQ(write(s.a.get(), "plain", 5), 5);
    auto got = RecvFd(s.b.get());
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.error().message().find("no fd"), std::string::npos);
  }
  {
    // Two fds in one message: refused, and neither leaks.
    Pair s = SocketPair();
    int fds[2] = {0, 1};
    char data = 'x';
    iovec iov{&data, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(fds))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(c), fds, sizeof(fds));
    ASSERT_EQ(sendmsg(s.a.get(), &msg, 0), 1);
    auto got = RecvFd(s.b.get());
    ASSERT_FALSE(got.ok());
    EXPECT_NE(got.error().message().find("expected 1 fd, got 2"), std::string::npos);
  }
  EXPECT_FALSE(RecvFd(-1).ok());
}

TEST(FdPassTest, ListenConnectAcceptReceive) {
  char tmpl[] = "/tmp/husk_fdpass_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/console.sock";
  auto listener = ListenUnix(path);
  ASSERT_TRUE(listener.ok()) << listener.error().message();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_FALSE(ListenUnix(path).ok());  // already bound

  UniqueFd conn(ConnectUnixNoAlloc(path.c_str()));
  ASSERT_GE(conn.get(), 0) << strerror(-conn.get());
  UniqueFd accepted(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid());
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  ASSERT_EQ(SendFdNoAlloc(conn.get(), w.get(), "/dev/ptmx"), 0);
  auto got = RecvFd(accepted.get());
  ASSERT_TRUE(got.ok()) << got.error().message();
  w.reset();
  ExpectSamePipe(got->get(), r.get());
  (void)fs::RemoveAll(dir);
}

TEST(FdPassTest, MessageWithFdOverSeqpacket) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd r(pipefd[0]), w(pipefd[1]);
  struct {
    int type;
    char text[16];
  } out{7, "hello"}, in{};
  ASSERT_EQ(SendMsgFdNoAlloc(a.get(), &out, sizeof out, w.get()), 0);
  int got = -1;
  ASSERT_EQ(RecvMsgFdNoAlloc(b.get(), &in, sizeof in, &got), static_cast<long>(sizeof in));
  UniqueFd received(got);
  ASSERT_TRUE(received.valid());
  EXPECT_EQ(in.type, 7);
  EXPECT_STREQ(in.text, "hello");
  EXPECT_NE(fcntl(got, F_GETFD) & FD_CLOEXEC, 0);
  // The received fd is the pipe's write end.
  ASSERT_EQ(write(got, "x", 1), 1);
  char c = 0;
  ASSERT_EQ(read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // A message without an fd reports -1; end-of-file reads as 0.
  ASSERT_EQ(send(a.get(), &out, sizeof out, 0), static_cast<ssize_t>(sizeof out));
  EXPECT_EQ(RecvMsgFdNoAlloc(b.get(), &in, sizeof in, &got), static_cast<long>(sizeof in));
  EXPECT_EQ(got, -1);
  a.reset();
  EXPECT_EQ(RecvMsgFdNoAlloc(b.get(), &in, sizeof in, &got), 0);
  EXPECT_EQ(SendMsgFdNoAlloc(b.get(), &out, sizeof out, -1), -EBADF);
}

TEST(FdPassTest, ConnectErrors) {
  EXPECT_EQ(ConnectUnixNoAlloc("/nonexistent/husk.sock"), -ENOENT);
  std::string too_long = "/tmp/" + std::string(200, 'x');
  EXPECT_EQ(ConnectUnixNoAlloc(too_long.c_str()), -ENAMETOOLONG);
  EXPECT_EQ(ConnectUnixNoAlloc(""), -EINVAL);
  EXPECT_EQ(ConnectUnixNoAlloc(nullptr), -EINVAL);
  EXPECT_FALSE(ListenUnix(too_long).ok());
}

}  // namespace
}  // namespace husk::sys
