// The deb822 control format: Packages and Release files, the InRelease body,
// dpkg's status file, a .deb's control file and deb822 .sources files.
//
// Paragraphs are separated by blank lines (or lines of only spaces and tabs);
// a field is "Name: value" with continuation lines starting with a space or a
// tab; lines starting with '#' are comments. Field names compare
// case-insensitively. Everything is a string_view into the caller's buffer: a
// 45 MB Packages file is parsed without copying a value, so the buffer must
// outlive the paragraphs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::debian {

struct Field {
  std::string_view name;
  // From after the ':' and its blanks to the end of the last continuation
  // line, trailing whitespace removed. Continuation lines are kept raw (with
  // their '\n' and leading blank): use UnfoldText or FieldLines to read them.
  std::string_view value;
  uint32_t line = 0;  // 1-based line of the field name
};

class Paragraph {
 public:
  const std::vector<Field>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  // 1-based line of the paragraph's first field.
  uint32_t line() const { return line_; }

  // The field's value, the name compared case-insensitively; nullopt when absent.
  std::optional<std::string_view> Find(std::string_view name) const;
  // The value, or "" when the field is absent.
  std::string_view Get(std::string_view name) const { return Find(name).value_or(""); }
  bool Has(std::string_view name) const { return Find(name).has_value(); }
  // The line a field starts on (for errors about its value), or the paragraph's.
  uint32_t LineOf(std::string_view name) const;

 private:
  friend class Deb822Reader;
  std::vector<Field> fields_;
  uint32_t line_ = 0;
};

// Reads paragraphs one at a time, reusing the Paragraph's storage: the cheap
// way through a large index.
class Deb822Reader {
 public:
  explicit Deb822Reader(std::string_view text) : text_(text) {}
  // For a piece of a larger document: line numbers (in paragraphs and errors)
  // count from first_line, the document's line the piece starts on.
  Deb822Reader(std::string_view text, uint32_t first_line) : text_(text), line_(first_line - 1) {}
  // Fills *p with the next paragraph; false once the text is exhausted.
  // Errors read "line N: what is wrong".
  Result<bool> Next(Paragraph* p);

 private:
  std::string_view text_;
  size_t pos_ = 0;
  uint32_t line_ = 0;  // lines consumed so far
};

// Every paragraph of a document.
Result<std::vector<Paragraph>> ParseDeb822(std::string_view text);

// True when two field names are equal ignoring ASCII case.
bool FieldNameEquals(std::string_view a, std::string_view b);

// A multi-line text field as deb822 defines it: the first line, then each
// continuation line without its first blank, with " ." standing for an empty line.
std::string UnfoldText(std::string_view value);
// The first line of a value (the synopsis of a Description).
std::string_view FirstLine(std::string_view value);
// The non-empty lines of a value, each trimmed: the rows of a list field such
// as SHA256 in a Release file, whose first line is usually empty.
std::vector<std::string_view> FieldLines(std::string_view value);

}  // namespace husk::debian
