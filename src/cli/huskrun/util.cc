// Output helpers shared by the verbs: byte-exact JSON layout matching runc's Go encoders,
// whole writes to stdout, and reading a file or stdin.
#include <unistd.h>

#include "base/fs.h"
#include "cli/huskrun/cli.h"

namespace husk::cli {

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("write {}", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Ok();
}

std::string IndentJson(std::string_view json, std::string_view indent) {
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  auto newline = [&] {
    out.push_back('\n');
    for (int d = 0; d < depth; ++d) out.append(indent);
  };
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < json.size() && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
      out.append(json.substr(i, j + 1 - i));
      i = j;
      continue;
    }
    if (is_space(c)) continue;
    switch (c) {
      case '{':
      case '[': {
        size_t j = i + 1;
        while (j < json.size() && is_space(json[j])) ++j;
        if (j < json.size() && json[j] == (c == '{' ? '}' : ']')) {
          out.push_back(c);
          out.push_back(json[j]);
          i = j;
          break;
        }
        out.push_back(c);
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(',');
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string GoJsonQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript; Go escapes them.
    if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xfe) == 0xa8) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  out.push_back('"');
  return out;
}

Result<std::string> ReadFileOrStdin(const std::string& path) {
  if (path != "-") return fs::ReadFile(path);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read standard input");
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace husk::cli
