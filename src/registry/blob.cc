// Client's blob half: HEAD, resumable download, and uploads (mount, monolithic
// PUT, chunked PATCH), as the distribution spec's "Pulling blobs" and "Pushing
// blobs" sections describe them.
#include <unistd.h>

#include <algorithm>

#include "base/strings.h"
#include "registry/client.h"
#include "registry/client_call.h"
#include "registry/errors.h"

namespace husk::registry {

namespace {

// "bytes 100-199/1000" -> 100.
std::optional<uint64_t> RangeStart(const std::optional<std::string>& h) {
  if (!h) return std::nullopt;
  std::string_view v = strings::Trim(*h);
  if (!strings::StartsWith(v, "bytes ")) return std::nullopt;
  v.remove_prefix(6);
  return strings::ParseUint(v.substr(0, v.find('-')));
}

// "bytes */1000" -> 1000.
std::optional<uint64_t> RangeTotal(const std::optional<std::string>& h) {
  if (!h) return std::nullopt;
  auto slash = h->rfind('/');
  if (slash == std::string::npos) return std::nullopt;
  return strings::ParseUint(strings::Trim(std::string_view(*h).substr(slash + 1)));
}

}  // namespace

struct Client::UploadSource {
  BlobReader read;
  std::function<bool(uint64_t)> seek;  // null: a stream, read once from its start
};

Result<std::optional<BlobInfo>> Client::HeadBlob(const std::string& repo, const Digest& digest) {
  Call call;
  call.method = "HEAD";
  call.url = Url(repo, "blobs", digest.str());
  call.what = Name(repo, digest.str());
  call.scopes = {RepositoryScope(repo, false)};
  call.follow_redirects = true;
  auto resp = TRY(Do(call));
  if (resp.status == 404) return std::optional<BlobInfo>();
  if (resp.status != 200) return ResponseError(call.what, "HEAD", resp);
  BlobInfo info;
  info.digest = digest;
  info.media_type = resp.Header("content-type").value_or("");
  if (auto len = resp.Header("content-length")) info.size = strings::ParseUint(*len).value_or(0);
  return std::optional<BlobInfo>(std::move(info));
}

Status Client::GetBlob(const std::string& repo, const Digest& digest, uint64_t offset,
                       BlobSink sink) {
  Call call;
  call.url = Url(repo, "blobs", digest.str());
  call.what = Name(repo, digest.str());
  call.scopes = {RepositoryScope(repo, false)};
  call.follow_redirects = true;
  // Bytes handed to sink so far: each attempt asks for the rest from there.
  uint64_t delivered = 0;
  uint64_t skip = 0;
  bool started = false;
  call.progress = &delivered;
  call.before = [&](Call& c) {
    started = false;
    skip = 0;
    c.attempt_headers.clear();
    if (uint64_t from = offset + delivered; from > 0) {
      c.attempt_headers.push_back(fmt::format("Range: bytes={}-", from));
    }
    return true;
  };
  call.sink = [&](const http::Response& head, const char* p, size_t n) -> Status {
    if (!started) {
      started = true;
      uint64_t from = offset + delivered;
      if (head.status == 206) {
        auto start = RangeStart(head.Header("content-range"));
        if (!start || *start != from) {
          return Err("{}: asked for bytes from {}, got Content-Range \"{}\"", call.what, from,
                     head.Header("content-range").value_or(""));
        }
      } else {
        // The server (or storage behind a redirect) ignored Range and sent it all.
        skip = from;
      }
    }
    size_t k = static_cast<size_t>(std::min<uint64_t>(skip, n));
    skip -= k;
    if (n == k) return Ok();
    TRY(sink(p + k, n - k));
    delivered += n - k;
    return Ok();
  };
  auto resp = TRY(Do(call));
  uint64_t from = offset + delivered;
  if (resp.status == 200 || resp.status == 206) {
    if (resp.status == 200 && from > 0 && (!started || skip > 0)) {
      return Err("{}: blob is shorter than offset {}", call.what, offset);
    }
    return Ok();
  }
  // Asking for bytes from the very end: nothing left is success.
  if (resp.status == 416 && from > 0 && RangeTotal(resp.Header("content-range")) == from) {
    return Ok();
  }
  return ResponseError(call.what, "GET", resp);
}

Status Client::PushBlob(const std::string& repo, const Digest& digest, uint64_t size,
                        BlobReader read, const std::optional<std::string>& mount_from) {
  UploadSource src{std::move(read), nullptr};
  return PushBlobFrom(repo, digest, size, src, mount_from);
}

Status Client::PushBlobFromFd(const std::string& repo, const Digest& digest, uint64_t size, int fd,
                              const std::optional<std::string>& mount_from) {
  uint64_t pos = 0;
  UploadSource src;
  src.read = [fd, &pos](char* buf, size_t n) -> Result<size_t> {
    for (;;) {
      ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(pos));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoErr("read blob at offset {}", pos);
      pos += static_cast<uint64_t>(r);
      return static_cast<size_t>(r);
    }
  };
  src.seek = [&pos](uint64_t p) {
    pos = p;
    return true;
  };
  return PushBlobFrom(repo, digest, size, src, mount_from);
}

