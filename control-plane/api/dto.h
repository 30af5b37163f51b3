// Request decoding (docs/control-plane.md §4.2): the ObjectReader every request DTO is read through, and the
// first request types (TenantCreate, ApiKeyCreate, UserCreate of §4.9) as the pattern for the rest.
//
// The pattern: a DTO reader takes the body json_reader built, reads each field exactly once through an
// ObjectReader (required or optional, typed, bounded), calls Finish() so every key it did not read becomes
// unknown_field ("a misspelt field must not silently do nothing"), and returns the struct or an invalid-request
// Problem listing every field error found (at most 20 shown, all counted), each with an RFC 6901 pointer:
//
//   Result<UserCreate, Problem> DecodeUserCreate(const nlohmann::json& body) {
//     FieldErrors errors;
//     ObjectReader r(body, "", &errors);
//     UserCreate out;
//     auto email = r.Email("email", Need::kRequired);
//     auto name = r.Text("display_name", Need::kRequired, kNameBounds);
//     r.Finish();
//     if (!errors.empty()) return Fail(errors.ToProblem());
//     ...
//   }
//
// An encoder per DTO (Encode*) writes the same field names, so tests and fuzzers can check decode(encode(x)) == x.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"
#include "control-plane/api/json_reader.h"
#include "control-plane/api/problem.h"
#include "crypto/result.h"

namespace strait::control {

// The field errors of one request: the first kMaxFieldErrors are kept, all are counted.
class FieldErrors {
 public:
  void Add(std::string pointer, FieldErrorCode code, std::string detail);
  bool empty() const { return total_ == 0; }
  size_t total() const { return total_; }
  const std::vector<FieldError>& list() const { return list_; }
  Problem ToProblem() const { return InvalidRequest(list_, total_); }

 private:
  std::vector<FieldError> list_;
  size_t total_ = 0;
};

enum class Need : uint8_t { kRequired, kOptional };

// Byte bounds of a text field (UTF-8 validity is json_reader's); control characters (C0, DEL, C1) refused unless
// allowed.
struct TextBounds {
  size_t min_bytes = 1;
  size_t max_bytes = 128;
  bool allow_control = false;
};
inline constexpr TextBounds kNameBounds{1, 128, false};    // display_name, name (§4.1)
inline constexpr TextBounds kReasonBounds{0, 256, false};  // reason

struct ListBounds {
  size_t max_items = 16;
  TextBounds item = kNameBounds;
  bool unique = true;  // a set: a repeated item is duplicate_item
};

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

// Reads one JSON object. Every read names the field, looks it up, marks it read, checks its type and bounds, and
// on failure records one FieldError (pointer = this object's pointer + "/" + name) and returns nullopt. A field
// absent with Need::kOptional returns nullopt and records nothing; with kRequired it is missing_field. JSON null
// counts as a wrong type except through TakeNull. Reading the same name twice is a bug (asserted).
//
// If `value` is not an object, one wrong_type error is recorded at `pointer` and every read returns nullopt.
// `value` and `errors` must outlive the reader. Finish() must be called after the last read.
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& value, std::string pointer, FieldErrors* errors);

  // True if the field is present and null; it is then read. Otherwise nothing happens (read it as its type next).
  bool TakeNull(std::string_view name);

  std::optional<std::string> Text(std::string_view name, Need need, TextBounds bounds = kNameBounds);
  std::optional<std::string> Email(std::string_view name, Need need);  // §4.1; returned lower case
  std::optional<std::string> Id(std::string_view name, Need need, IdKind kind);
  // A JSON integer in [min, max]; 1.0 and 1e3 are wrong_type (a float is not an integer even when whole).
  std::optional<int64_t> Int(std::string_view name, Need need, int64_t min, int64_t max);
  std::optional<bool> Bool(std::string_view name, Need need);
  std::optional<Seconds> Time(std::string_view name, Need need);  // RFC 3339 UTC, whole seconds
  // Standard base64 with padding, decoding to min_bytes..max_bytes.
  std::optional<std::vector<uint8_t>> Bytes(std::string_view name, Need need, size_t min_bytes, size_t max_bytes);
  // One of `allowed` (returned as the matching table entry).
  std::optional<std::string_view> Choice(std::string_view name, Need need, std::span<const std::string_view> allowed);
  template <class E>
  std::optional<E> Enum(std::string_view name, Need need, std::span<const EnumName<E>> table) {
    std::vector<std::string_view> names;
    names.reserve(table.size());
    for (const EnumName<E>& row : table) names.push_back(row.name);
    std::optional<std::string_view> got = Choice(name, need, names);
    if (!got) return std::nullopt;
    for (const EnumName<E>& row : table) {
      if (row.name == *got) return row.value;
    }
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> TextList(std::string_view name, Need need, ListBounds bounds);
  // A nested object; its reader shares this one's errors, and must be Finish()ed too.
  std::optional<ObjectReader> Object(std::string_view name, Need need);
  // An array of at most `max_items` objects (a policy's rules): one reader per item (pointer .../name/i), each
  // sharing this one's errors and each to be Finish()ed. An item that is not an object is wrong_type and gets a
  // reader over nothing (every read returns nullopt), so indexes stay the array's.
  std::optional<std::vector<ObjectReader>> ObjectList(std::string_view name, Need need, size_t max_items);

  // Every key not read is unknown_field: "unknown field (expected a, b, c)", naming the fields read, in order.
  void Finish();

  std::string PointerTo(std::string_view name) const;  // pointer_ + "/" + escaped name
  const std::string& pointer() const { return pointer_; }

 private:
  // The field's value if present and not yet read (it is now read); nullptr if absent (missing_field when
  // required) or if this reader is not over an object.
  const nlohmann::json* Take(std::string_view name, Need need);
  void AddError(std::string_view name, FieldErrorCode code, std::string detail);
  std::optional<std::string> CheckedText(const nlohmann::json& v, const TextBounds& bounds, const std::string& pointer);

  const nlohmann::json* value_;  // nullptr when the value is not an object
  std::string pointer_;
  FieldErrors* errors_;
  std::vector<std::string> read_;  // names asked for, in order (the "expected" list)
  bool finished_ = false;
};

