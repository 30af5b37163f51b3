// Internal to strait_bench_suite: bounded JSON parsing and a strict object reader for the results file (and later
// the worker's messages). Unlike tunnel/control/json_fields.h, which ignores unknown fields for forward
// compatibility, this reader refuses them: a results file is read back by the same schema version that wrote it.
//
// Each ObjectReader takes the fields it knows, then Finish() refuses the first key nobody took. The first error
// sticks in the shared JsonErrors (later reads return empty values), named by its RFC 6901 pointer with bytes
// outside printable ASCII shown as \xNN, so a hostile key cannot put control characters on a terminal.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace strait::bench::internal {

using Json = nlohmann::json;

// `base` + "/" + `key`, escaped as above.
std::string PointerTo(std::string_view base, std::string_view key);

struct JsonErrors {
  std::optional<std::string> first;  // "<pointer>: <why>"
  bool ok() const { return !first; }
  void Add(std::string_view pointer, std::string_view why);
};

class ObjectReader {
 public:
  // `obj` must outlive the reader. Not an object: the error is recorded at `pointer`.
  ObjectReader(const Json& obj, std::string pointer, JsonErrors& errors);

  // Required fields: absent (or, except where nullable, null) is an error. Each returns empty after any error.
  std::optional<std::string> String(std::string_view name, std::size_t max_bytes);
  std::optional<std::uint64_t> Unsigned(std::string_view name, std::uint64_t max);
  std::optional<double> Number(std::string_view name);  // finite
  std::optional<bool> Bool(std::string_view name);
  const Json* Object(std::string_view name);
  const Json* Array(std::string_view name, std::size_t max_items);
  // A nullable field: true if present and null (taken); false otherwise (then read it with a typed getter).
  bool TakeNull(std::string_view name);
  // An optional field: whether it is present (then read it with a typed getter).
  bool Has(std::string_view name) const;

  // Refuses the first key not taken.
  void Finish();
  std::string PointerTo(std::string_view name) const { return internal::PointerTo(pointer_, name); }

 private:
  const Json* Take(std::string_view name);

  const Json& obj_;
  std::string pointer_;
  JsonErrors& errors_;
  std::set<std::string, std::less<>> taken_;
};

// Value checks for elements of arrays and maps, recording the error at `pointer`.
std::optional<std::uint64_t> AsUnsigned(const Json& j, std::string_view pointer, std::uint64_t max, JsonErrors& e);
std::optional<double> AsNumber(const Json& j, std::string_view pointer, JsonErrors& e);
std::optional<std::string> AsString(const Json& j, std::string_view pointer, std::size_t max_bytes, JsonErrors& e);

}  // namespace strait::bench::internal
