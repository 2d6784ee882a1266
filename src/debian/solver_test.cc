#include "debian/solver.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "debian/test_apt_lists.h"

namespace husk::debian {
namespace {

// Stanzas without Architecture get "amd64", to keep the fixtures short.
PackageIndex Make(const std::vector<std::string>& files) {
  PackageIndex idx;
  for (size_t i = 0; i < files.size(); i++) {
    std::string fixed;
    auto paragraphs = ParseDeb822(files[i]);
    EXPECT_TRUE(paragraphs.ok()) << paragraphs.error().message();
    for (auto& para : paragraphs.value()) {
      for (const Field& f : para.fields()) fixed += fmt::format("{}: {}\n", f.name, f.value);
      if (!para.Has("Architecture")) fixed += "Architecture: amd64\n";
      fixed += "\n";
    }
    Status s = idx.AddPackagesFile(fixed, fmt::format("file{}", i));
    EXPECT_TRUE(s.ok()) << s.error().message();
  }
  return idx;
}

Result<Solution> Solve(const PackageIndex& idx, const std::vector<std::string>& req,
                       SolveOptions opt = {}) {
  return Resolve(idx, req, opt);
}

// "name=version" in install order.
std::vector<std::string> Names(const Solution& s) {
  std::vector<std::string> out;
  for (const Selected& p : s.packages) out.push_back(p.package->name + "=" + p.package->version);
  return out;
}

std::string Error(const Result<Solution>& r) {
  return r.ok() ? "(no error)" : r.error().message();
}

TEST(Solver, SimpleChainInDependencyOrder) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Depends: libfoo (>= 1.0), libc6

Package: libfoo
Version: 1.2
Pre-Depends: libc6

Package: libc6
Version: 2.36

Package: unrelated
Version: 1)"});
  auto s = Solve(idx, {"app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"libc6=2.36", "libfoo=1.2", "app=1"}));
  EXPECT_EQ(s->packages[2].Reason(), "requested");
  EXPECT_EQ(s->packages[1].Reason(), "needed by app (Depends: libfoo (>= 1.0))");
  EXPECT_EQ(s->packages[0].Reason(), "needed by libfoo (Pre-Depends: libc6)");
  EXPECT_TRUE(s->notes.empty());
}

TEST(Solver, CyclesAndRequestsAlreadyPulledIn) {
  PackageIndex idx = Make({R"(
Package: libc6
Version: 2.36
Depends: libgcc-s1

Package: libgcc-s1
Version: 12
Depends: libc6 (>= 2.35))"});
  auto s = Solve(idx, {"libc6", "libgcc-s1"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"libgcc-s1=12", "libc6=2.36"}));
  EXPECT_EQ(s->packages[0].Reason(), "requested");  // asked for, even though pulled in first
}

TEST(Solver, AlternativesBacktrack) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Depends: first | second | third

Package: first
Version: 1
Depends: middle

Package: middle
Version: 1
Depends: missing

Package: second
Version: 1
Depends: helper

Package: helper
Version: 1

Package: third
Version: 1)"});
  auto s = Solve(idx, {"app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  // first and middle were tried and undone; second is the first that installs.
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"helper=1", "second=1", "app=1"}));
}

TEST(Solver, AlternativesPreferWhatIsAlreadyChosen) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Depends: gawk | mawk

Package: gawk
Version: 5

Package: mawk
Version: 1.3)"});
  auto s = Solve(idx, {"mawk", "app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"mawk=1.3", "app=1"}));
  s = Solve(idx, {"app"});
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"gawk=5", "app=1"}));
}

TEST(Solver, EveryVersionOperator) {
  const std::pair<const char*, bool> cases[] = {
      {"<< 2.1", true},     {"<< 2.0", false},     {"<= 2.0", true},
      {"<= 1.9", false},    {"= 2.0", true},       {"= 2.0-0", true},
      {"= 2.0-1", false},   {">= 2.0", true},      {">= 2.0.1", false},
      {">> 1.9", true},     {">> 2.0", false},     {"< 2.0", true},  // "<" is "<="
      {"> 2.0", true},                                               // ">" is ">="
      {">= 2.0~rc1", true}, {"<< 2.0~rc1", false}, {">= 1:0", false},
  };
  for (auto& [rel, ok] : cases) {
    PackageIndex idx = Make({fmt::format(
        "Package: app\nVersion: 1\nDepends: lib ({})\n\nPackage: lib\nVersion: 2.0", rel)});
    auto s = Solve(idx, {"app"});
    EXPECT_EQ(s.ok(), ok) << rel << ": " << Error(s);
    if (!ok) {
      EXPECT_EQ(Error(s), fmt::format("cannot install app: app depends on lib ({}), which is not "
                                      "available (the index has lib 2.0)",
                                      rel));
    }
  }
}

