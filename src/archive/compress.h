// Push-side counterparts of decompress.h: byte sinks, a hashing tee, and
// deterministic compressors for writing layer blobs.
//
// Determinism is what makes a rebuilt layer keep its digest, so every knob is
// fixed: gzip is isa-l level 1 with a constant 10-byte header (mtime 0, no
// name, OS 255), zstd is level 3, single-threaded, with a content checksum and
// no content size. The output depends only on the input bytes and the library
// versions (a different isa-l or libzstd release may choose other matches).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "archive/decompress.h"
#include "base/result.h"
#include "digest/digest.h"

namespace husk::archive {

// A sink of bytes. Finish flushes what the writer holds and ends its own
// stream; it does not finish a downstream writer.
class Writer {
 public:
  virtual ~Writer() = default;
  virtual Status Write(const void* data, size_t n) = 0;
  virtual Status Finish() { return Ok(); }
};

// Writes everything to an fd it does not own (short writes and EINTR retried).
class FdWriter final : public Writer {
 public:
  explicit FdWriter(int fd, std::string name = "output") : fd_(fd), name_(std::move(name)) {}
  Status Write(const void* data, size_t n) override;

 private:
  int fd_;
  std::string name_;
};

// Appends to a string (tests, small blobs).
class StringWriter final : public Writer {
 public:
  Status Write(const void* data, size_t n) override {
    out_.append(static_cast<const char*>(data), n);
    return Ok();
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Hashes and counts the bytes on their way to `dst`.
class DigestingWriter final : public Writer {
 public:
  explicit DigestingWriter(Writer& dst) : dst_(dst) {}
  Status Write(const void* data, size_t n) override {
    hash_.Update(data, n);
    return dst_.Write(data, n);
  }
  uint64_t bytes() const { return hash_.bytes(); }
  Digest Final() { return hash_.Final(); }

 private:
  Writer& dst_;
  Sha256 hash_;
};

// Compresses into `dst` (which must outlive it), emitting output in 1 MiB
// writes. kNone only buffers. Finish ends the compressed stream; writing
// after Finish is an error.
Result<std::unique_ptr<Writer>> NewCompressWriter(Compression c, Writer& dst);

}  // namespace husk::archive
