// Debian version numbers ([epoch:]upstream[-revision]) ordered exactly as dpkg
// orders them (lib/dpkg/version.c), and the relation operators of Depends and
// friends. The solver compares millions of pairs, so CompareVersions works on
// the raw strings without allocating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace husk::debian {

struct Version {
  uint32_t epoch = 0;
  std::string upstream;
  std::string revision;  // "" when the version has no '-'

  // The canonical text: the epoch only when non-zero, the revision only when present.
  std::string String() const;
};

// Parses and validates as dpkg does, including what dpkg only warns about
// (upstream not starting with a digit, characters outside the allowed sets).
// The error names the string and the problem.
Result<Version> ParseVersion(std::string_view s);

// dpkg's ordering: <0, 0 or >0 (always -1, 0 or 1). The epoch is compared as a
// number, then upstream and revision with verrevcmp: '~' sorts before
// everything (even the end), letters before other characters, digit runs as
// numbers. A missing revision compares equal to "0", as in dpkg. Strings are
// split as dpkg splits them (epoch at the first ':', revision at the last '-')
// but not validated; a non-numeric epoch counts as 0.
int CompareVersions(std::string_view a, std::string_view b);
int CompareVersions(const Version& a, const Version& b);

// The operators of a versioned relation. The deprecated "<" and ">" parse as
// kLessEq and kGreaterEq, which is what dpkg has always taken them to mean.
enum class Op : uint8_t { kLess, kLessEq, kEq, kGreaterEq, kGreater };

Result<Op> ParseOp(std::string_view s);
// "<<", "<=", "=", ">=", ">>".
std::string_view OpString(Op op);
// True when `version op ref`, e.g. Satisfies("1.2-1", Op::kGreaterEq, "1.0").
bool Satisfies(std::string_view version, Op op, std::string_view ref);

}  // namespace husk::debian
