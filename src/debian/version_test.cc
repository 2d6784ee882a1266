#include "debian/version.h"

#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace husk::debian {
namespace {

struct Case {
  const char* a;
  const char* b;
  int want;
};

TEST(Version, CompareTable) {
  const Case cases[] = {
      {"1.0", "1.0", 0},
      {"1.0", "1.0-0", 0},  // a missing revision equals "0"
      {"1.0-0", "1.0", 0},
      {"1.0", "1.0-1", -1},
      {"0:1.0", "1.0", 0},
      {"1:0.1", "2.0", 1},  // epoch first
      {"2:1", "10:0", -1},  // epochs as numbers
      {"1.0~rc1", "1.0", -1},
      {"1.0~~", "1.0~", -1},
      {"1.0~", "1.0", -1},
      {"1.0", "1.0+b1", -1},
      {"1.0a", "1.0", 1},
      {"1.0a", "1.0+", -1},  // letters before non-letters
      {"1.0a", "1.0.", -1},
      {"1.0.", "1.0+", 1},    // '.' (46) > '+' (43), both +256
      {"1.010", "1.9", 1},    // numbers, not strings
      {"1.0010", "1.10", 0},  // leading zeros ignored
      {"1.00", "1.0", 0},
      {"1.0", "1", 1},
      {"1", "1.", -1},
      {"1.2.3-1", "1.2.3-1ubuntu1", -1},
      {"1.2.3-1~bpo1", "1.2.3-1", -1},
      {"3.11.2-6+deb12u1", "3.11.2-6", 1},
      {"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
      {"1.0-a-1", "1.0-a-2", -1},  // revision after the last '-'
      {"1:2:3", "1:2:4", -1},      // ':' allowed in upstream after an epoch
      {"0~", "0", -1},
      {"A", "a", -1},
      {"1.0~a", "1.0~b", -1},
      {"20230311", "20230311.1", -1},
  };
  for (auto& c : cases) {
    EXPECT_EQ(CompareVersions(c.a, c.b), c.want) << c.a << " vs " << c.b;
    EXPECT_EQ(CompareVersions(c.b, c.a), -c.want) << c.b << " vs " << c.a;
  }
}

TEST(Version, ParseValidates) {
  auto v = ParseVersion("2:1.0~rc1-3+b1");
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->epoch, 2u);
  EXPECT_EQ(v->upstream, "1.0~rc1");
  EXPECT_EQ(v->revision, "3+b1");
  EXPECT_EQ(v->String(), "2:1.0~rc1-3+b1");
  EXPECT_EQ(ParseVersion("0:1.0")->String(), "1.0");
  EXPECT_EQ(ParseVersion("1.0-a-1")->upstream, "1.0-a");

  const std::pair<const char*, const char*> bad[] = {
      {"", "invalid version \"\": empty"},
      {"1 .0", "invalid version \"1 .0\": embedded whitespace"},
      {":1.0", "invalid version \":1.0\": epoch is empty"},
      {"x:1.0", "invalid version \"x:1.0\": epoch is not a number"},
      {"99999999999:1", "invalid version \"99999999999:1\": epoch is too big"},
      {"1:", "invalid version \"1:\": nothing after the epoch's ':'"},
      {"1.0-", "invalid version \"1.0-\": revision is empty"},
      {"-1", "invalid version \"-1\": upstream version is empty"},
      {"a1.0", "invalid version \"a1.0\": upstream version does not start with a digit"},
      {"1.0_1", "invalid version \"1.0_1\": invalid character '_' in upstream version"},
      {"1:1.0-1:2", "invalid version \"1:1.0-1:2\": invalid character ':' in revision"},
  };
  for (auto& [in, msg] : bad) {
    auto r = ParseVersion(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().message(), msg);
  }
}

TEST(Version, Operators) {
  EXPECT_EQ(*ParseOp("<"), Op::kLessEq);  // deprecated spelling
  EXPECT_EQ(*ParseOp(">"), Op::kGreaterEq);
  EXPECT_EQ(*ParseOp("<<"), Op::kLess);
  EXPECT_EQ(OpString(*ParseOp(">>")), ">>");
  EXPECT_FALSE(ParseOp("=>").ok());
  EXPECT_EQ(ParseOp("!=").error().message(),
            "invalid relation operator \"!=\" (want <<, <=, =, >= or >>)");
  EXPECT_TRUE(Satisfies("1.0", Op::kLess, "1.1"));
  EXPECT_FALSE(Satisfies("1.1", Op::kLess, "1.1"));
  EXPECT_TRUE(Satisfies("1.1", Op::kLessEq, "1.1"));
  EXPECT_TRUE(Satisfies("1.1-0", Op::kEq, "1.1"));
  EXPECT_TRUE(Satisfies("1.1", Op::kGreaterEq, "1.1~"));
  EXPECT_FALSE(Satisfies("1.1", Op::kGreater, "1.1"));
  EXPECT_TRUE(Satisfies("1:0", Op::kGreater, "9.9"));
}

// Versions built from the pieces where orderings usually go wrong: tildes at
// the end, leading zeros, letters next to digits, epochs, many dashes.
std::string RandomVersion(std::mt19937& rng) {
  static const char* kPieces[] = {"0", "00", "1", "01", "9",  "10", "010", "123", "a",   "b", "Z",
                                  "~", "~~", ".", "+",  "~a", "a~", "rc",  "1~",  "+b1", "."};
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::string v;
  if (pick(5) == 0) v += std::to_string(pick(3)) + ":";
  v += std::to_string(pick(12));  // upstream must start with a digit
  size_t n = pick(5);
  for (size_t i = 0; i < n; i++) v += kPieces[pick(std::size(kPieces))];
  if (pick(3) != 0) {
    if (pick(6) == 0) v += "-" + std::to_string(pick(3));  // a '-' inside upstream
    v += "-";
    static const char* kRev[] = {"0", "1", "00", "1~", "1+b1", "a", "1.1", "~", "2~bpo1", "10"};
    v += kRev[pick(std::size(kRev))];
  }
  return v;
}

TEST(Version, AgreesWithDpkg) {
  if (access("/usr/bin/dpkg", X_OK) != 0) GTEST_SKIP() << "dpkg is not installed";
  std::mt19937 rng(20240607);  // fixed: the same pairs on every run
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int i = 0; i < 200; i++) {
    std::string a = RandomVersion(rng);
    // Every fourth pair shares a prefix so the comparison has to go deep.
    std::string b = i % 4 == 0 ? a + RandomVersion(rng).substr(1) : RandomVersion(rng);
    if (i % 4 == 0 && b.find(':') != std::string::npos) b = RandomVersion(rng);
    pairs.emplace_back(a, b);
  }
  // One shell runs every dpkg call; each prints -1, 0 or 1 on its own line.
  std::string script;
  for (auto& [a, b] : pairs) {
    ASSERT_TRUE(ParseVersion(a).ok()) << a;
    ASSERT_TRUE(ParseVersion(b).ok()) << b;
    script += "if dpkg --compare-versions '" + a + "' lt '" + b + "'; then echo -1; elif " +
              "dpkg --compare-versions '" + a + "' eq '" + b + "'; then echo 0; else echo 1; fi\n";
  }
  char path[] = "/tmp/husk-dpkg-cmp-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
  close(fd);
  FILE* p = popen(("sh " + std::string(path) + " 2>/dev/null").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::vector<int> want;
  char line[16];
  while (fgets(line, sizeof line, p)) want.push_back(std::atoi(line));
  pclose(p);
  unlink(path);
  ASSERT_EQ(want.size(), pairs.size());
  int disagreements = 0;
  for (size_t i = 0; i < pairs.size(); i++) {
    auto& [a, b] = pairs[i];
    if (CompareVersions(a, b) != want[i]) disagreements++;
    EXPECT_EQ(CompareVersions(a, b), want[i]) << a << " vs " << b;
    EXPECT_EQ(CompareVersions(b, a), -want[i]) << b << " vs " << a;
  }
  EXPECT_EQ(disagreements, 0);
}

}  // namespace
}  // namespace husk::debian
