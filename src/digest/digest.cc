#include "digest/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <vector>

#include "base/fs.h"

namespace husk {

Result<Digest> Digest::Parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return Err("invalid digest \"{}\": want sha256:<hex>", s);
  auto algo = s.substr(0, colon);
  auto hex = s.substr(colon + 1);
  if (algo != "sha256") return Err("unsupported digest algorithm \"{}\" in \"{}\"", algo, s);
  if (hex.size() != 64) return Err("invalid digest \"{}\": want 64 hex digits", s);
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Err("invalid digest \"{}\": not lowercase hex", s);
  }
  return FromHex(hex);
}

Digest Digest::FromHex(std::string_view hex) {
  Digest d;
  d.hex_ = std::string(hex);
  return d;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(const void* data, size_t n) {
  EVP_DigestUpdate(ctx_->md, data, n);
  bytes_ += n;
}

Digest Sha256::Final() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out, &len);
  static const char kHex[] = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (unsigned i = 0; i < len; i++) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 15];
  }
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  bytes_ = 0;
  return Digest::FromHex(hex);
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Final();
}

Result<Digest> Sha256File(const std::string& path) {
  auto fd = TRY(fs::Open(path, O_RDONLY | O_CLOEXEC));
  Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoErr("read {}", path);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Final();
}

}  // namespace husk
