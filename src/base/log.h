// Logging as runc does it: to --log FILE (default stderr), as text or as JSON
// lines {"level","msg","time"}. containerd reads the last JSON msg when a call fails.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace husk::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Opens the log file (append). An empty path logs to stderr.
bool Init(const std::string& path, Format format, bool debug);
// True when logs go to a file rather than stderr.
bool ToFile();
void Write(Level level, std::string_view msg);
// Whether --debug is on: debug lines are not even formatted otherwise (the
// create path has several, and every container start would pay for them).
bool DebugEnabled();

template <typename... Args>
void Debugf(fmt::format_string<Args...> f, Args&&... a) {
  if (!DebugEnabled()) return;
  Write(Level::kDebug, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void Warnf(fmt::format_string<Args...> f, Args&&... a) {
  Write(Level::kWarn, fmt::format(f, std::forward<Args>(a)...));
}
template <typename... Args>
void Errorf(fmt::format_string<Args...> f, Args&&... a) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(a)...));
}

}  // namespace husk::log
