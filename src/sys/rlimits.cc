#include "sys/rlimits.h"

#include <sys/resource.h>

namespace husk::sys {
namespace {

struct RlimitEntry {
  const char* name;
  int resource;
};

constexpr RlimitEntry kRlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

}  // namespace

Result<int> RlimitFromName(std::string_view name) {
  for (const auto& e : kRlimits) {
    if (name == e.name) return e.resource;
  }
  return Err("unknown rlimit type \"{}\"", name);
}

std::string RlimitName(int resource) {
  for (const auto& e : kRlimits) {
    if (e.resource == resource) return e.name;
  }
  return {};
}

const std::vector<std::string>& KnownRlimits() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& e : kRlimits) v->push_back(e.name);
    return v;
  }();
  return *names;
}

}  // namespace husk::sys
