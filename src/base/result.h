// Result<T>: a small std::expected-shaped value-or-error (g++ 12 has no <expected>).
//
// Errors carry an errno (0 when none applies) and a one-line message. Context is
// prepended with wrap() as the error travels up, so main prints e.g.
//   huskrun: create c1: mount proc on /proc: Permission denied
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace husk {

struct Error {
  int code = 0;     // errno, or 0
  std::string msg;  // what failed, without the strerror text

  // Prepends context: "ctx: msg".
  Error wrap(std::string_view ctx) const&;
  Error wrap(std::string_view ctx) &&;
  // The full line: msg, then ": strerror(code)" when code != 0.
  std::string message() const;
};

// An error from a message, no errno.
template <typename... Args>
Error Err(fmt::format_string<Args...> f, Args&&... args) {
  return Error{0, fmt::format(f, std::forward<Args>(args)...)};
}
// An error carrying the current errno.
template <typename... Args>
Error ErrnoErr(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  return Error{e, fmt::format(f, std::forward<Args>(args)...)};
}
// An error carrying an explicit errno.
template <typename... Args>
Error CodeErr(int code, fmt::format_string<Args...> f, Args&&... args) {
  return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}      // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T value_or(T d) const& { return ok() ? value() : std::move(d); }

  // Adds context to an error; passes a value through.
  Result wrap(std::string_view ctx) && {
    if (ok()) return std::move(*this);
    return std::move(*this).error().wrap(ctx);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), failed_(true) {}  // NOLINT

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  void value() const {}
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

  Result wrap(std::string_view ctx) && {
    if (ok()) return {};
    return std::move(err_).wrap(ctx);
  }

 private:
  Error err_;
  bool failed_ = false;
};

using Status = Result<void>;
inline Status Ok() {
  return {};
}

}  // namespace husk

// TRY(expr): evaluates a Result; returns its error from the enclosing function,
// otherwise yields its value. Uses a GNU statement expression.
#define TRY(expr)                                                 \
  ({                                                              \
    auto&& husk_try_r_ = (expr);                                  \
    if (!husk_try_r_.ok()) return std::move(husk_try_r_).error(); \
    std::move(husk_try_r_).value();                               \
  })

// TRY_CTX(expr, ctx...): like TRY, but wraps the error with formatted context.
#define TRY_CTX(expr, ...)                                                                       \
  ({                                                                                             \
    auto&& husk_try_r_ = (expr);                                                                 \
    if (!husk_try_r_.ok()) return std::move(husk_try_r_).error().wrap(fmt::format(__VA_ARGS__)); \
    std::move(husk_try_r_).value();                                                              \
  })
