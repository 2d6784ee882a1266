#include "archive/compress.h"

#include <isa-l/igzip_lib.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>
#include <vector>

namespace husk::archive {

Status FdWriter::Write(const void* data, size_t n) {
  auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t r = ::write(fd_, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("write {}", name_);
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Ok();
}

namespace {

constexpr size_t kOutputBuffer = 1 << 20;

// Holds compressed (or, for kNone, plain) output until a full buffer can go
// downstream in one write.
class OutBuffer {
 public:
  explicit OutBuffer(Writer& dst) : dst_(dst), buf_(kOutputBuffer) {}
  uint8_t* tail() { return buf_.data() + len_; }
  size_t room() const { return buf_.size() - len_; }
  void Grow(size_t n) { len_ += n; }
  Status FlushIfFull() { return room() == 0 ? Flush() : Ok(); }
  Status Flush() {
    if (len_ == 0) return Ok();
    TRY(dst_.Write(buf_.data(), len_));
    len_ = 0;
    return Ok();
  }
  bool empty() const { return len_ == 0; }
  Writer& dst() { return dst_; }

 private:
  Writer& dst_;
  std::vector<uint8_t> buf_;
  size_t len_ = 0;
};

class PlainWriter final : public Writer {
 public:
  explicit PlainWriter(Writer& dst) : out_(dst) {}
  Status Write(const void* data, size_t n) override {
    auto* p = static_cast<const uint8_t*>(data);
    // Large writes skip the copy once the buffer is drained.
    if (out_.empty() && n >= kOutputBuffer) return out_.dst().Write(p, n);
    while (n > 0) {
      size_t k = std::min(n, out_.room());
      std::memcpy(out_.tail(), p, k);
      out_.Grow(k);
      p += k;
      n -= k;
      TRY(out_.FlushIfFull());
    }
    return Ok();
  }
  Status Finish() override { return out_.Flush(); }

 private:
  OutBuffer out_;
};

class GzipWriter final : public Writer {
 public:
  explicit GzipWriter(Writer& dst)
      : out_(dst), in_(kInputChunk), level_buf_(ISAL_DEF_LVL1_DEFAULT) {
    isal_deflate_init(&s_);
    s_.level = 1;
    s_.level_buf = level_buf_.data();
    s_.level_buf_size = static_cast<uint32_t>(level_buf_.size());
    // isa-l's generic header is the constant 1f 8b 08 00 00000000 00 ff.
    s_.gzip_flag = IGZIP_GZIP;
  }

  // isa-l's output depends on how its input is split into calls, so input is
  // staged into fixed-size chunks: the compressed bytes then depend only on
  // the uncompressed ones, not on the sizes of the writes that made them.
  Status Write(const void* data, size_t n) override {
    if (finished_) return Err("gzip: write after finish");
    auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      size_t k = std::min(n, in_.size() - in_len_);
      std::memcpy(in_.data() + in_len_, p, k);
      in_len_ += k;
      p += k;
      n -= k;
      if (in_len_ == in_.size()) TRY(Compress(false));
    }
    return Ok();
  }

  Status Finish() override {
    if (finished_) return Ok();
    finished_ = true;
    TRY(Compress(true));
    return out_.Flush();
  }

 private:
  static constexpr size_t kInputChunk = 1 << 20;

  Status Compress(bool last) {
    s_.next_in = in_.data();
    s_.avail_in = static_cast<uint32_t>(in_len_);
    s_.end_of_stream = last ? 1 : 0;
    while (s_.avail_in > 0 || (last && s_.internal_state.state != ZSTATE_END)) {
      s_.next_out = out_.tail();
      s_.avail_out = static_cast<uint32_t>(out_.room());
      int r = isal_deflate(&s_);
      if (r != COMP_OK) return Err("gzip: isal_deflate failed ({})", r);
      out_.Grow(out_.room() - s_.avail_out);
      TRY(out_.FlushIfFull());
    }
    in_len_ = 0;
    return Ok();
  }

  OutBuffer out_;
  std::vector<uint8_t> in_;
  size_t in_len_ = 0;
  std::vector<uint8_t> level_buf_;
  isal_zstream s_{};
  bool finished_ = false;
};

class ZstdWriter final : public Writer {
 public:
  explicit ZstdWriter(Writer& dst) : out_(dst), c_(ZSTD_createCCtx()) {}
  ~ZstdWriter() override { ZSTD_freeCCtx(c_); }

  Status Init() {
    if (!c_) return Err("zstd: out of memory");
    for (auto [p, v] : {std::pair{ZSTD_c_compressionLevel, 3}, std::pair{ZSTD_c_checksumFlag, 1},
                        std::pair{ZSTD_c_nbWorkers, 0}}) {
      size_t r = ZSTD_CCtx_setParameter(c_, p, v);
      if (ZSTD_isError(r)) return Err("zstd: {}", ZSTD_getErrorName(r));
    }
    return Ok();
  }

  Status Write(const void* data, size_t n) override {
    if (finished_) return Err("zstd: write after finish");
    ZSTD_inBuffer in{data, n, 0};
    while (in.pos < in.size) TRY(Step(&in, ZSTD_e_continue));
    return Ok();
  }

  Status Finish() override {
    if (finished_) return Ok();
    finished_ = true;
    ZSTD_inBuffer in{nullptr, 0, 0};
    while (TRY(Step(&in, ZSTD_e_end)) != 0) {
    }
    return out_.Flush();
  }

 private:
  // Returns what ZSTD_compressStream2 has left to flush (0 when done).
  Result<size_t> Step(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer ob{out_.tail(), out_.room(), 0};
    size_t r = ZSTD_compressStream2(c_, &ob, in, mode);
    if (ZSTD_isError(r)) return Err("zstd: {}", ZSTD_getErrorName(r));
    out_.Grow(ob.pos);
    TRY(out_.FlushIfFull());
    return r;
  }

  OutBuffer out_;
  ZSTD_CCtx* c_;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<Writer>> NewCompressWriter(Compression c, Writer& dst) {
  switch (c) {
    case Compression::kNone:
      return std::unique_ptr<Writer>(new PlainWriter(dst));
    case Compression::kGzip:
      return std::unique_ptr<Writer>(new GzipWriter(dst));
    case Compression::kZstd: {
      auto w = std::make_unique<ZstdWriter>(dst);
      TRY(w->Init());
      return std::unique_ptr<Writer>(std::move(w));
    }
    case Compression::kXz:
      break;
  }
  return Err("compressing as {} is not supported", CompressionName(c));
}

}  // namespace husk::archive
