#include "debian/deb822.h"

#include <gtest/gtest.h>

namespace husk::debian {
namespace {

TEST(Deb822, ParagraphsFieldsAndContinuations) {
  const std::string text =
      "Package: hello\n"
      "Version: 2.10-3\n"
      "Description: example package\n"
      " The GNU hello program.\n"
      " .\n"
      "\tIt greets.\n"
      "\n"
      "\n"
      "package: other\n"
      "DEPENDS: libc6 (>= 2.34),\n"
      " libfoo\n";
  auto ps = ParseDeb822(text);
  ASSERT_TRUE(ps.ok()) << ps.error().message();
  ASSERT_EQ(ps->size(), 2u);
  const Paragraph& a = (*ps)[0];
  EXPECT_EQ(a.line(), 1u);
  EXPECT_EQ(a.Get("package"), "hello");
  EXPECT_EQ(a.Get("VERSION"), "2.10-3");
  EXPECT_EQ(FirstLine(a.Get("Description")), "example package");
  EXPECT_EQ(UnfoldText(a.Get("Description")),
            "example package\nThe GNU hello program.\n\nIt greets.");
  EXPECT_EQ(a.LineOf("Description"), 3u);
  EXPECT_FALSE(a.Has("Depends"));
  EXPECT_EQ(a.Get("Depends"), "");
  const Paragraph& b = (*ps)[1];
  EXPECT_EQ(b.line(), 9u);
  EXPECT_EQ(b.Get("Package"), "other");
  EXPECT_EQ(b.Get("Depends"), "libc6 (>= 2.34),\n libfoo");
  EXPECT_EQ(b.fields()[1].name, "DEPENDS");  // names keep their spelling
}

TEST(Deb822, CommentsBlankLinesWithSpacesAndCrLf) {
  const std::string text =
      "# deb822 sources\n"
      "Types: deb\n"
      "URIs: http://deb.debian.org/debian\n"
      "# Suites: bookworm-backports\n"
      "Suites: bookworm\n"
      "  \t \n"
      "Types: deb\r\n"
      "Components: main\r\n";
  auto ps = ParseDeb822(text);
  ASSERT_TRUE(ps.ok()) << ps.error().message();
  ASSERT_EQ(ps->size(), 2u);
  EXPECT_EQ((*ps)[0].fields().size(), 3u);
  EXPECT_EQ((*ps)[0].Get("Suites"), "bookworm");
  EXPECT_EQ((*ps)[1].Get("Types"), "deb");
  EXPECT_EQ((*ps)[1].Get("Components"), "main");
}

TEST(Deb822, EmptyValuesAndListFields) {
  auto ps = ParseDeb822("SHA256:\n abc 12 main/a\n  def 3 main/b\nEmpty:\nNo-Newline: x");
  ASSERT_TRUE(ps.ok()) << ps.error().message();
  const Paragraph& p = (*ps)[0];
  std::vector<std::string_view> want = {"abc 12 main/a", "def 3 main/b"};
  EXPECT_EQ(FieldLines(p.Get("SHA256")), want);
  EXPECT_TRUE(p.Has("Empty"));
  EXPECT_EQ(p.Get("Empty"), "");
  EXPECT_EQ(p.Get("No-Newline"), "x");
}

TEST(Deb822, EmptyInput) {
  EXPECT_TRUE(ParseDeb822("")->empty());
  EXPECT_TRUE(ParseDeb822("\n\n  \n# only a comment\n")->empty());
}

TEST(Deb822, ErrorsCarryTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {" leading continuation\n", "line 1: continuation line without a field before it"},
      {"A: 1\n\n continued\n", "line 3: continuation line without a field before it"},
      {"A: 1\n# c\n more\n", "line 3: continuation line after a comment"},
      {"A: 1\nno colon here\n", "line 2: \"no colon here\" is not a field (no ':')"},
      {"A: 1\n: x\n", "line 2: field without a name"},
      {"A: 1\nB: 2\na: 3\n", "line 3: duplicate field \"a\" (first on line 1)"},
      {"-----BEGIN PGP SIGNED MESSAGE-----\n", "line 1: OpenPGP armor; strip the signature first"},
      {"-X: 1\n", "line 1: field name \"-X\" starts with '-'"},
      {"A B: 1\n", "line 1: field name \"A B\" has a space or control character"},
  };
  for (auto& [in, msg] : cases) {
    auto r = ParseDeb822(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.error().message(), msg) << in;
  }
}

TEST(Deb822, ReaderReusesTheParagraph) {
  Deb822Reader reader("A: 1\n\nA: 2\nB: 3\n\n\n");
  Paragraph p;
  ASSERT_TRUE(*reader.Next(&p));
  EXPECT_EQ(p.Get("A"), "1");
  ASSERT_TRUE(*reader.Next(&p));
  EXPECT_EQ(p.Get("A"), "2");
  EXPECT_EQ(p.line(), 3u);
  EXPECT_EQ(p.LineOf("B"), 4u);
  EXPECT_FALSE(*reader.Next(&p));
  EXPECT_TRUE(p.empty());
}

TEST(Deb822, ValuesViewTheBuffer) {
  std::string text = "Package: x\nFilename: pool/main/x/x_1_all.deb\n";
  auto ps = ParseDeb822(text);
  ASSERT_TRUE(ps.ok());
  std::string_view v = (*ps)[0].Get("Filename");
  EXPECT_GE(v.data(), text.data());
  EXPECT_LE(v.data() + v.size(), text.data() + text.size());
}

TEST(Deb822, APieceOfALargerDocumentCountsLinesFromWhereItStarts) {
  // The second half of a Packages file, which begins on line 1001.
  Deb822Reader reader("A: 1\nB: 2\n\nbroken line\n", 1001);
  Paragraph p;
  ASSERT_TRUE(*reader.Next(&p));
  EXPECT_EQ(p.line(), 1001u);
  EXPECT_EQ(p.LineOf("B"), 1002u);
  auto next = reader.Next(&p);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().message(), "line 1004: \"broken line\" is not a field (no ':')");
}

}  // namespace
}  // namespace husk::debian
