#include "archive/decompress.h"

#include <archive.h>
#include <archive_entry.h>
#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace husk::archive {

Result<size_t> FdReader::Read(void* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd_, buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno != EINTR) return ErrnoErr("read {}", name_);
  }
}

Result<size_t> StringReader::Read(void* buf, size_t n) {
  size_t k = std::min(n, data_.size());
  std::memcpy(buf, data_.data(), k);
  data_.remove_prefix(k);
  return k;
}

Result<size_t> DigestingReader::Read(void* buf, size_t n) {
  size_t k = TRY(src_.Read(buf, n));
  hash_.Update(buf, k);
  return k;
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kXz:
      return "xz";
  }
  return "unknown";
}

Compression DetectCompression(std::string_view head) {
  auto starts = [&](std::string_view magic) { return head.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b")) return Compression::kGzip;
  if (starts("\x28\xb5\x2f\xfd")) return Compression::kZstd;
  if (starts(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6))) return Compression::kXz;
  return Compression::kNone;
}

namespace {

// Compressed input is read in large chunks: one syscall or one upstream
// decoder call per MiB keeps the per-call overhead out of the profile.
constexpr size_t kInputBuffer = 1 << 20;

// The compressed bytes read from src and not yet consumed by a decoder.
struct Input {
  explicit Input(Reader& s) : src(s), buf(new uint8_t[kInputBuffer]) {}

  size_t avail() const { return len - pos; }
  // Makes bytes available when none are; false at the end of src.
  Result<bool> Fill() {
    if (pos < len) return true;
    if (eof) return false;
    pos = len = 0;
    len = TRY(src.Read(buf.get(), kInputBuffer));
    if (len == 0) eof = true;
    return len > 0;
  }
  // Buffers at least k bytes unless src ends first (for magic detection).
  Status Peek(size_t k) {
    while (avail() < k && !eof) {
      if (pos > 0) {
        std::memmove(buf.get(), buf.get() + pos, avail());
        len -= pos;
        pos = 0;
      }
      size_t r = TRY(src.Read(buf.get() + len, kInputBuffer - len));
      if (r == 0) eof = true;
      len += r;
    }
    return Ok();
  }

  Reader& src;
  std::unique_ptr<uint8_t[]> buf;
  size_t pos = 0;
  size_t len = 0;
  bool eof = false;
};

}  // namespace

class DecompressReader::Decoder {
 public:
  explicit Decoder(Reader& src) : in_(src) {}
  virtual ~Decoder() = default;
  virtual Result<size_t> Read(uint8_t* out, size_t n) = 0;
  Input& input() { return in_; }

 protected:
  Input in_;
};

namespace {

class PlainDecoder final : public DecompressReader::Decoder {
 public:
  using Decoder::Decoder;
  Result<size_t> Read(uint8_t* out, size_t n) override {
    if (in_.avail() == 0) return in_.src.Read(out, n);
    size_t k = std::min(n, in_.avail());
    std::memcpy(out, in_.buf.get() + in_.pos, k);
    in_.pos += k;
    return k;
  }
};

std::string_view IsalError(int r) {
  switch (r) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid back-reference distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "CRC-32 or length mismatch";
    case ISAL_NEED_DICT:
      return "needs a preset dictionary";
  }
  return "corrupt data";
}

class GzipDecoder final : public DecompressReader::Decoder {
 public:
  explicit GzipDecoder(Reader& src) : Decoder(src), st_(new inflate_state) {}

  Result<size_t> Read(uint8_t* out, size_t n) override {
    n = std::min<size_t>(n, UINT32_MAX);
    for (;;) {
      if (!in_member_) {
        if (done_) return 0;
        TRY(NextMember());
        continue;
      }
      if (!TRY(in_.Fill())) return Err("gzip stream truncated");
      st_->next_in = in_.buf.get() + in_.pos;
      st_->avail_in = static_cast<uint32_t>(in_.avail());
      st_->next_out = out;
      st_->avail_out = static_cast<uint32_t>(n);
      int r = isal_inflate(st_.get());
      in_.pos = in_.len - st_->avail_in;
      if (r != ISAL_DECOMP_OK) {
        if (member_ == 1) return Err("gzip: {}", IsalError(r));
        return Err("gzip member {}: {}", member_, IsalError(r));
      }
      // The trailer has been checked once the state says FINISH; isa-l hands
      // back the input bytes past it, which may start the next member.
      if (st_->block_state == ISAL_BLOCK_FINISH) in_member_ = false;
      size_t produced = n - st_->avail_out;
      if (produced > 0) return produced;
    }
  }

 private:
  // Between members, as gzip -d: another member, zero padding up to the end
  // (tape blocking), or the end. Anything else is an error rather than
  // ignored: silently dropping bytes of a blob would hide a broken upload.
  Status NextMember() {
    for (;;) {
      if (!TRY(in_.Fill())) {
        done_ = true;
        return Ok();
      }
      uint8_t b = in_.buf[in_.pos];
      if (b == 0) {
        while (in_.pos < in_.len && in_.buf[in_.pos] == 0) in_.pos++;
        padding_ = true;
        continue;
      }
      if (b != 0x1f || padding_) return Err("gzip: trailing garbage after member {}", member_);
      isal_inflate_init(st_.get());
      st_->crc_flag = ISAL_GZIP;
      member_++;
      in_member_ = true;
      return Ok();
    }
  }

