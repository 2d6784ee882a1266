#include "debian/deb822.h"

#include <cstring>

namespace husk::debian {
namespace {

char Lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

// Whitespace that may end a line or pad a value; '\r' for files written on Windows.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool IsBlankLine(std::string_view line) {
  for (char c : line)
    if (!IsBlank(c) && c != '\r') return false;
  return true;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool FieldNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::optional<std::string_view> Paragraph::Find(std::string_view name) const {
  for (const Field& f : fields_)
    if (FieldNameEquals(f.name, name)) return f.value;
  return std::nullopt;
}

uint32_t Paragraph::LineOf(std::string_view name) const {
  for (const Field& f : fields_)
    if (FieldNameEquals(f.name, name)) return f.line;
  return line_;
}

Result<bool> Deb822Reader::Next(Paragraph* p) {
  p->fields_.clear();
  p->line_ = 0;
  const char* base = text_.data();
  // The field being read: its value grows with each continuation line.
  Field* cur = nullptr;
  size_t value_start = 0;
  bool after_comment = false;
  while (pos_ < text_.size()) {
    const void* nl = std::memchr(base + pos_, '\n', text_.size() - pos_);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - base) : text_.size();
    std::string_view line = text_.substr(pos_, end - pos_);
    size_t line_start = pos_;
    pos_ = nl ? end + 1 : end;
    line_++;

    if (IsBlankLine(line)) {
      if (!p->fields_.empty()) return true;  // the paragraph ends here
      continue;                              // extra separators between paragraphs
    }
    char c0 = line[0];
    if (c0 == '#') {
      // A comment ends the field before it: values are contiguous views, and
      // a continuation after a comment would have to skip it.
      cur = nullptr;
      after_comment = true;
      continue;
    }
    if (IsBlank(c0)) {
      if (!cur) {
        if (after_comment) return Err("line {}: continuation line after a comment", line_);
        return Err("line {}: continuation line without a field before it", line_);
      }
      cur->value = TrimRight(text_.substr(value_start, end - value_start));
      continue;
    }
    after_comment = false;
    const void* colon = std::memchr(line.data(), ':', line.size());
    if (!colon) {
      if (line.substr(0, 5) == "-----")
        return Err("line {}: OpenPGP armor; strip the signature first", line_);
      return Err("line {}: \"{}\" is not a field (no ':')", line_, TrimRight(line.substr(0, 60)));
    }
    size_t name_len = static_cast<size_t>(static_cast<const char*>(colon) - line.data());
    std::string_view name = line.substr(0, name_len);
    if (name.empty()) return Err("line {}: field without a name", line_);
    if (c0 == '-') return Err("line {}: field name \"{}\" starts with '-'", line_, name);
    for (char c : name)
      if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 127)
        return Err("line {}: field name \"{}\" has a space or control character", line_, name);
    for (const Field& f : p->fields_)
      if (FieldNameEquals(f.name, name))
        return Err("line {}: duplicate field \"{}\" (first on line {})", line_, name, f.line);
    size_t v = name_len + 1;
    while (v < line.size() && IsBlank(line[v])) v++;
    value_start = line_start + v;
    p->fields_.push_back(Field{name, TrimRight(line.substr(v)), line_});
    if (p->line_ == 0) p->line_ = line_;
    cur = &p->fields_.back();
  }
  return !p->fields_.empty();
}

Result<std::vector<Paragraph>> ParseDeb822(std::string_view text) {
  std::vector<Paragraph> out;
  Deb822Reader reader(text);
  for (;;) {
    Paragraph p;
    if (!TRY(reader.Next(&p))) break;
    out.push_back(std::move(p));
  }
  return out;
}

std::string UnfoldText(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  size_t i = 0;
  bool first = true;
  while (i <= value.size()) {
    size_t nl = value.find('\n', i);
    if (nl == std::string_view::npos) nl = value.size();
    std::string_view line = TrimRight(value.substr(i, nl - i));
    if (!first) {
      if (!line.empty() && IsBlank(line[0])) line.remove_prefix(1);
      if (line == ".") line = {};
      out.push_back('\n');
    }
    out.append(line);
    first = false;
    i = nl + 1;
  }
  return out;
}

std::string_view FirstLine(std::string_view value) {
  return TrimRight(value.substr(0, value.find('\n')));
}

std::vector<std::string_view> FieldLines(std::string_view value) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < value.size()) {
    size_t nl = value.find('\n', i);
    if (nl == std::string_view::npos) nl = value.size();
    std::string_view line = value.substr(i, nl - i);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    line = TrimRight(line);
    if (!line.empty()) out.push_back(line);
    i = nl + 1;
  }
  return out;
}

}  // namespace husk::debian
