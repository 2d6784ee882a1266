#include "debian/solver.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "base/strings.h"

namespace husk::debian {
namespace {

using Why = Selected::Why;

struct Request {
  std::string text;  // as the user wrote it, for errors
  std::string name;
  std::string arch;     // "" unless "name:arch"
  std::string version;  // "" unless "name=version"
  Why why = Why::kRequested;
};

Result<Request> ParseRequest(std::string_view s, const std::string& build_arch) {
  Request r;
  r.text = std::string(s);
  std::string_view rest = s;
  if (auto eq = rest.find('='); eq != std::string_view::npos) {
    r.version = std::string(rest.substr(eq + 1));
    rest = rest.substr(0, eq);
    TRY_CTX(ParseVersion(r.version), "invalid request \"{}\"", s);
  }
  if (auto colon = rest.find(':'); colon != std::string_view::npos) {
    r.arch = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (r.arch != build_arch && r.arch != "all")
      return Err("cannot install {}: this build installs only {} and all packages", s, build_arch);
  }
  if (rest.empty()) return Err("invalid request \"{}\": no package name", s);
  r.name = std::string(rest);
  return r;
}

// A package that could satisfy a relation, and whether through its Provides.
struct Candidate {
  const Package* package;
  bool via_provides;
};

std::string_view Verb(std::string_view field) {
  if (field == "Pre-Depends") return "pre-depends on";
  if (field == "Recommends") return "recommends";
  return "depends on";
}

class Solver {
 public:
  Solver(const PackageIndex& index, const SolveOptions& options) : index_(index), opt_(options) {}

  void NoteRequested(const std::string& name) { requested_names_.insert(name); }
  Status Install(const Request& req);
  Solution Finish() const;

 private:
  struct Entry {
    const Package* package;
    Why why;
    std::string needed_by;
    std::string relation;
    std::vector<size_t> deps;  // entries satisfying its groups, in field order
  };
  struct Mark {
    size_t chosen, notes;
  };

  Mark Save() const { return {chosen_.size(), notes_.size()}; }
  void Rollback(Mark m);
  bool ArchOk(const Package& q, const Relation& r) const;
  static bool ProvidesMatch(const Relation& provided, const Relation& r);
  bool Matches(const Package& q, const Relation& r) const;
  std::optional<size_t> SatisfiedBy(const Relation& r) const;
  std::vector<Candidate> Candidates(const Relation& r, std::string* why_not) const;
  std::string Describe(size_t i) const;
  Status CheckConflicts(const Package& p) const;
  Status Choose(const Package* p, Why why, std::string_view needed_by, std::string relation);
  Status SatisfyGroup(size_t owner, const Alternatives& group, std::string_view field);
  std::string ProvidersNote(const Relation& r, const std::vector<Candidate>& cands,
                            const Package& chosen, std::string_view who) const;

