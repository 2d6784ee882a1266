// Streaming decompression of layer blobs, with the format detected from the
// first bytes as registries do not say reliably (a layer labelled "+gzip" may
// be plain tar, and docker-archive layers carry no media type at all).
//
//   gzip  1f 8b              isa-l (several times zlib's speed); concatenated
//                            members are read one after another as `gzip -d`
//                            does, and every member's CRC-32 and length is checked
//   zstd  28 b5 2f fd        libzstd streaming; multiple frames as zstd -d
//   xz    fd 37 7a 58 5a 00  libarchive's xz filter (liblzma)
//   anything else            passed through unchanged (a plain tar)
//
// Everything is a pull Reader so a chain (fd -> digest -> decompress -> tar
// parser) runs in one thread with no intermediate copies beyond one buffer per
// stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "digest/digest.h"

namespace husk::archive {

// A source of bytes. Read returns up to n bytes (n > 0) and 0 only at the end
// of the stream; short reads are normal.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
};

// Reads a file descriptor it does not own. `name` appears in errors.
class FdReader final : public Reader {
 public:
  explicit FdReader(int fd, std::string name = "input") : fd_(fd), name_(std::move(name)) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  int fd_;
  std::string name_;
};

// Reads a string it does not own (tests, small in-memory blobs).
class StringReader final : public Reader {
 public:
  explicit StringReader(std::string_view data) : data_(data) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  std::string_view data_;
};

// Passes bytes through while hashing them, so a pulled blob's digest is
// checked in the same pass that unpacks it.
class DigestingReader final : public Reader {
 public:
  explicit DigestingReader(Reader& src) : src_(src) {}
  Result<size_t> Read(void* buf, size_t n) override;
  uint64_t bytes() const { return hash_.bytes(); }
  // The digest of everything read so far.
  Digest Final() { return hash_.Final(); }

 private:
  Reader& src_;
  Sha256 hash_;
};

enum class Compression { kNone, kGzip, kZstd, kXz };

// "none", "gzip", "zstd", "xz".
std::string_view CompressionName(Compression c);
// The format whose magic starts `head`; kNone when none matches (xz needs 6 bytes).
Compression DetectCompression(std::string_view head);

// Decompresses what it reads from `src`, which must outlive it. The format is
// detected on the first Read (or Detect). Corrupt or truncated input is an
// error naming the format: "gzip stream truncated", "zstd: Corrupted block
// detected", "gzip member 2: CRC-32 mismatch".
class DecompressReader final : public Reader {
 public:
  explicit DecompressReader(Reader& src);
  ~DecompressReader() override;
  DecompressReader(const DecompressReader&) = delete;
  DecompressReader& operator=(const DecompressReader&) = delete;

  // Reads the first bytes of src and picks the decoder; idempotent.
  Result<Compression> Detect();
  Result<size_t> Read(void* buf, size_t n) override;

  class Decoder;  // one per format, in decompress.cc

 private:
  Reader& src_;
  std::unique_ptr<Decoder> decoder_;
  Compression compression_ = Compression::kNone;
};

}  // namespace husk::archive
