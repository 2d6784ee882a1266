// Picks the packages an image needs: the requested ones and, transitively,
// what their Pre-Depends and Depends (and optionally Recommends) require,
// for one architecture.
//
// The search is depth-first: a package is chosen, then each of its
// dependency groups is satisfied in field order. A group already satisfied
// by a chosen package costs nothing; otherwise its alternatives are tried in
// the order written (those named by a request first, as apt prefers one
// marked for install), and each alternative's candidates (the real package,
// highest version first, then the packages Providing it) are installed with
// their whole subtree. When a subtree fails, everything it chose is undone
// and the next candidate is tried, so a failing first alternative falls back
// to the second. Choices made for earlier groups are not revisited when a
// later group fails: with Debian's archives that never matters, and it keeps
// the result, and the error, predictable.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "base/result.h"
#include "debian/index.h"

namespace husk::debian {

struct SolveOptions {
  std::string arch = "amd64";
  bool include_recommends = false;  // failing Recommends are skipped with a note
  // Adds every Essential: yes package as if requested (what debootstrap does);
  // off by default: a minimal image has no shell unless asked for one.
  bool essential_pulled_in = false;
  // Guards against pathological alternative nests; each package tried is a step.
  size_t max_steps = 200000;
};

struct Selected {
  enum class Why { kRequested, kEssential, kDependency };
  const Package* package = nullptr;
  Why why = Why::kDependency;
  std::string needed_by;  // for kDependency: the package that pulled it in
  std::string relation;   // for kDependency: e.g. "Depends: libc6 (>= 2.34)"

  // "requested", "essential" or "needed by python3.11 (Depends: libc6 (>= 2.34))".
  std::string Reason() const;
};

// Points into the PackageIndex it was resolved from, which must outlive it.
struct Solution {
  // Dependencies before dependents (cycles broken by first visit), starting
  // from the requests in the order given; the same input gives the same order.
  std::vector<Selected> packages;
  // Choices a user may want to know about: a virtual package with several
  // providers, a Recommends that could not be met.
  std::vector<std::string> notes;
};

// `requested` holds names, optionally "name=version" (exactly that version)
// or "name:arch" (only the build architecture or "all" make sense), or the
// name of a virtual package. An unsatisfiable request fails with the chain
// that led to the failing relation:
//   cannot install python3: python3 depends on python3.11 (>= 3.11.2-1~), which
//   depends on libpython3.11-stdlib (= 3.11.2-6), which is not available
Result<Solution> Resolve(const PackageIndex& index, const std::vector<std::string>& requested,
                         const SolveOptions& options);

}  // namespace husk::debian
