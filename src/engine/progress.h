// Transfer progress for pull and push: on a terminal, one redrawn line per
// blob plus a total with rates; otherwise one plain line per finished blob;
// nothing with quiet. Safe to call from the download threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

namespace husk::engine {

class Progress {
 public:
  enum class Mode { kQuiet, kPlain, kTerminal };
  // kTerminal when out is a tty and TERM is not "dumb", else kPlain (or kQuiet).
  static Mode DetectMode(FILE* out, bool quiet);
  Progress(FILE* out, Mode mode) : out_(out), mode_(mode) {}
  ~Progress() { Finish(); }

  // Registers a transfer; returns its handle. size < 0 when unknown.
  int Add(const std::string& label, int64_t size);
  void Advance(int id, uint64_t bytes);
  // Marks a transfer as done with a word ("done", "exists", "unpacked", ...).
  void Done(int id, const std::string& status);
  // A line above the progress display ("Writing manifest", "Copying config").
  void Message(const std::string& line);
  void Finish();

 private:
  struct Item {
    std::string label;
    int64_t size = -1;
    uint64_t done_bytes = 0;
    std::string status;  // empty while in progress
  };
  void RedrawLocked(bool force);
  static std::string Human(double bytes);

  FILE* out_;
  Mode mode_;
  std::mutex mu_;
  std::vector<Item> items_;
  int drawn_lines_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace husk::engine
