#include "debian/relations.h"

#include <gtest/gtest.h>

namespace husk::debian {
namespace {

TEST(Relations, GroupsAlternativesAndVersions) {
  auto r = ParseRelations(
      "libc6 (>= 2.34), python3:any, default-mta | mail-transport-agent,\n"
      " libfoo (<<2.0~) | libfoo-dev:native (= 1:1.0-1)");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 4u);
  const Relation& libc = (*r)[0][0];
  EXPECT_EQ(libc.name, "libc6");
  ASSERT_TRUE(libc.op);
  EXPECT_EQ(*libc.op, Op::kGreaterEq);
  EXPECT_EQ(libc.version, "2.34");
  EXPECT_EQ((*r)[1][0].name, "python3");
  EXPECT_EQ((*r)[1][0].arch_qualifier, "any");
  EXPECT_FALSE((*r)[1][0].op);
  ASSERT_EQ((*r)[2].size(), 2u);
  EXPECT_EQ((*r)[2][1].name, "mail-transport-agent");
  EXPECT_EQ(*(*r)[3][0].op, Op::kLess);
  EXPECT_EQ((*r)[3][0].version, "2.0~");
  EXPECT_EQ((*r)[3][1].arch_qualifier, "native");
  EXPECT_EQ((*r)[3][1].version, "1:1.0-1");
  EXPECT_EQ(FormatRelations(*r),
            "libc6 (>= 2.34), python3:any, default-mta | mail-transport-agent, "
            "libfoo (<< 2.0~) | libfoo-dev:native (= 1:1.0-1)");
}

TEST(Relations, DeprecatedOperatorsArchRestrictionsAndProfiles) {
  auto r = ParseRelations(
      "a (< 1), b (> 2), gcc-12 [amd64 !i386] <!nocheck> <stage1 cross>, d <!nodoc>, e,");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->size(), 5u);  // the trailing comma is tolerated, as dpkg does
  EXPECT_EQ(*(*r)[0][0].op, Op::kLessEq);
  EXPECT_EQ(*(*r)[1][0].op, Op::kGreaterEq);
  const Relation& gcc = (*r)[2][0];
  std::vector<std::string> archs = {"amd64", "!i386"};
  EXPECT_EQ(gcc.arch_restrictions, archs);
  EXPECT_EQ(gcc.String(), "gcc-12 [amd64 !i386]");
  EXPECT_EQ((*r)[3][0].name, "d");
  EXPECT_TRUE(ParseRelations("")->empty());
  EXPECT_TRUE(ParseRelations("  \n ")->empty());
}

TEST(Relations, ArchRestrictions) {
  auto one = [](const char* s) { return (*ParseRelations(s))[0][0]; };
  EXPECT_TRUE(ArchRestrictionsAllow(one("x"), "amd64"));
  EXPECT_TRUE(ArchRestrictionsAllow(one("x [amd64 arm64]"), "amd64"));
  EXPECT_FALSE(ArchRestrictionsAllow(one("x [arm64]"), "amd64"));
  EXPECT_FALSE(ArchRestrictionsAllow(one("x [!amd64]"), "amd64"));
  EXPECT_TRUE(ArchRestrictionsAllow(one("x [!i386]"), "amd64"));
  EXPECT_TRUE(ArchRestrictionsAllow(one("x [linux-any]"), "amd64"));
  EXPECT_TRUE(ArchRestrictionsAllow(one("x [any-amd64]"), "amd64"));
  EXPECT_FALSE(ArchRestrictionsAllow(one("x [any-arm64]"), "amd64"));
  EXPECT_FALSE(ArchRestrictionsAllow(one("x [!linux-amd64]"), "amd64"));
}

TEST(Relations, Provides) {
  auto p = ParseProvides("awk, python3-foo (= 1.2-1), mail-transport-agent");
  ASSERT_TRUE(p.ok()) << p.error().message();
  ASSERT_EQ(p->size(), 3u);
  EXPECT_EQ((*p)[1].name, "python3-foo");
  EXPECT_EQ((*p)[1].version, "1.2-1");
  EXPECT_TRUE((*p)[1].VersionMatches("1.2-1"));
  EXPECT_EQ(ParseProvides("a (>= 1)").error().message(),
            "invalid Provides entry \"a (>= 1)\": only \"=\" may version a Provides");
  EXPECT_EQ(ParseProvides("a | b").error().message(),
            "invalid Provides entry \"a | b\": alternatives are not allowed");
}

TEST(Relations, ErrorsNameThePiece) {
  const std::pair<const char*, const char*> cases[] = {
      {"a, , b", "empty relation in \"a, , b\""},
      {"a | , b", "empty alternative in \"a |\""},
      {"a (>= 1", "invalid relation \"a (>= 1\": unterminated '('"},
      {"a (1.0)", "invalid relation \"a (1.0)\": missing operator after '('"},
      {"a (=> 1.0)",
       "invalid relation \"a (=> 1.0)\": invalid relation operator \"=>\" (want <<, <=, =, >= or "
       ">>)"},
      {"a (>= )", "invalid relation \"a (>= )\": missing version after the operator"},
      {"a (>= x1)",
       "invalid relation \"a (>= x1)\": invalid version \"x1\": upstream version does not start "
       "with a digit"},
      {"a [amd64", "invalid relation \"a [amd64\": unterminated '['"},
      {"a []", "invalid relation \"a []\": empty architecture list"},
      {"a: (>= 1)", "invalid relation \"a: (>= 1)\": empty architecture qualifier after ':'"},
      {"(>= 1)", "invalid relation \"(>= 1)\": missing package name"},
      {"-a", "invalid relation \"-a\": package name must start with a letter or digit"},
      {"a b", "invalid relation \"a b\": unexpected \"b\""},
      {"a <!nocheck", "invalid relation \"a <!nocheck\": unterminated '<'"},
  };
  for (auto& [in, msg] : cases) {
    auto r = ParseRelations(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().message(), msg) << in;
  }
}

}  // namespace
}  // namespace husk::debian