// 400 malformed-json for a body the reader refused: the reader's detail and the `offset` extension.
Problem MalformedJson(const JsonError& error);

// The whole of a request body's decoding: json_reader with `limits`, then `decode` (a Decode* function below).
template <class T>
Result<T, Problem> DecodeBody(std::string_view body, Result<T, Problem> (*decode)(const nlohmann::json&),
                              const JsonLimits& limits = {}) {
  auto parsed = ReadJson(body, limits);
  if (!parsed.ok()) return Fail(MalformedJson(parsed.error()));
  return decode(*parsed);
}

// ---- The request DTOs (§4.9) ----

// POST /v1/tenants
struct TenantCreate {
  std::string id;            // tenant id
  std::string display_name;  // name
  int64_t seats = 0;         // 0..1,000,000
  std::optional<Seconds> licence_expires_at;
  friend bool operator==(const TenantCreate&, const TenantCreate&) = default;
};
inline constexpr int64_t kMaxSeats = 1'000'000;
Result<TenantCreate, Problem> DecodeTenantCreate(const nlohmann::json& body);
nlohmann::json EncodeTenantCreate(const TenantCreate& v);

// POST /v1/api-keys (role operator only there; the handler checks) and /v1/tenants/{tenant}/api-keys
enum class ApiKeyRole : uint8_t { kOperator, kAdmin, kReadOnly };
std::string_view ApiKeyRoleName(ApiKeyRole role);  // "operator", "admin", "read_only"
struct ApiKeyCreate {
  std::string name;
  ApiKeyRole role = ApiKeyRole::kReadOnly;
  friend bool operator==(const ApiKeyCreate&, const ApiKeyCreate&) = default;
};
Result<ApiKeyCreate, Problem> DecodeApiKeyCreate(const nlohmann::json& body);
nlohmann::json EncodeApiKeyCreate(const ApiKeyCreate& v);

// POST /v1/tenants/{tenant}/users
struct UserCreate {
  std::string email;  // lower case
  std::string display_name;
  friend bool operator==(const UserCreate&, const UserCreate&) = default;
};
Result<UserCreate, Problem> DecodeUserCreate(const nlohmann::json& body);
nlohmann::json EncodeUserCreate(const UserCreate& v);

}  // namespace strait::control