TEST(Solver, VirtualPackages) {
  PackageIndex idx = Make({R"(
Package: cron
Version: 3
Depends: mail-transport-agent, awk

Package: postfix
Version: 3.7
Provides: mail-transport-agent

Package: exim4-daemon-light
Version: 4.96
Provides: mail-transport-agent

Package: mawk
Version: 1.3
Provides: awk)"});
  auto s = Solve(idx, {"cron"});
  ASSERT_TRUE(s.ok()) << Error(s);
  // Several providers and no preference: the first by name.
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"exim4-daemon-light=4.96", "mawk=1.3", "cron=3"}));
  ASSERT_EQ(s->notes.size(), 1u);
  EXPECT_EQ(s->notes[0],
            "mail-transport-agent (needed by cron): provided by exim4-daemon-light, postfix; chose "
            "exim4-daemon-light, the first by name that installs");
  // A provider the user asked for wins, wherever it is in the request list.
  s = Solve(idx, {"cron", "postfix"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"postfix=3.7", "mawk=1.3", "cron=3"}));
  EXPECT_EQ(s->packages[0].Reason(), "requested");
  EXPECT_EQ(s->notes[0],
            "mail-transport-agent (needed by cron): provided by exim4-daemon-light, postfix; "
            "chose postfix, which was requested");
  // A virtual name can be requested.
  s = Solve(idx, {"awk"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"mawk=1.3"}));
}

TEST(Solver, VersionedProvides) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Depends: foo-abi (>= 2)

Package: old-impl
Version: 1
Provides: foo-abi (= 1)

Package: unversioned-impl
Version: 1
Provides: foo-abi

Package: new-impl
Version: 1
Provides: foo-abi (= 3))"});
  auto s = Solve(idx, {"app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"new-impl=1", "app=1"}));
  EXPECT_TRUE(s->notes.empty());  // only one provider qualifies
  // Without new-impl, nothing qualifies: an unversioned Provides never does.
  PackageIndex without = Make({R"(
Package: app
Version: 1
Depends: foo-abi (>= 2)

Package: unversioned-impl
Version: 1
Provides: foo-abi)"});
  EXPECT_EQ(Error(Solve(without, {"app"})),
            "cannot install app: app depends on foo-abi (>= 2), which is not available");
}

TEST(Solver, MultiArchAny) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Depends: python3:any, perl:any

Package: python3
Version: 3.11.2-1
Multi-Arch: allowed

Package: perl
Version: 5.36
Architecture: all
Multi-Arch: foreign

Package: tool
Version: 1
Depends: make:any

Package: make
Version: 4.3)"});
  auto s = Solve(idx, {"app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"python3=3.11.2-1", "perl=5.36", "app=1"}));
  EXPECT_EQ(Error(Solve(idx, {"tool"})),
            "cannot install tool: tool depends on make:any, which is not available (make is "
            "Multi-Arch: no)");
}

TEST(Solver, ConflictsAndBreaks) {
  PackageIndex idx = Make({R"(
Package: a
Version: 1
Depends: b

Package: b
Version: 1
Conflicts: c (<< 2)

Package: c
Version: 1

Package: d
Version: 1
Breaks: b (<< 2)

Package: e
Version: 1
Depends: b | c)"});
  EXPECT_EQ(Error(Solve(idx, {"c", "a"})),
            "cannot install a: a depends on b, which conflicts with c (<< 2), but c 1 (requested) "
            "is already chosen");
  EXPECT_EQ(
      Error(Solve(idx, {"d", "a"})),
      "cannot install a: a depends on b, which is broken by d 1 (requested): d Breaks: b (<< 2)");
  EXPECT_EQ(Error(Solve(idx, {"a", "d"})),
            "cannot install d: d breaks b (<< 2), but b 1 (needed by a (Depends: b)) is already "
            "chosen");
  // A conflicting alternative is skipped for the next one.
  auto s = Solve(idx, {"d", "e"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"d=1", "c=1", "e=1"}));
}

TEST(Solver, UnsatisfiableChainNamesEveryLink) {
  PackageIndex idx = Make({R"(
Package: python3
Version: 3.11.2-1+b1
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)

Package: python3.11
Version: 3.11.2-6
Depends: libpython3.11-stdlib (= 3.11.2-6)

Package: libpython3-stdlib
Version: 3.11.2-1+b1)"});
  EXPECT_EQ(
      Error(Solve(idx, {"python3"})),
      "cannot install python3: python3 depends on python3.11 (>= 3.11.2-1~), which depends on "
      "libpython3.11-stdlib (= 3.11.2-6), which is not available");
  EXPECT_EQ(Error(Solve(idx, {"nothing-like-it"})),
            "cannot install nothing-like-it: nothing-like-it is not available");
  EXPECT_EQ(Error(Solve(idx, {"python3=3.12"})),
            "cannot install python3=3.12: not available (the index has python3 3.11.2-1+b1 amd64)");
  EXPECT_EQ(Error(Solve(idx, {"python3:arm64"})),
            "cannot install python3:arm64: this build installs only amd64 and all packages");
}

TEST(Solver, AlternativesThatAllFailAreAllReported) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Pre-Depends: x (>= 2) | y

Package: x
Version: 1

Package: y
Version: 1
Depends: z)"});
  EXPECT_EQ(Error(Solve(idx, {"app"})),
            "cannot install app: app pre-depends on x (>= 2) | y: x (>= 2), which is not available "
            "(the index has x 1); y, which depends on z, which is not available");
}

