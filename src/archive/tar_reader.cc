#include "archive/tar_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

namespace husk::archive::internal {

namespace {

// Blocks handed to libarchive: its tar reader returns file data as pointers
// into them, so big blocks mean few callbacks and no copies.
constexpr size_t kBlock = 1 << 20;

std::string OrEmpty(const char* s) {
  return s ? std::string(s) : std::string();
}

}  // namespace

std::string EntryPath(archive_entry* e) {
  return OrEmpty(archive_entry_pathname(e));
}
std::string EntryHardlink(archive_entry* e) {
  return OrEmpty(archive_entry_hardlink(e));
}
std::string EntrySymlink(archive_entry* e) {
  return OrEmpty(archive_entry_symlink(e));
}

TarReader::TarReader(Reader& src) : src_(src), buf_(new char[kBlock]) {}

TarReader::~TarReader() {
  if (a_) archive_read_free(a_);
}

long TarReader::Pull(struct archive* a, void* p, const void** buf) {
  auto* self = static_cast<TarReader*>(p);
  if (self->src_eof_) return 0;
  auto n = self->src_.Read(self->buf_.get(), kBlock);
  if (!n.ok()) {
    self->src_err_ = std::move(n).error();
    archive_set_error(a, EIO, "read failed");
    return -1;
  }
  if (*n == 0) self->src_eof_ = true;
  self->hash_.Update(self->buf_.get(), *n);
  *buf = self->buf_.get();
  return static_cast<long>(*n);
}

Error TarReader::Failure(std::string_view what) {
  if (src_err_) return *src_err_;
  std::string_view msg = archive_error_string(a_) ? archive_error_string(a_) : "unknown error";
  // libarchive words truncation several ways; one wording for all of them.
  if (src_eof_ && (msg.find("runcated") != msg.npos || msg.find("remature") != msg.npos))
    return Err("tar stream truncated");
  if (msg.find("Unrecognized archive format") != msg.npos)
    return Err("{}: not a tar archive (nor gzip, zstd or xz compressed)", what);
  return Err("{}: {}", what, msg);
}

Status TarReader::Open() {
  a_ = archive_read_new();
  if (!a_) return Err("tar: out of memory");
  archive_read_support_format_tar(a_);
  if (archive_read_open(a_, this, nullptr, Pull, nullptr) != ARCHIVE_OK) {
    // No bytes at all is an empty archive, as Go's archive/tar (and so
    // docker and containerd) read it; libarchive calls it unrecognized.
    if (!src_err_ && src_eof_ && bytes() == 0) {
      empty_ = true;
      return Ok();
    }
    return Failure("read tar");
  }
  return Ok();
}

Result<archive_entry*> TarReader::Next() {
  archive_entry* e = nullptr;
  if (empty_) return e;
  int r = archive_read_next_header(a_, &e);
  if (r == ARCHIVE_EOF) return static_cast<archive_entry*>(nullptr);
  // WARN is what libarchive says when a name is not valid in the current
  // locale; the raw bytes are still there and are what we want.
  if (r < ARCHIVE_WARN) return Failure("read tar");
  return e;
}

Status TarReader::CopyData(int fd, int64_t size) {
  int64_t end = 0;
  for (;;) {
    const void* block;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(a_, &block, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Failure("read tar");
    auto* p = static_cast<const char*>(block);
    while (len > 0) {
      ssize_t w = ::pwrite(fd, p, len, off);
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoErr("write");
      }
      p += w;
      off += w;
      len -= static_cast<size_t>(w);
    }
    end = off;
  }
  if (end < size && ::ftruncate(fd, size) != 0) return ErrnoErr("truncate");
  return Ok();
}

Result<std::string> TarReader::ReadData(int64_t max) {
  std::string out;
  for (;;) {
    const void* block;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(a_, &block, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Failure("read tar");
    if (off + static_cast<int64_t>(len) > max) return Err("larger than {} bytes", max);
    if (out.size() < static_cast<size_t>(off)) out.resize(static_cast<size_t>(off));
    out.append(static_cast<const char*>(block), len);
  }
  return out;
}

Status TarReader::Drain() {
  if (empty_) return Ok();
  while (!src_eof_) {
    const void* b;
    if (Pull(a_, this, &b) < 0) return *src_err_;
  }
  return Ok();
}

}  // namespace husk::archive::internal