  const PackageIndex& index_;
  const SolveOptions& opt_;
  std::unordered_set<std::string> requested_names_;
  std::vector<Entry> chosen_;
  // Keys view the index's Package objects, which outlive the solver.
  std::unordered_map<std::string_view, size_t> by_name_;
  std::unordered_map<std::string_view, std::vector<size_t>> provided_;
  std::vector<std::string> notes_;
  std::vector<size_t> roots_;  // one entry per request, in request order
  size_t steps_ = 0;
  bool gave_up_ = false;
};

void Solver::Rollback(Mark m) {
  while (chosen_.size() > m.chosen) {
    size_t i = chosen_.size() - 1;
    const Package* p = chosen_[i].package;
    by_name_.erase(p->name);
    for (const Relation& e : p->provides) {
      auto it = provided_.find(e.name);
      if (it == provided_.end() || it->second.empty() || it->second.back() != i) continue;
      it->second.pop_back();
      if (it->second.empty()) provided_.erase(it);
    }
    chosen_.pop_back();
  }
  notes_.resize(m.notes);
}

// One architecture per build: ":any" needs a package that declares it can
// serve other architectures (dpkg's rule), "all" counts as the build's own.
bool Solver::ArchOk(const Package& q, const Relation& r) const {
  bool on_build = q.architecture == opt_.arch || q.architecture == "all";
  const std::string& qual = r.arch_qualifier;
  if (qual.empty() || qual == "native") return on_build;
  if (qual == "any")
    return on_build && (q.multi_arch == MultiArch::kForeign || q.multi_arch == MultiArch::kAllowed);
  return q.architecture == qual || (q.architecture == "all" && qual == opt_.arch);
}

// An unversioned Provides never satisfies a versioned relation (Policy 7.5).
bool Solver::ProvidesMatch(const Relation& provided, const Relation& r) {
  if (!r.op) return true;
  return provided.op && Satisfies(provided.version, *r.op, r.version);
}

bool Solver::Matches(const Package& q, const Relation& r) const {
  if (!ArchRestrictionsAllow(r, opt_.arch) || !ArchOk(q, r)) return false;
  if (q.name == r.name) return r.VersionMatches(q.version);
  for (const Relation& e : q.provides)
    if (e.name == r.name && ProvidesMatch(e, r)) return true;
  return false;
}

std::optional<size_t> Solver::SatisfiedBy(const Relation& r) const {
  if (auto it = by_name_.find(r.name); it != by_name_.end())
    if (Matches(*chosen_[it->second].package, r)) return it->second;
  if (auto it = provided_.find(r.name); it != provided_.end())
    for (size_t i : it->second)
      if (Matches(*chosen_[i].package, r)) return i;
  return std::nullopt;
}

std::string Solver::Describe(size_t i) const {
  const Entry& e = chosen_[i];
  Selected s{e.package, e.why, e.needed_by, e.relation};
  return fmt::format("{} {} ({})", e.package->name, e.package->version, s.Reason());
}

// Real packages first (highest version first), then providers: those the user
// requested, then by name. Packages whose name is already taken by another
// version are left out: one version of a name per image.
std::vector<Candidate> Solver::Candidates(const Relation& r, std::string* why_not) const {
  std::vector<Candidate> out;
  if (auto it = by_name_.find(r.name); it != by_name_.end()) {
    *why_not = ", but " + Describe(it->second) + " is already chosen";
  } else {
    std::vector<const Package*> real = index_.Lookup(r.name, opt_.arch);
    for (const Package* p : real)
      if (ArchOk(*p, r) && r.VersionMatches(p->version)) out.push_back({p, false});
    if (out.empty() && !real.empty()) {
      const Package& top = *real.front();
      *why_not = ArchOk(top, r) ? fmt::format(", which is not available (the index has {} {})",
                                              top.name, top.version)
                                : fmt::format(", which is not available ({} is Multi-Arch: {})",
                                              top.name, MultiArchString(top.multi_arch));
    }
  }
  std::vector<Candidate> providers;
  for (const Provider& pr : index_.Providers(r.name, opt_.arch)) {
    if (!ArchOk(*pr.package, r) || !ProvidesMatch(*pr.provides, r)) continue;
    if (by_name_.count(pr.package->name)) continue;
    if (!providers.empty() && providers.back().package == pr.package) continue;
    providers.push_back({pr.package, true});
  }
  std::stable_partition(providers.begin(), providers.end(), [&](const Candidate& c) {
    return requested_names_.count(c.package->name) > 0;
  });
  out.insert(out.end(), providers.begin(), providers.end());
  if (out.empty() && why_not->empty()) *why_not = ", which is not available";
  return out;
}

std::string Solver::ProvidersNote(const Relation& r, const std::vector<Candidate>& cands,
                                  const Package& chosen, std::string_view who) const {
  std::vector<std::string> names;
  for (const Candidate& c : cands)
    if (c.via_provides) names.push_back(c.package->name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() < 2) return "";
  std::string_view how = requested_names_.count(chosen.name) ? "which was requested"
                                                             : "the first by name that installs";
  return fmt::format("{} ({}): provided by {}; chose {}, {}", r.name, who,
                     strings::Join(names, ", "), chosen.name, how);
}

Status Solver::CheckConflicts(const Package& p) const {
  // Calls fn(relation, field) for every Conflicts and Breaks entry of q.
  auto refusals = [](const Package& q, auto&& fn) {
    for (const Alternatives& g : q.conflicts)
      for (const Relation& r : g) fn(r, std::string_view("Conflicts"));
    for (const Alternatives& g : q.breaks)
      for (const Relation& r : g) fn(r, std::string_view("Breaks"));
  };
  std::optional<Error> err;
  // What p refuses among the chosen: found by name or by what they provide.
  refusals(p, [&](const Relation& r, std::string_view field) {
    auto check = [&](size_t i) {
      const Package& q = *chosen_[i].package;
      if (!err && q.name != p.name && Matches(q, r))
        err = Err("{} {}, but {} is already chosen",
                  field == "Breaks" ? "breaks" : "conflicts with", r.String(), Describe(i));
    };
    if (auto it = by_name_.find(r.name); it != by_name_.end()) check(it->second);
    if (auto it = provided_.find(r.name); it != provided_.end())
      for (size_t i : it->second) check(i);
  });
  if (err) return *err;
  // What the chosen refuse: p is new, so every chosen package is asked.
  for (size_t i = 0; i < chosen_.size() && !err; i++) {
    const Package& q = *chosen_[i].package;
    refusals(q, [&](const Relation& r, std::string_view field) {
      if (!err && q.name != p.name && Matches(p, r))
        err = Err("{} {}: {} {}: {}", field == "Breaks" ? "is broken by" : "conflicts with",
                  Describe(i), q.name, field, r.String());
    });
  }
  if (err) return *err;
  return Ok();
}

// Errors are fragments that read on from the package's name ("depends on
// x, which is not available"), so the caller can build the chain.
Status Solver::Choose(const Package* p, Why why, std::string_view needed_by, std::string relation) {
  if (++steps_ > opt_.max_steps) {
    gave_up_ = true;
    return Err("gave up after {} steps", opt_.max_steps);
  }
  TRY(CheckConflicts(*p));
  size_t self = chosen_.size();
  chosen_.push_back(Entry{p, why, std::string(needed_by), std::move(relation), {}});
  by_name_.emplace(p->name, self);
  for (const Relation& e : p->provides) {
    auto& v = provided_[e.name];
    if (v.empty() || v.back() != self) v.push_back(self);
  }
  for (const Alternatives& g : p->pre_depends) TRY(SatisfyGroup(self, g, "Pre-Depends"));
  for (const Alternatives& g : p->depends) TRY(SatisfyGroup(self, g, "Depends"));
  if (opt_.include_recommends) {
    for (const Alternatives& g : p->recommends) {
      Mark m = Save();
      Status s = SatisfyGroup(self, g, "Recommends");
      if (s.ok()) continue;
      if (gave_up_) return s;
      Rollback(m);
      notes_.push_back(fmt::format("skipped {}'s Recommends {}: {} {}", p->name,
                                   FormatAlternatives(g), p->name, s.error().msg));
    }
  }
  return Ok();
}

Status Solver::SatisfyGroup(size_t owner, const Alternatives& group, std::string_view field) {
  std::vector<const Relation*> alts;
  for (const Relation& r : group)
    if (ArchRestrictionsAllow(r, opt_.arch)) alts.push_back(&r);
  if (alts.empty()) return Ok();  // the whole group is for other architectures
  for (const Relation* r : alts) {
    if (auto i = SatisfiedBy(*r)) {
      chosen_[owner].deps.push_back(*i);
      return Ok();
    }
  }
  // An alternative the user asked for goes before those written earlier, as
  // apt takes one already marked for install: asking for install-info keeps
  // readline-common's "dpkg | install-info" from pulling in dpkg and tar.
  std::stable_partition(alts.begin(), alts.end(),
                        [&](const Relation* r) { return requested_names_.count(r->name) > 0; });
  const Package* owner_pkg = chosen_[owner].package;  // chosen_ may grow below
  std::string relation = fmt::format("{}: {}", field, FormatAlternatives(group));
  std::vector<std::string> failures;
  for (const Relation* r : alts) {
    std::string why_not;
    std::vector<Candidate> cands = Candidates(*r, &why_not);
    if (cands.empty()) {
      failures.push_back(r->String() + why_not);
      continue;
    }
    std::string first;
    for (const Candidate& c : cands) {
      Mark m = Save();
      Status s = Choose(c.package, Why::kDependency, owner_pkg->name, relation);
      if (s.ok()) {
        chosen_[owner].deps.push_back(m.chosen);
        if (c.via_provides) {
          std::string note = ProvidersNote(*r, cands, *c.package, "needed by " + owner_pkg->name);
          if (!note.empty()) notes_.push_back(std::move(note));
        }
        return Ok();
      }
      if (gave_up_) return s;
      Rollback(m);
      if (first.empty())
        first = r->String() + (c.via_provides ? ", provided by " + c.package->name : "") +
                ", which " + s.error().msg;
    }
    failures.push_back(std::move(first));
  }
  if (failures.size() == 1) return Err("{} {}", Verb(field), failures[0]);
  return Err("{} {}: {}", Verb(field), FormatAlternatives(group), strings::Join(failures, "; "));
}

Status Solver::Install(const Request& req) {
  auto fail = [&](const Error& e) {
    if (gave_up_)
      return Err("cannot install {}: dependency search gave up after {} steps", req.text,
                 opt_.max_steps);
    return Err("cannot install {}: {} {}", req.text, req.name, e.msg);
  };
  if (auto it = by_name_.find(req.name); it != by_name_.end()) {
    Entry& e = chosen_[it->second];
    bool same = (req.version.empty() || CompareVersions(e.package->version, req.version) == 0) &&
                (req.arch.empty() || e.package->architecture == req.arch);
    if (!same)
      return Err("cannot install {}: {} is already chosen", req.text, Describe(it->second));
    if (e.why == Why::kDependency) {
      e.why = req.why;
      e.needed_by.clear();
      e.relation.clear();
    }
    roots_.push_back(it->second);
    return Ok();
  }
  std::vector<const Package*> real = index_.Lookup(req.name, opt_.arch);
  std::vector<const Package*> fits;
  for (const Package* p : real)
    if ((req.arch.empty() || p->architecture == req.arch) &&
        (req.version.empty() || CompareVersions(p->version, req.version) == 0))
      fits.push_back(p);
  std::vector<Candidate> cands;
  for (const Package* p : fits) cands.push_back({p, false});
  Relation virt{req.name, "", std::nullopt, "", {}};
  if (real.empty() && req.version.empty() && req.arch.empty()) {
    if (auto i = SatisfiedBy(virt)) {
      roots_.push_back(*i);
      return Ok();
    }
    std::string ignored;
    cands = Candidates(virt, &ignored);
  }
  if (cands.empty()) {
    if (real.empty()) return Err("cannot install {}: {} is not available", req.text, req.name);
    return Err("cannot install {}: not available (the index has {} {} {})", req.text,
               real.front()->name, real.front()->version, real.front()->architecture);
  }
  std::optional<Error> first;
  for (const Candidate& c : cands) {
    Mark m = Save();
    Status s = Choose(c.package, req.why, "", "");
    if (s.ok()) {
      roots_.push_back(m.chosen);
      if (c.via_provides) {
        std::string note = ProvidersNote(virt, cands, *c.package, "requested");
        if (!note.empty()) notes_.push_back(std::move(note));
      }
      return Ok();
    }
    if (gave_up_) return fail(s.error());
    Rollback(m);
    if (!first)
      first =
          c.via_provides ? Err("(provided by {}) {}", c.package->name, s.error().msg) : s.error();
  }
  return fail(*first);
}

Solution Solver::Finish() const {
  Solution out;
  std::vector<bool> seen(chosen_.size());
  // Post-order: a package is emitted after everything it depends on; in a
  // cycle the package visited first comes last.
  auto visit = [&](auto&& self, size_t i) -> void {
    if (seen[i]) return;
    seen[i] = true;
    for (size_t d : chosen_[i].deps) self(self, d);
    const Entry& e = chosen_[i];
    out.packages.push_back(Selected{e.package, e.why, e.needed_by, e.relation});
  };
  for (size_t r : roots_) visit(visit, r);
  out.notes = notes_;
  return out;
}

}  // namespace

std::string Selected::Reason() const {
  switch (why) {
    case Why::kRequested:
      return "requested";
    case Why::kEssential:
      return "essential";
    case Why::kDependency:
      return fmt::format("needed by {} ({})", needed_by, relation);
  }
  return "";
}

Result<Solution> Resolve(const PackageIndex& index, const std::vector<std::string>& requested,
                         const SolveOptions& options) {
  std::vector<Request> requests;
  // Essential packages go first: everything else installs on top of them, as
  // with debootstrap, and dependencies on them are then already met.
  if (options.essential_pulled_in) {
    for (const Package* p : index.Essential(options.arch)) {
      if (!requests.empty() && requests.back().name == p->name) continue;
      requests.push_back(Request{p->name, p->name, "", "", Why::kEssential});
    }
  }
  for (const std::string& s : requested) requests.push_back(TRY(ParseRequest(s, options.arch)));
  Solver solver(index, options);
  for (const Request& r : requests) solver.NoteRequested(r.name);
  for (const Request& r : requests) TRY(solver.Install(r));
  return solver.Finish();
}

}  // namespace husk::debian
