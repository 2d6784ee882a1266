// Package relationship fields (Depends, Pre-Depends, Recommends, Conflicts,
// Breaks, Provides, and the Build-Depends family):
//
//   libc6 (>= 2.34), python3:any, default-mta | mail-transport-agent,
//   gcc [amd64 !i386] <!nocheck>
//
// Commas separate groups that must all hold; '|' separates alternatives of
// which one suffices. Build profiles (<...>) are dropped: husk installs binary
// packages, whose relations never carry them except as leftovers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "debian/version.h"

namespace husk::debian {

struct Relation {
  std::string name;
  // After ':' in "name:qualifier": "any", "native", an architecture, or "".
  std::string arch_qualifier;
  std::optional<Op> op;  // absent: any version
  std::string version;   // set when op is
  // As written, negations keep their '!': {"amd64", "!i386"}.
  std::vector<std::string> arch_restrictions;

  // "name:qualifier (op version) [archs]", as a user would write it.
  std::string String() const;
  // Whether the version constraint admits `v` (true when unversioned).
  bool VersionMatches(std::string_view v) const { return !op || Satisfies(v, *op, version); }
};

// A comma-separated group: its alternatives in the order written.
using Alternatives = std::vector<Relation>;
using RelationList = std::vector<Alternatives>;

// Parses a relationship field. Empty groups (", ,") are an error, as in dpkg;
// an empty field is an empty list. Errors name the offending piece.
Result<RelationList> ParseRelations(std::string_view field);

// Parses a Provides field: no alternatives, and only "=" may version an entry.
Result<std::vector<Relation>> ParseProvides(std::string_view field);

// "a (>= 1) | b, c": the field written back.
std::string FormatRelations(const RelationList& list);
std::string FormatAlternatives(const Alternatives& alts);

// Whether a relation applies on `arch` given its [restrictions]. Understands
// "any", "linux-any", "any-<cpu>", "linux-<cpu>" and plain names, each optionally negated.
bool ArchRestrictionsAllow(const Relation& r, std::string_view arch);

}  // namespace husk::debian
