// Internal to the archive module: libarchive's tar parser (ustar, pax, GNU
// long names) pulling from a Reader, hashing every byte it is given, so an
// unpack computes the layer's diff_id in the same pass.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "archive/decompress.h"
#include "base/result.h"
#include "digest/digest.h"

struct archive;
struct archive_entry;

namespace husk::archive::internal {

class TarReader {
 public:
  explicit TarReader(Reader& src);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  Status Open();
  // The next entry (valid until the next call), or nullptr after the last.
  Result<archive_entry*> Next();
  // Writes the current entry's data to fd at the offsets the archive gives;
  // `size` is the entry's size (a sparse tail is made with ftruncate).
  Status CopyData(int fd, int64_t size);
  // Reads the current entry's data into a string of at most `max` bytes.
  Result<std::string> ReadData(int64_t max);
  // Reads whatever follows the end-of-archive marker (zero blocks, padding)
  // so that the digest covers the whole stream.
  Status Drain();

  uint64_t bytes() const { return hash_.bytes(); }
  Digest Final() { return hash_.Final(); }

 private:
  static long Pull(struct archive* a, void* self, const void** buf);
  Error Failure(std::string_view what);

  Reader& src_;
  struct archive* a_ = nullptr;
  std::unique_ptr<char[]> buf_;
  Sha256 hash_;
  std::optional<Error> src_err_;
  bool src_eof_ = false;
  bool empty_ = false;
};

// The entry's path, link target and symlink target as stored: raw bytes, no
// charset conversion (libarchive only warns when it cannot convert).
std::string EntryPath(archive_entry* e);
std::string EntryHardlink(archive_entry* e);
std::string EntrySymlink(archive_entry* e);

}  // namespace husk::archive::internal
