// SetupResult<T>: the expected-style return of runtime setup functions (style.md item 8, tier two). The hot path
// never uses it: per-operation outcomes are small enums.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace strait::runtime {

struct SetupError {
  int err = 0;          // positive errno, or 0 when not an OS error
  std::string reason;   // what was being done, for people
};

template <class T>
class [[nodiscard]] SetupResult {
 public:
  SetupResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  SetupResult(SetupError e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  const SetupError& error() const { assert(!ok()); return std::get<1>(v_); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, SetupError> v_;
};

}  // namespace strait::runtime