TEST(Solver, RequestsWithVersionsAndArchitectures) {
  PackageIndex idx =
      Make({"Package: tool\nVersion: 1\n\nPackage: data\nVersion: 2\n"
            "Architecture: all",
            "Package: tool\nVersion: 2"});
  auto s = Solve(idx, {"tool=2", "data:all"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"tool=2", "data=2"}));
  EXPECT_EQ(Error(Solve(idx, {"tool=1"})),  // merged away by the newer suite
            "cannot install tool=1: not available (the index has tool 2 amd64)");
  EXPECT_EQ(Error(Solve(idx, {"tool", "tool=3"})),
            "cannot install tool=3: tool 2 (requested) is already chosen");
}

TEST(Solver, SuitesMergeToTheHighestVersion) {
  const std::string main =
      "Package: app\nVersion: 1.0-1\nDepends: lib (>= 1.1)\n\n"
      "Package: lib\nVersion: 1.0-1";
  const std::string updates = "Package: lib\nVersion: 1.1-1~deb12u1";
  PackageIndex main_only = Make({main});
  EXPECT_FALSE(Solve(main_only, {"app"}).ok());
  for (auto files : {std::vector<std::string>{main, updates}, {updates, main}}) {
    PackageIndex idx = Make(files);  // the solution points into it
    auto s = Solve(idx, {"app"});
    ASSERT_TRUE(s.ok()) << Error(s);
    EXPECT_EQ(Names(*s), (std::vector<std::string>{"lib=1.1-1~deb12u1", "app=1.0-1"}));
  }
}

TEST(Solver, EssentialAndRecommends) {
  PackageIndex idx = Make({R"(
Package: app
Version: 1
Recommends: helper, missing-thing

Package: helper
Version: 1

Package: base-files
Version: 12
Essential: yes

Package: dash
Version: 0.5
Essential: yes
Pre-Depends: base-files)"});
  auto s = Solve(idx, {"app"});
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s), (std::vector<std::string>{"app=1"}));
  SolveOptions opt;
  opt.essential_pulled_in = true;
  opt.include_recommends = true;
  s = Solve(idx, {"app"}, opt);
  ASSERT_TRUE(s.ok()) << Error(s);
  EXPECT_EQ(Names(*s),
            (std::vector<std::string>{"base-files=12", "dash=0.5", "helper=1", "app=1"}));
  EXPECT_EQ(s->packages[0].Reason(), "essential");
  EXPECT_EQ(s->packages[2].Reason(), "needed by app (Recommends: helper)");
  ASSERT_EQ(s->notes.size(), 1u);
  EXPECT_EQ(s->notes[0],
            "skipped app's Recommends missing-thing: app recommends missing-thing, which is not "
            "available");
}

TEST(Solver, StepLimit) {
  // Each layer has two alternatives that both fail at the bottom: 2^n attempts.
  std::string text;
  for (int i = 0; i < 20; i++)
    text += fmt::format(
        "Package: l{}a\nVersion: 1\nDepends: l{}a | l{}b\n\n"
        "Package: l{}b\nVersion: 1\nDepends: l{}a | l{}b\n\n",
        i, i + 1, i + 1, i, i + 1, i + 1);
  text +=
      "Package: l20a\nVersion: 1\nDepends: missing\n\nPackage: l20b\nVersion: 1\n"
      "Depends: missing";
  SolveOptions opt;
  opt.max_steps = 5000;
  PackageIndex idx = Make({text});
  EXPECT_EQ(Error(Solve(idx, {"l0a"}, opt)),
            "cannot install l0a: dependency search gave up after 5000 steps");
}

