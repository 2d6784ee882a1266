#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "base/unique_fd.h"
#include "sys/fdpass.h"
#include "sys/pty.h"

namespace husk::runtime {
namespace {

// Forks a "container process": it opens a pty, makes it its controlling
// terminal, sends the master over the child end and runs `script` with sh.
// Only NoAlloc calls and syscalls after fork, as in the real init.
pid_t SpawnOnPty(const char* script, UniqueFd* child_end) {
  pid_t pid = fork();
  if (pid != 0) {
    child_end->reset();
    return pid;
  }
  sys::PtyPair p;
  if (sys::OpenPtyNoAlloc(&p) != 0) _exit(10);
  if (sys::MakeControllingTtyNoAlloc(p.slave) != 0) _exit(11);
  if (sys::SendFdNoAlloc(child_end->get(), p.master, "/dev/ptmx") != 0) _exit(12);
  close(p.master);
  execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
  _exit(127);
}

// Waits at most 20 s: a shell still blocked in `read` (its input lost to a
// proxy that gave up) is killed, so the test fails instead of hanging.
int Wait(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 2000; i++) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// A stop_fd that fires after `seconds`, so a broken proxy fails the test
// instead of hanging it.
UniqueFd Watchdog(int seconds) {
  UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  itimerspec its{};
  its.it_value.tv_sec = seconds;
  timerfd_settime(fd.get(), 0, &its, nullptr);
  return fd;
}

// Reads an fd on a thread until EOF, as a user's terminal or a pipe reader.
class Collector {
 public:
  explicit Collector(int fd) : fd_(fd), thread_([this] { Run(); }) {}
  ~Collector() {
    if (thread_.joinable()) thread_.join();
  }
  std::string Join() {
    thread_.join();
    return Get();
  }
  std::string Get() {
    std::lock_guard<std::mutex> l(mu_);
    return data_;
  }
  // Polls until `needle` shows up; false after ~10 s.
  bool WaitFor(const std::string& needle) {
    for (int i = 0; i < 1000; ++i) {
      if (Get().find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::atomic<bool> stop{false};

 private:
  void Run() {
    char buf[4096];
    while (!stop) {
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::lock_guard<std::mutex> l(mu_);
      data_.append(buf, n);
    }
  }
  int fd_;
  std::mutex mu_;
  std::string data_;
  std::thread thread_;
};

struct Pipe {
  UniqueFd r, w;
};
Pipe MakePipe() {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

TEST(ConsoleTest, ReceiveMasterFromChild) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok()) << parent_end.error().message();
  EXPECT_NE(fcntl(child_end.get(), F_GETFD) & FD_CLOEXEC, 0);
  pid_t pid = SpawnOnPty("exit 0", &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok()) << master.error().message();
  EXPECT_TRUE(isatty(master->get()));
  EXPECT_EQ(Wait(pid), 0);
}

TEST(ConsoleTest, ReceiveMasterRefusesNonTerminalsAndClosedPeers) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  Pipe p = MakePipe();
  ASSERT_EQ(sys::SendFdNoAlloc(child_end.get(), p.w.get(), "/dev/ptmx"), 0);
  auto got = ReceiveMaster(parent_end->get());
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message().find("not a terminal"), std::string::npos);
  child_end.reset();  // the child died before sending
  got = ReceiveMaster(parent_end->get());
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message().find("closed"), std::string::npos);
}

// stdin and stdout are pipes, not terminals: no raw mode, no window size, but
// bytes go both ways and stdin's EOF reaches the container as end of input.
TEST(ConsoleTest, ProxyCopiesBetweenPipesAndTty) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  // Echo off first, so the transcript does not depend on when input arrives
  // relative to the shell's output; the input is typed once that is done.
  pid_t pid =
      SpawnOnPty("stty -echo; echo ready; read line; echo \"got:$line\"; stty size; cat; echo end",
                 &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok()) << master.error().message();

  Pipe in = MakePipe(), out = MakePipe();
  Collector collect(out.r.get());
  std::thread typist([&] {
    if (collect.WaitFor("ready\r\n")) (void)!write(in.w.get(), "hello\nmore", 10);
    in.w.reset();  // EOF
  });
  UniqueFd watchdog = Watchdog(20);
  ProxyOptions opts;
  opts.in = in.r.get();
  opts.out = out.w.get();
  opts.stop_fd = watchdog.get();
  Status st = ProxyUntilHangup(master->get(), opts);
  typist.join();
  ASSERT_TRUE(st.ok()) << st.error().message();
  out.w.reset();
  std::string got = collect.Join();
  EXPECT_EQ(Wait(pid), 0);
  // "more" has no newline, so two VEOFs: one hands the partial line to cat,
  // the next is its end of input.
  EXPECT_EQ(got, "ready\r\ngot:hello\r\n0 0\r\nmoreend\r\n");
  uint64_t fired = 0;
  EXPECT_NE(read(watchdog.get(), &fired, sizeof(fired)), 8) << "proxy ended by the watchdog";
}

// Without EOF forwarding, cat never sees end of input: the session lasts
// until something else ends it (here the stop fd).
TEST(ConsoleTest, ProxyWithoutEofForwarding) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  pid_t pid = SpawnOnPty("cat", &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok());
  Pipe in = MakePipe(), out = MakePipe();
  ASSERT_EQ(write(in.w.get(), "line\n", 5), 5);
  in.w.reset();
  Collector collect(out.r.get());
  UniqueFd watchdog = Watchdog(1);
  ProxyOptions opts;
  opts.in = in.r.get();
  opts.out = out.w.get();
  opts.stop_fd = watchdog.get();
  opts.forward_eof = false;
  ASSERT_TRUE(ProxyUntilHangup(master->get(), opts).ok());
  uint64_t fired = 0;
  EXPECT_EQ(read(watchdog.get(), &fired, sizeof(fired)), 8);
  kill(pid, SIGKILL);
  EXPECT_EQ(Wait(pid), 128 + SIGKILL);
  out.w.reset();
  EXPECT_EQ(collect.Join(), "line\r\nline\r\n");  // the tty's echo, then cat
}

