// Content digests as OCI writes them ("sha256:<64 lowercase hex>") and a
// streaming SHA-256 to compute them while data flows (download, unpack, write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace husk {

// A validated digest. Only sha256 is accepted: it is what every registry and
// the image spec require; sha512 blobs are refused with a clear error.
class Digest {
 public:
  Digest() = default;
  // Parses "sha256:<64 hex>"; the error names the bad string.
  static Result<Digest> Parse(std::string_view s);
  // From a 64-char lowercase hex string (e.g. a SHA-256 result).
  static Digest FromHex(std::string_view hex);

  const std::string& hex() const { return hex_; }
  std::string algorithm() const { return "sha256"; }
  std::string str() const { return empty() ? std::string() : "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }
  // The first 12 hex digits, as `images` shows IDs.
  std::string short_hex() const { return hex_.substr(0, 12); }

  friend bool operator==(const Digest& a, const Digest& b) { return a.hex_ == b.hex_; }
  friend bool operator<(const Digest& a, const Digest& b) { return a.hex_ < b.hex_; }

 private:
  std::string hex_;
};

// Streaming SHA-256. Cheap to create; Update as data arrives, Final once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // The digest of everything so far; the hasher is reset afterwards.
  Digest Final();
  uint64_t bytes() const { return bytes_; }

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  uint64_t bytes_ = 0;
};

Digest Sha256Of(std::string_view data);
// SHA-256 of a whole file, read in large chunks.
Result<Digest> Sha256File(const std::string& path);

}  // namespace husk
