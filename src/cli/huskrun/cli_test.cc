#include "cli/huskrun/cli.h"

#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "base/fs.h"

using namespace husk;
using namespace husk::cli;

static Result<Invocation> Parse(std::vector<std::string> argv) {
  Invocation inv;
  Status st = ParseCommandLine(argv, inv);
  if (!st) return std::move(st).error();
  return inv;
}

TEST(Flags, GoSyntax) {
  auto inv = Parse(
      {"--root=/r", "-debug", "create", "-bundle", "/b", "--pid-file=p", "-no-pivot=true", "c1"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->global.root, "/r");
  EXPECT_TRUE(inv->global.debug);
  EXPECT_EQ(inv->command->name, "create");
  EXPECT_EQ(inv->flags.Get("bundle"), "/b");
  EXPECT_TRUE(inv->flags.Bool("no-pivot"));
  EXPECT_EQ(inv->flags.args, std::vector<std::string>{"c1"});
}

TEST(Flags, BoolDoesNotTakeNextArg) {
  auto inv = Parse({"run", "--detach", "c1"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->flags.Bool("detach"));
  EXPECT_EQ(inv->flags.args[0], "c1");
  inv = Parse({"run", "--detach=false", "-d=0", "c1"});
  ASSERT_TRUE(inv.ok());
  EXPECT_FALSE(inv->flags.Bool("detach"));
  EXPECT_FALSE(Parse({"run", "--detach=maybe", "c1"}).ok());
}

TEST(Flags, LastWinsAndLists) {
  auto inv =
      Parse({"exec", "-e", "A=1", "--env=B=2", "-u", "1", "--user", "2:3", "c1", "sh", "-c", "x"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->flags.Get("user"), "2:3");
  EXPECT_EQ(inv->flags.All("env"), (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(inv->flags.args, (std::vector<std::string>{"c1", "sh", "-c", "x"}));
  auto o = ExecOptionsFromFlags(inv->flags);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(*o->uid, 2u);
  EXPECT_EQ(*o->gid, 3u);
  EXPECT_EQ(o->args, (std::vector<std::string>{"sh", "-c", "x"}));
}

TEST(Flags, ExecCgroupsKeepOrderAndApplyToProcessFiles) {
  // Parsed by runtime::Exec (cgroup::ParseSubCgroups); the CLI passes them in order, after
  // the container id the command's own --cgroup is the command's.
  auto inv = Parse(
      {"exec", "--cgroup", "memory:a", "--cgroup=cpu,cpuacct:b", "c1", "ls", "--cgroup", "x"});
  ASSERT_TRUE(inv.ok());
  auto o = ExecOptionsFromFlags(inv->flags);
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->cgroups, (std::vector<std::string>{"memory:a", "cpu,cpuacct:b"}));
  EXPECT_EQ(o->args, (std::vector<std::string>{"ls", "--cgroup", "x"}));

  char tmpl[] = "/tmp/husk-cli-test-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_TRUE(fs::WriteFile(tmpl, R"({"args": ["true"], "cwd": "/"})").ok());
  inv = Parse({"exec", "--cgroup", "sub", "-p", tmpl, "c1"});
  ASSERT_TRUE(inv.ok());
  o = ExecOptionsFromFlags(inv->flags);
  ::unlink(tmpl);
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_TRUE(o->process);
  EXPECT_EQ(o->cgroups, (std::vector<std::string>{"sub"}));
}

TEST(Flags, Interspersed) {
  auto inv = Parse({"kill", "c1", "KILL", "--all"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->flags.Bool("all"));
  EXPECT_EQ(inv->flags.args, (std::vector<std::string>{"c1", "KILL"}));
  inv = Parse({"ps", "c1", "-o", "pid"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->flags.args, (std::vector<std::string>{"c1", "-o", "pid"}));
}

TEST(Flags, Errors) {
  auto e = Parse({"create", "--nope", "c1"});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message(), "create: flag provided but not defined: -nope");
  e = Parse({"create", "c1", "--bundle"});
  EXPECT_EQ(e.error().message(), "create: flag needs an argument: -bundle");
  e = Parse({"create"});
  EXPECT_EQ(e.error().message(), "\"create\" requires exactly 1 argument(s)");
  e = Parse({"bogus"});
  EXPECT_NE(e.error().message().find("No help topic for 'bogus'"), std::string::npos);
  e = Parse({"create", "---x", "c1"});
  EXPECT_EQ(e.error().message(), "create: bad flag syntax: ---x");
  e = Parse({"--rootless", "sometimes", "list"});
  EXPECT_FALSE(e.ok());
  e = Parse({"create", "--preserve-fds", "x", "c1"});
  EXPECT_EQ(e.error().message(), "create: invalid value \"x\" for flag -preserve-fds: parse error");
}

TEST(Flags, HelpVersion) {
  EXPECT_EQ(Parse({"-v"})->action, Invocation::Action::kVersion);
  EXPECT_EQ(Parse({"--version", "list"})->action, Invocation::Action::kVersion);
  EXPECT_EQ(Parse({})->action, Invocation::Action::kHelp);
  auto h = Parse({"create", "-h"});
  EXPECT_EQ(h->action, Invocation::Action::kHelp);
  EXPECT_EQ(h->command->name, "create");
  EXPECT_EQ(Parse({"help", "kill"})->command->name, "kill");
  EXPECT_EQ(VersionText().substr(0, 16), "huskrun version ");
  // Installed under runc's name, it answers as runc (tools parse "runc version X.Y.Z").
  EXPECT_EQ(VersionText("runc").substr(0, 13), "runc version ");
}

TEST(Flags, Rootless) {
  EXPECT_FALSE(Parse({"list"})->global.rootless.has_value());
  EXPECT_TRUE(*Parse({"--rootless=true", "list"})->global.rootless);
  EXPECT_FALSE(*Parse({"--rootless", "false", "list"})->global.rootless);
  EXPECT_FALSE(Parse({"--rootless", "auto", "list"})->global.rootless.has_value());
  EXPECT_TRUE(Parse({"--systemd-cgroup", "list"})->global.systemd_cgroup);
}

TEST(Flags, DefaultRootFollowsXdgForUsersOnly) {
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  auto inv = Parse({"list"});
  ::unsetenv("XDG_RUNTIME_DIR");
  ASSERT_TRUE(inv.ok());
  if (::geteuid() == 0) {
    // Real root keeps the system root, whatever its session says.
    EXPECT_EQ(inv->global.root, "/run/huskrun");
    EXPECT_FALSE(inv->root_from_xdg);
  } else {
    EXPECT_EQ(inv->global.root, "/run/user/4242/huskrun");
    EXPECT_TRUE(inv->root_from_xdg);
  }
  // An explicit --root is never touched.
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  inv = Parse({"--root", "/r", "list"});
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(inv->global.root, "/r");
  EXPECT_FALSE(inv->root_from_xdg);
}

TEST(Values, Duration) {
  EXPECT_EQ(*ParseGoDuration("5s"), 5000000000);
  EXPECT_EQ(*ParseGoDuration("1m30s"), 90000000000);
  EXPECT_EQ(*ParseGoDuration("500ms"), 500000000);
  EXPECT_EQ(*ParseGoDuration("1.5h"), 5400000000000);
  EXPECT_EQ(*ParseGoDuration("-2us"), -2000);
  EXPECT_EQ(*ParseGoDuration("0"), 0);
  EXPECT_EQ(*ParseGoDuration(".5s"), 500000000);
  EXPECT_EQ(*ParseGoDuration("1\u00b5s"), 1000);
  EXPECT_FALSE(ParseGoDuration("5").ok());
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("5x").ok());
  EXPECT_FALSE(ParseGoDuration(".s").ok());
  EXPECT_FALSE(ParseGoDuration("3000000h").ok());
}

TEST(Values, Ram) {
  EXPECT_EQ(*RamInBytes("1024"), 1024);
  EXPECT_EQ(*RamInBytes("10M"), 10 << 20);
  EXPECT_EQ(*RamInBytes("1g"), 1 << 30);
  EXPECT_EQ(*RamInBytes("1.5 GiB"), 1610612736);
  EXPECT_EQ(*RamInBytes("512kb"), 512 * 1024);
  EXPECT_EQ(*RamInBytes("3b"), 3);
  EXPECT_FALSE(RamInBytes("-1").ok());
  EXPECT_FALSE(RamInBytes("1.2.3").ok());
  EXPECT_FALSE(RamInBytes("10X").ok());
  EXPECT_FALSE(RamInBytes("").ok());
}

TEST(Values, Int) {
  EXPECT_EQ(*ParseGoInt("0x10"), 16);
  EXPECT_EQ(*ParseGoInt("010"), 8);
  EXPECT_EQ(*ParseGoInt("-5"), -5);
  EXPECT_EQ(*ParseGoInt("0"), 0);
  EXPECT_EQ(*ParseGoInt("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(ParseGoInt("9223372036854775808").ok());
  EXPECT_FALSE(ParseGoInt("08").ok());
  EXPECT_FALSE(ParseGoInt("").ok());
}

TEST(Output, IndentJson) {
  EXPECT_EQ(IndentJson(R"({"a":[1,2],"b":{},"c":[],"d":"x, {y}: \"z\""})", "  "),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": [],\n  \"d\": \"x, {y}: "
            "\\\"z\\\"\"\n}");
  EXPECT_EQ(IndentJson("{ \"a\" : 1 }", "\t"), "{\n\t\"a\": 1\n}");
  EXPECT_EQ(IndentJson(IndentJson(R"({"a":[1,{"b":2}]})", "  "), "  "),
            IndentJson(R"({"a":[1,{"b":2}]})", "  "));
}

TEST(Output, GoQuote) {
  EXPECT_EQ(GoJsonQuote("a<b>&\"\\\n\x01"), "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\"");
  EXPECT_EQ(GoJsonQuote("\u2028"), "\"\\u2028\"");
}

TEST(Options, Update) {
  auto inv = Parse({"update", "--memory", "1g", "--memory-swap", "-1", "--cpu-quota", "-1",
                    "--pids-limit", "0", "c1"});
  ASSERT_TRUE(inv.ok());
  auto r = ResourcesFromFlags(inv->flags);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->memory->limit, 1 << 30);
  EXPECT_EQ(*r->memory->swap, -1);
  EXPECT_FALSE(r->memory->reservation.has_value());
  EXPECT_EQ(*r->cpu->quota, -1);
  EXPECT_FALSE(r->cpu->shares.has_value());
  EXPECT_FALSE(r->pids.has_value());
  EXPECT_FALSE(r->block_io.has_value());
}

TEST(Options, Create) {
  auto inv = Parse({"run", "-d", "--keep", "--pid-file", "p", "--preserve-fds", "2", "c1"});
  auto o = CreateOptionsFromFlags(inv->flags);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->id, "c1");
  EXPECT_EQ(o->bundle, ".");
  EXPECT_EQ(o->pid_file[0], '/');
  EXPECT_TRUE(o->detach);
  EXPECT_TRUE(o->keep);
  EXPECT_EQ(o->preserve_fds, 2);
  inv = Parse({"create", "--preserve-fds", "-1", "c1"});
  EXPECT_FALSE(CreateOptionsFromFlags(inv->flags).ok());
}