// Lots of output with nobody reading input: the proxy must keep up without
// deadlocking on either side.
TEST(ConsoleTest, ProxyMovesBulkOutput) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  pid_t pid = SpawnOnPty("stty -opost; head -c 1000000 /dev/zero | tr '\\0' a", &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok());
  Pipe in = MakePipe(), out = MakePipe();
  Collector collect(out.r.get());
  UniqueFd watchdog = Watchdog(30);
  ProxyOptions opts;
  opts.in = in.r.get();  // stays open and silent
  opts.out = out.w.get();
  opts.stop_fd = watchdog.get();
  ASSERT_TRUE(ProxyUntilHangup(master->get(), opts).ok());
  out.w.reset();
  std::string got = collect.Join();
  EXPECT_EQ(Wait(pid), 0);
  EXPECT_EQ(got, std::string(1000000, 'a'));
}

// exec --tty: the process exits while a background child keeps the tty open;
// a pidfd as stop_fd ends the proxy anyway, with the output delivered.
TEST(ConsoleTest, ProxyStopsOnStopFd) {
  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  pid_t pid = SpawnOnPty("trap '' HUP; sleep 60 & echo started", &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok());
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  ASSERT_TRUE(pidfd.valid());
  Pipe in = MakePipe(), out = MakePipe();
  Collector collect(out.r.get());
  ProxyOptions opts;
  opts.in = in.r.get();
  opts.out = out.w.get();
  opts.stop_fd = pidfd.get();
  ASSERT_TRUE(ProxyUntilHangup(master->get(), opts).ok());
  out.w.reset();
  EXPECT_EQ(collect.Join(), "started\r\n");
  EXPECT_EQ(Wait(pid), 0);
  kill(-pid, SIGKILL);  // the sleep, in the session's process group
}

// The local terminal is itself a pty here (B), driven by a thread that plays
// the user: it goes raw during the session, its size reaches the container at
// once and again after SIGWINCH, and its mode comes back afterwards.
TEST(ConsoleTest, ProxyWithTerminalStdin) {
  sys::PtyPair local;
  ASSERT_EQ(sys::OpenPtyNoAlloc(&local), 0);
  UniqueFd user(local.master), term(local.slave);
  ASSERT_EQ(sys::SetWinsizeNoAlloc(user.get(), 10, 20), 0);
  termios before{};
  ASSERT_EQ(tcgetattr(term.get(), &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON);

  // SIGWINCH must stay pending for the proxy's signalfd, not hit the helper
  // thread (where it would be ignored): block it before the thread starts.
  sigset_t winch, old;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &winch, &old), 0);

  UniqueFd child_end;
  auto parent_end = MakeConsoleSocketPair(&child_end);
  ASSERT_TRUE(parent_end.ok());
  pid_t pid = SpawnOnPty("stty size; read x; stty size; echo \"x=$x\"", &child_end);
  auto master = ReceiveMaster(parent_end->get());
  ASSERT_TRUE(master.ok());

  Collector screen(user.get());
  std::atomic<bool> was_raw{false};
  std::thread typist([&] {
    if (!screen.WaitFor("10 20\r\n")) return;
    termios now{};
    if (tcgetattr(term.get(), &now) == 0) was_raw = !(now.c_lflag & (ICANON | ECHO));
    sys::SetWinsizeNoAlloc(user.get(), 40, 50);
    kill(getpid(), SIGWINCH);
    (void)!write(user.get(), "go\r", 3);  // Enter sends CR; the container's ICRNL makes it NL
  });
  UniqueFd watchdog = Watchdog(20);
  ProxyOptions opts;
  opts.in = term.get();
  opts.out = term.get();
  opts.stop_fd = watchdog.get();
  Status st = ProxyUntilHangup(master->get(), opts);
  typist.join();
  EXPECT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(Wait(pid), 0);
  EXPECT_TRUE(screen.WaitFor("x=go\r\n"));
  // The local terminal is raw, so the container's "\r\n" passes through as is.
  EXPECT_EQ(screen.Get(), "10 20\r\ngo\r\n40 50\r\nx=go\r\n");
  EXPECT_TRUE(was_raw);
  termios after{};
  ASSERT_EQ(tcgetattr(term.get(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);

  screen.stop = true;
  term.reset();  // hangs up `user`, ending the collector's read
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST(ConsoleTest, RawTerminalRestoresOnDestruction) {
  sys::PtyPair p;
  ASSERT_EQ(sys::OpenPtyNoAlloc(&p), 0);
  UniqueFd master(p.master), slave(p.slave);
  termios before{};
  ASSERT_EQ(tcgetattr(slave.get(), &before), 0);
  {
    auto raw = RawTerminal::Enable(slave.get());
    ASSERT_TRUE(raw.ok());
    EXPECT_TRUE(raw->active());
    RawTerminal moved = std::move(*raw);
    termios now{};
    ASSERT_EQ(tcgetattr(slave.get(), &now), 0);
    EXPECT_FALSE(now.c_lflag & ICANON);
  }
  termios after{};
  ASSERT_EQ(tcgetattr(slave.get(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  Pipe pipe = MakePipe();
  auto none = RawTerminal::Enable(pipe.r.get());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->active());
}

}  // namespace
}  // namespace husk::runtime