TEST(Solver, Deterministic) {
  const std::string a =
      "Package: app\nVersion: 1\nDepends: x, y | z, v\n\nPackage: x\n"
      "Version: 1\nDepends: z\n\nPackage: y\nVersion: 1";
  const std::string b =
      "Package: z\nVersion: 1\n\nPackage: v\nVersion: 1\nProvides: w\n\n"
      "Package: v2\nVersion: 1\nProvides: v";
  PackageIndex ab = Make({a, b}), ba = Make({b, a});
  auto first = Solve(ab, {"app"});
  ASSERT_TRUE(first.ok()) << Error(first);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(Names(*Solve(ab, {"app"})), Names(*first));
    EXPECT_EQ(Names(*Solve(ba, {"app"})), Names(*first));
  }
  // z, picked up through x, then satisfies "y | z" without installing y.
  EXPECT_EQ(Names(*first), (std::vector<std::string>{"z=1", "x=1", "v=1", "app=1"}));
}

TEST(Solver, RealBookworm) {
  auto text = testing::ReadAptList("dists_bookworm_main_binary-amd64_Packages");
  if (!text) GTEST_SKIP() << "no bookworm main Packages in /var/lib/apt/lists";
  PackageIndex idx;
  ASSERT_TRUE(idx.AddPackagesFile(*text, "bookworm/main").ok());
  for (const char* suite : {"dists_bookworm-updates_main_binary-amd64_Packages",
                            "dists_bookworm-security_main_binary-amd64_Packages"})
    if (auto more = testing::ReadAptList(suite)) {
      ASSERT_TRUE(idx.AddPackagesFile(*more, suite).ok());
    }
  auto s = Resolve(idx, {"python3", "libc6", "ca-certificates"}, {});
  ASSERT_TRUE(s.ok()) << Error(s);
  std::map<std::string, size_t> pos;
  for (size_t i = 0; i < s->packages.size(); i++) pos[s->packages[i].package->name] = i;
  for (const char* want : {"python3", "python3.11", "python3-minimal", "libpython3.11-stdlib",
                           "libc6", "ca-certificates", "openssl", "libssl3", "debconf"})
    EXPECT_TRUE(pos.count(want)) << want;
  EXPECT_LT(s->packages.size(), 60u);  // a minimal set, not half the archive
  EXPECT_FALSE(pos.count("bash"));     // Essential is not pulled in by default
  EXPECT_LT(pos["libc6"], pos["python3.11"]);
  EXPECT_LT(pos["python3.11"], pos["python3"]);
  EXPECT_LT(pos["openssl"], pos["ca-certificates"]);
  // Every dependency comes before its dependent, except inside a cycle.
  std::set<std::string> seen;
  size_t out_of_order = 0;
  for (const Selected& p : s->packages) {
    for (const Alternatives& g : p.package->depends) {
      bool met = false, chosen = false;
      for (const Relation& r : g) {
        chosen |= pos.count(r.name) > 0;
        met |= seen.count(r.name) > 0;
      }
      if (chosen && !met) out_of_order++;
    }
    seen.insert(p.package->name);
  }
  EXPECT_LE(out_of_order, 3u);  // libc6 <-> libgcc-s1 style cycles only
  SolveOptions with_essential;
  with_essential.essential_pulled_in = true;
  auto e = Resolve(idx, {"python3"}, with_essential);
  ASSERT_TRUE(e.ok()) << Error(e);
  EXPECT_TRUE(std::any_of(e->packages.begin(), e->packages.end(),
                          [](const Selected& p) { return p.package->name == "bash"; }));
}

TEST(Solver, ARequestedAlternativeIsTakenBeforeTheFirstOne) {
  PackageIndex idx = Make({R"(
Package: readline-common
Version: 8.2
Depends: dpkg (>= 1.15.4) | install-info

Package: dpkg
Version: 1.21
Depends: tar

Package: tar
Version: 1.34

Package: install-info
Version: 6.8
)"});
  // Alone, the first alternative, as apt would.
  auto alone = Solve(idx, {"readline-common"});
  ASSERT_TRUE(alone.ok()) << Error(alone);
  EXPECT_EQ(Names(*alone),
            (std::vector<std::string>{"tar=1.34", "dpkg=1.21", "readline-common=8.2"}));
  // Asked for, even after the package that needs it: the requested one.
  auto asked = Solve(idx, {"readline-common", "install-info"});
  ASSERT_TRUE(asked.ok()) << Error(asked);
  EXPECT_EQ(Names(*asked), (std::vector<std::string>{"install-info=6.8", "readline-common=8.2"}));
}

}  // namespace
}  // namespace husk::debian
