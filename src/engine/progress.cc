#include "engine/progress.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace husk::engine {

Progress::Mode Progress::DetectMode(FILE* out, bool quiet) {
  if (quiet) return Mode::kQuiet;
  const char* term = getenv("TERM");
  if (isatty(fileno(out)) && !(term && strcmp(term, "dumb") == 0)) return Mode::kTerminal;
  return Mode::kPlain;
}

std::string Progress::Human(double b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) b /= 1000, u++;
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

int Progress::Add(const std::string& label, int64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  items_.push_back({label, size, 0, ""});
  RedrawLocked(true);
  return static_cast<int>(items_.size() - 1);
}

void Progress::Advance(int id, uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  items_[static_cast<size_t>(id)].done_bytes += bytes;
  RedrawLocked(false);
}

void Progress::Done(int id, const std::string& status) {
  std::lock_guard<std::mutex> l(mu_);
  auto& it = items_[static_cast<size_t>(id)];
  it.status = status;
  if (mode_ == Mode::kPlain) {
    fmt::print(out_, "{} {}: {}\n", it.label,
               it.size >= 0 ? Human(static_cast<double>(it.size))
                            : Human(static_cast<double>(it.done_bytes)),
               status);
    fflush(out_);
  }
  RedrawLocked(true);
}

void Progress::Message(const std::string& line) {
  std::lock_guard<std::mutex> l(mu_);
  if (mode_ == Mode::kQuiet) return;
  if (mode_ == Mode::kTerminal && drawn_lines_ > 0) {
    fmt::print(out_, "\x1b[{}A\x1b[J", drawn_lines_);
    drawn_lines_ = 0;
  }
  fmt::print(out_, "{}\n", line);
  fflush(out_);
  RedrawLocked(true);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> l(mu_);
  if (finished_) return;
  finished_ = true;
  RedrawLocked(true);
}

void Progress::RedrawLocked(bool force) {
  if (mode_ != Mode::kTerminal) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  std::string text;
  uint64_t total_done = 0;
  int64_t total_size = 0;
  bool total_known = true;
  for (auto& it : items_) {
    total_done += it.done_bytes;
    if (it.size < 0)
      total_known = false;
    else
      total_size += it.size;
    if (!it.status.empty()) {
      text += fmt::format("{:<24} {}\n", it.label, it.status);
      continue;
    }
    if (it.size > 0) {
      int width = 30;
      int fill = static_cast<int>(width * static_cast<double>(it.done_bytes) /
                                  static_cast<double>(it.size));
      if (fill > width) fill = width;
      text += fmt::format(
          "{:<24} [{}{}] {} / {}\n", it.label, std::string(static_cast<size_t>(fill), '='),
          std::string(static_cast<size_t>(width - fill), ' '),
          Human(static_cast<double>(it.done_bytes)), Human(static_cast<double>(it.size)));
    } else {
      text += fmt::format("{:<24} {}\n", it.label, Human(static_cast<double>(it.done_bytes)));
    }
  }
  if (!items_.empty()) {
    double rate = secs > 0 ? static_cast<double>(total_done) / secs : 0;
    text +=
        fmt::format("{:<24} {}{} at {}/s\n", "total", Human(static_cast<double>(total_done)),
                    total_known ? " / " + Human(static_cast<double>(total_size)) : "", Human(rate));
  }
  if (drawn_lines_ > 0) fmt::print(out_, "\x1b[{}A\x1b[J", drawn_lines_);
  fmt::print(out_, "{}", text);
  fflush(out_);
  drawn_lines_ = 0;
  for (char c : text) drawn_lines_ += c == '\n';
}

}  // namespace husk::engine