  std::unique_ptr<inflate_state> st_;
  int member_ = 0;
  bool in_member_ = false;
  bool padding_ = false;
  bool done_ = false;
};

class ZstdDecoder final : public DecompressReader::Decoder {
 public:
  explicit ZstdDecoder(Reader& src) : Decoder(src), d_(ZSTD_createDCtx()) {}
  ~ZstdDecoder() override { ZSTD_freeDCtx(d_); }

  Result<size_t> Read(uint8_t* out, size_t n) override {
    ZSTD_outBuffer ob{out, n, 0};
    for (;;) {
      bool more = TRY(in_.Fill());
      ZSTD_inBuffer ib{in_.buf.get() + in_.pos, in_.avail(), 0};
      size_t r = ZSTD_decompressStream(d_, &ob, &ib);
      in_.pos += ib.pos;
      if (ZSTD_isError(r)) return Err("zstd: {}", ZSTD_getErrorName(r));
      // 0 means a frame ended and all its output was flushed. A call that
      // neither took nor gave bytes only returns a hint for the next frame.
      if (ib.size > 0 || ob.pos > 0) frame_open_ = r != 0;
      if (ob.pos > 0) return ob.pos;
      if (!more) {
        if (frame_open_) return Err("zstd stream truncated");
        return 0;
      }
    }
  }

 private:
  ZSTD_DCtx* d_;
  bool frame_open_ = true;
};

// xz layers are rare; libarchive's filter (over liblzma) saves a dependency.
class XzDecoder final : public DecompressReader::Decoder {
 public:
  using Decoder::Decoder;
  ~XzDecoder() override {
    if (a_) archive_read_free(a_);
  }

  Result<size_t> Read(uint8_t* out, size_t n) override {
    if (!a_) TRY(Open());
    la_ssize_t r = archive_read_data(a_, out, n);
    if (r < 0) return Failure();
    return static_cast<size_t>(r);
  }

 private:
  static la_ssize_t Pull(struct archive* a, void* p, const void** buf) {
    auto* self = static_cast<XzDecoder*>(p);
    auto more = self->in_.Fill();
    if (!more.ok()) {
      self->src_err_ = std::move(more).error();
      archive_set_error(a, EIO, "read failed");
      return -1;
    }
    *buf = self->in_.buf.get() + self->in_.pos;
    size_t k = self->in_.avail();
    self->in_.pos = self->in_.len;
    return static_cast<la_ssize_t>(k);
  }

  Status Open() {
    a_ = archive_read_new();
    if (!a_) return Err("xz: out of memory");
    archive_read_support_filter_xz(a_);
    archive_read_support_format_raw(a_);
    if (archive_read_open(a_, this, nullptr, Pull, nullptr) != ARCHIVE_OK) return Failure();
    struct archive_entry* e;
    if (archive_read_next_header(a_, &e) != ARCHIVE_OK) return Failure();
    return Ok();
  }

  Error Failure() {
    if (src_err_) return *src_err_;
    std::string_view msg = archive_error_string(a_) ? archive_error_string(a_) : "corrupt data";
    // liblzma says "No progress is possible" when the input ends mid-stream.
    if (in_.eof && (msg.find("runcated") != msg.npos || msg.find("No progress") != msg.npos))
      return Err("xz stream truncated");
    return Err("xz: {}", msg);
  }

  struct archive* a_ = nullptr;
  std::optional<Error> src_err_;
};

}  // namespace

DecompressReader::DecompressReader(Reader& src) : src_(src) {}
DecompressReader::~DecompressReader() = default;

Result<Compression> DecompressReader::Detect() {
  if (decoder_) return compression_;
  // A plain decoder's Input buffers the peeked bytes; the real decoder is
  // built around the same bytes, so nothing is read twice.
  auto probe = std::make_unique<PlainDecoder>(src_);
  TRY(probe->input().Peek(6));
  Input& in = probe->input();
  compression_ = DetectCompression(
      std::string_view(reinterpret_cast<const char*>(in.buf.get() + in.pos), in.avail()));
  switch (compression_) {
    case Compression::kNone:
      decoder_ = std::move(probe);
      break;
    case Compression::kGzip:
      decoder_ = std::make_unique<GzipDecoder>(src_);
      break;
    case Compression::kZstd:
      decoder_ = std::make_unique<ZstdDecoder>(src_);
      break;
    case Compression::kXz:
      decoder_ = std::make_unique<XzDecoder>(src_);
      break;
  }
  if (probe) {
    Input& to = decoder_->input();
    std::swap(to.buf, in.buf);
    to.pos = in.pos;
    to.len = in.len;
    to.eof = in.eof;
  }
  return compression_;
}

Result<size_t> DecompressReader::Read(void* buf, size_t n) {
  if (!decoder_) TRY(Detect());
  if (n == 0) return size_t{0};
  return decoder_->Read(static_cast<uint8_t*>(buf), n);
}

}  // namespace husk::archive
