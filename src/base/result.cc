#include "base/result.h"

#include <cstring>

namespace husk {

Error Error::wrap(std::string_view ctx) const& {
  Error e = *this;
  return std::move(e).wrap(ctx);
}

Error Error::wrap(std::string_view ctx) && {
  if (ctx.empty()) return std::move(*this);
  std::string m;
  m.reserve(ctx.size() + 2 + msg.size());
  m.append(ctx);
  if (!msg.empty()) m.append(": ").append(msg);
  msg = std::move(m);
  return std::move(*this);
}

std::string Error::message() const {
  if (code == 0) return msg;
  if (msg.empty()) return std::strerror(code);
  return msg + ": " + std::strerror(code);
}

}  // namespace husk
