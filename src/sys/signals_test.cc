#include "sys/signals.h"

#include <signal.h>

#include <gtest/gtest.h>

namespace husk::sys {
namespace {

TEST(SignalsTest, ParsesNumbersAndNames) {
  EXPECT_EQ(*ParseSignal("9"), SIGKILL);
  EXPECT_EQ(*ParseSignal("0"), 0);
  EXPECT_EQ(*ParseSignal("KILL"), SIGKILL);
  EXPECT_EQ(*ParseSignal("SIGKILL"), SIGKILL);
  EXPECT_EQ(*ParseSignal("sigkill"), SIGKILL);
  EXPECT_EQ(*ParseSignal("term"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGWINCH"), SIGWINCH);
  EXPECT_EQ(*ParseSignal("IOT"), SIGABRT);
  EXPECT_EQ(*ParseSignal("CLD"), SIGCHLD);
}

TEST(SignalsTest, ParsesRealTime) {
  EXPECT_EQ(*ParseSignal("SIGRTMIN"), SIGRTMIN);
  EXPECT_EQ(*ParseSignal("SIGRTMIN+3"), SIGRTMIN + 3);
  EXPECT_EQ(*ParseSignal("RTMAX-2"), SIGRTMAX - 2);
  EXPECT_EQ(*ParseSignal("rtmax"), SIGRTMAX);
  EXPECT_EQ(*ParseSignal(std::to_string(SIGRTMAX)), SIGRTMAX);
}

TEST(SignalsTest, RejectsJunk) {
  for (const char* bad : {"FOO", "", "SIG", "-1", "65", "9x", "RTMIN-1", "RTMAX+1", "RTMIN+",
                          "RTMIN+99", "SIGRTMIN+x"}) {
    auto r = ParseSignal(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_EQ(ParseSignal("FOO").error().message(), "invalid signal \"FOO\"");
}

TEST(SignalsTest, NamesRoundTrip) {
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalName(SIGABRT), "SIGABRT");
  EXPECT_EQ(SignalName(SIGCHLD), "SIGCHLD");
  EXPECT_EQ(SignalName(SIGRTMIN), "SIGRTMIN");
  EXPECT_EQ(SignalName(SIGRTMIN + 3), "SIGRTMIN+3");
  EXPECT_EQ(SignalName(SIGRTMAX - 2), "SIGRTMAX-2");
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    if (sig > 31 && sig < SIGRTMIN) continue;  // reserved by the C library
    auto r = ParseSignal(SignalName(sig));
    ASSERT_TRUE(r.ok()) << sig << " " << SignalName(sig);
    EXPECT_EQ(*r, sig);
  }
  EXPECT_EQ(KnownSignalNames().front(), "SIGHUP");
}

}  // namespace
}  // namespace husk::sys