Status Client::PushBlobFrom(const std::string& repo, const Digest& digest, uint64_t size,
                            UploadSource& src, const std::optional<std::string>& mount_from) {
  if (TRY(HeadBlob(repo, digest))) return Ok();
  // An upload that failed half-way leaves its session in an unknown state (a
  // retried PATCH may append twice), so a retry is a whole new upload — only
  // possible when the source can be read again.
  int restarts = src.seek ? opts_.max_retries : 0;
  for (int attempt = 0;; ++attempt) {
    bool transient = false;
    Status st = UploadOnce(repo, digest, size, src, mount_from, &transient);
    if (st.ok() || !transient || attempt >= restarts) return st;
    Backoff(attempt, nullptr);
  }
}

Status Client::UploadOnce(const std::string& repo, const Digest& digest, uint64_t size,
                          UploadSource& src, const std::optional<std::string>& mount_from,
                          bool* transient) {
  std::string what = Name(repo, digest.str());
  // One scope list for the whole upload, so one token serves every request.
  std::vector<std::string> scopes = {RepositoryScope(repo, true)};
  bool mount = mount_from && !mount_from->empty() && *mount_from != repo;
  if (mount) scopes.push_back(RepositoryScope(*mount_from, false));

  auto send = [&](Call& c) -> Result<http::Response> {
    c.what = what;
    c.scopes = scopes;
    auto r = Do(c);
    *transient = c.transient;
    return r;
  };
  auto fail = [&](const Call& c, const http::Response& r) {
    *transient = r.status >= 500 || r.status == 429;
    return ResponseError(what, c.method, r);
  };

  std::string uploads = fmt::format("{}/v2/{}/blobs/uploads/", base_, repo);
  Call post;
  post.method = "POST";
  post.url = uploads;
  if (mount) {
    post.url = http::AddQuery(uploads, "mount=" + http::Escape(digest.str()));
    post.url = http::AddQuery(post.url, "from=" + http::Escape(*mount_from));
  }
  auto started = TRY(send(post));
  if (mount && started.status == 201) return Ok();
  // 202 to a mount request: the registry could not mount and opened an upload.
  if (started.status != 202) return fail(post, started);
  auto loc = started.Header("location");
  if (!loc || loc->empty()) return Err("{}: upload started without a Location", what);
  std::string location = http::ResolveUrl(post.url, *loc);

  uint64_t chunk = std::max<uint64_t>(opts_.chunk_size, 1);
  if (auto min = started.Header("oci-chunk-min-length")) {
    chunk = std::max<uint64_t>(chunk, strings::ParseUint(*min).value_or(0));
  }

  // One request carrying bytes [start, start+n) of the source.
  auto send_bytes = [&](Call& c, uint64_t start, uint64_t n) -> Result<http::Response> {
    http::Body body;
    body.size = n;
    body.read = src.read;
    c.body = &body;
    c.headers.push_back("Content-Type: application/octet-stream");
    c.max_retries = 0;  // PushBlobFrom starts over instead
    bool first = true;
    c.before = [&](Call&) {
      if (src.seek) return src.seek(start);
      return std::exchange(first, false);  // a stream is already at start, once
    };
    return send(c);
  };

  std::string digest_q = "digest=" + http::Escape(digest.str());
  if (size <= chunk) {
    Call put;
    put.method = "PUT";
    put.url = http::AddQuery(location, digest_q);
    auto resp = TRY(send_bytes(put, 0, size));
    if (resp.status != 201) return fail(put, resp);
    return Ok();
  }
  for (uint64_t off = 0; off < size;) {
    uint64_t n = std::min(chunk, size - off);
    Call patch;
    patch.method = "PATCH";
    patch.url = location;
    // The distribution spec's Content-Range has no "bytes " unit: "<start>-<end>".
    patch.headers.push_back(fmt::format("Content-Range: {}-{}", off, off + n - 1));
    auto resp = TRY(send_bytes(patch, off, n));
    if (resp.status != 202) return fail(patch, resp);
    if (auto next = resp.Header("location"); next && !next->empty()) {
      location = http::ResolveUrl(location, *next);
    }
    off += n;
  }
  Call put;
  put.method = "PUT";
  put.url = http::AddQuery(location, digest_q);
  http::Body empty;  // Content-Length: 0; some front ends refuse a PUT without one
  put.body = &empty;
  auto resp = TRY(send(put));
  if (resp.status != 201) return fail(put, resp);
  return Ok();
}

}  // namespace husk::registry
