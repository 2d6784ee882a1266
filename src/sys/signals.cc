#include "sys/signals.h"

#include <signal.h>

#include <cctype>

#include "base/strings.h"

namespace husk::sys {
namespace {

struct SignalEntry {
  const char* name;  // without "SIG"
  int number;
};

// Canonical names first: SignalName returns the first match, so aliases
// (IOT, CLD, POLL) come after the name the kernel headers prefer.
constexpr SignalEntry kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"BUS", SIGBUS},   {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
    {"SYS", SIGSYS},       {"IOT", SIGIOT},       {"CLD", SIGCHLD},  {"POLL", SIGPOLL},
};
constexpr size_t kCanonicalCount = sizeof(kSignals) / sizeof(kSignals[0]) - 3;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<int> ParseSignal(std::string_view s) {
  auto invalid = [&] { return Err("invalid signal \"{}\"", s); };
  if (s.empty()) return invalid();
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    auto n = strings::ParseInt(s);
    if (!n || *n < 0 || *n > SIGRTMAX) return invalid();
    return static_cast<int>(*n);
  }
  std::string name = Upper(s);
  std::string_view v = name;
  if (strings::StartsWith(v, "SIG")) v.remove_prefix(3);
  for (const auto& e : kSignals) {
    if (v == e.name) return e.number;
  }
  // Real-time signals are relative to the C library's SIGRTMIN (34 with glibc,
  // which keeps 32 and 33 for itself), as kill(1) and bash count them.
  for (bool min : {true, false}) {
    std::string_view prefix = min ? "RTMIN" : "RTMAX";
    if (!strings::StartsWith(v, prefix)) continue;
    std::string_view rest = v.substr(prefix.size());
    int base = min ? SIGRTMIN : SIGRTMAX;
    if (rest.empty()) return base;
    if (rest[0] != (min ? '+' : '-')) return invalid();
    rest.remove_prefix(1);
    if (rest.empty() || !std::isdigit(static_cast<unsigned char>(rest[0]))) return invalid();
    auto off = strings::ParseInt(rest);
    if (!off || *off > SIGRTMAX - SIGRTMIN) return invalid();
    return static_cast<int>(min ? base + *off : base - *off);
  }
  return invalid();
}

std::string SignalName(int sig) {
  for (size_t i = 0; i < kCanonicalCount; ++i) {
    if (kSignals[i].number == sig) return std::string("SIG") + kSignals[i].name;
  }
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    // Lower half counts up from RTMIN, upper half down from RTMAX (bash's kill -l).
    int mid = (SIGRTMIN + SIGRTMAX) / 2;
    if (sig == SIGRTMIN) return "SIGRTMIN";
    if (sig == SIGRTMAX) return "SIGRTMAX";
    if (sig <= mid) return fmt::format("SIGRTMIN+{}", sig - SIGRTMIN);
    return fmt::format("SIGRTMAX-{}", SIGRTMAX - sig);
  }
  return std::to_string(sig);
}

const std::vector<std::string>& KnownSignalNames() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (size_t i = 0; i < kCanonicalCount; ++i)
      v->push_back(std::string("SIG") + kSignals[i].name);
    return v;
  }();
  return *names;
}

}  // namespace husk::sys
