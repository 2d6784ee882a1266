#include "base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/strings.h"
#include "base/time.h"

namespace husk::log {

namespace {
int g_fd = 2;
Format g_format = Format::kText;
bool g_debug = false;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}
}  // namespace

bool Init(const std::string& path, Format format, bool debug) {
  g_format = format;
  g_debug = debug;
  if (path.empty()) return true;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  g_fd = fd;  // lives for the whole process
  return true;
}

bool ToFile() {
  return g_fd != 2;
}

bool DebugEnabled() {
  return g_debug;
}

void Write(Level level, std::string_view msg) {
  if (level == Level::kDebug && !g_debug) return;
  std::string line;
  std::string now = time::Rfc3339Nano(time::Now());
  if (g_format == Format::kJson) {
    line = fmt::format(R"({{"level":"{}","msg":"{}","time":"{}"}})", LevelName(level),
                       strings::JsonEscape(msg), now);
  } else {
    line = fmt::format("time=\"{}\" level={} msg=\"{}\"", now, LevelName(level),
                       strings::JsonEscape(msg));
  }
  line.push_back('\n');
  // One write per line so concurrent writers interleave whole lines.
  ssize_t n = ::write(g_fd, line.data(), line.size());
  (void)n;
}

}  // namespace husk::log
