// Release and InRelease files: what a suite is, which architectures and
// components it has, and the SHA-256 and size of every index in it. The
// repository client fetches dists/<suite>/InRelease, has gpgv check the
// signature, then downloads e.g. main/binary-amd64/Packages.xz (by hash when
// the archive offers it) and verifies it against this list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace husk::debian {

struct ReleaseEntry {
  std::string path;  // relative to dists/<suite>/, e.g. "main/binary-amd64/Packages.xz"
  uint64_t size = 0;
  std::string sha256;  // lowercase hex
};

struct Release {
  std::string origin;
  std::string label;
  std::string suite;     // "stable", "oldstable", "bookworm-security"
  std::string codename;  // "bookworm"
  std::string version;
  std::string date;         // as written: "Sat, 10 Aug 2024 09:15:40 UTC"
  int64_t date_unix = 0;    // the same, in seconds since the epoch
  std::string valid_until;  // "" when the archive sets none (main suites don't)
  std::optional<int64_t> valid_until_unix;
  std::vector<std::string> architectures;
  std::vector<std::string> components;
  bool acquire_by_hash = false;
  std::vector<ReleaseEntry> files;  // the SHA256 list, in file order

  const ReleaseEntry* Find(std::string_view path) const;
  // The Packages index of a component and architecture, preferring the
  // compressed forms (.xz, then .gz) that are cheaper to download.
  const ReleaseEntry* FindPackages(std::string_view component, std::string_view arch) const;
  // The path to download an entry from: its by-hash name when the archive sets
  // Acquire-By-Hash (immune to the index changing mid-update), else its own.
  std::string FetchPath(const ReleaseEntry& e) const;
  // Fails once `now` (seconds since the epoch) is past Valid-Until: a stale
  // Release could be replayed to hold back security updates.
  Status CheckValidUntil(int64_t now) const;
};

// "main/binary-amd64/by-hash/SHA256/<hash>" for "main/binary-amd64/Packages.xz".
std::string ByHashPath(const ReleaseEntry& e);

// Checks downloaded bytes against an entry: size first, then SHA-256. The
// error names the path and both values.
Status VerifyEntry(const ReleaseEntry& e, std::string_view data);

// Parses a Release file, or an InRelease file's signed text (see StripClearsign).
// Suite or Codename, Date and SHA256 are required; errors carry the line.
Result<Release> ParseRelease(std::string_view text);

// The signed text of an OpenPGP cleartext-signed message (an InRelease file),
// dash-escaping undone and every line ending in '\n', so the result equals the
// detached Release file. Anything but blank lines around the armor, a second
// signed message or a missing signature block is an error: apt treats extra
// content as an attack. The signature itself is gpgv's to check.
Result<std::string> StripClearsign(std::string_view inrelease);

// RFC 2822 dates as Release files write them ("Sat, 10 Aug 2024 09:15:40 UTC";
// the weekday optional, "UTC", "GMT", "Z" or a numeric offset) to Unix seconds.
Result<int64_t> ParseReleaseDate(std::string_view s);

}  // namespace husk::debian
