// Internal to strait_control_client: bounded JSON parsing and a field reader shared by the bundle, control.json,
// snapshot and event decoders. Not installed for the daemons (they see decoded structs only), so nlohmann's types
// stay out of the public headers.
//
// Reading rules (tunnel/control/control_wire.h "Extension rules"): fields this code does not ask for are ignored;
// asked-for fields are checked for type and value; `null` counts as absent. The first error sticks: a decoder reads
// every field it needs, then checks ok() once (later reads return empty values), and the error names the field as
// an RFC 6901 pointer ("/relays/0/device").
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "tunnel/control/wire_error.h"

namespace strait::control::internal {

using Json = nlohmann::json;

// Parses one JSON value from `text`: at most `max_bytes`, nested at most wire::kMaxJsonDepth (checked by a scan
// before the parser runs, so hostile nesting costs neither recursion nor memory), valid UTF-8, nothing after it but
// whitespace. Throws nothing.
Result<Json, WireResultError> ParseBounded(std::string_view text, size_t max_bytes);

// Standard base64 with padding, canonical (libsodium's strict decoder); nullopt otherwise.
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text);
std::string EncodeBase64(std::span<const uint8_t> bytes);

enum class Need : uint8_t { kRequired, kOptional };

class ObjectReader {
 public:
  // `obj` must outlive the reader. Not an object: the reader starts failed with kNotObject.
  ObjectReader(const Json& obj, std::string pointer);

  // Each returns nullopt / nullptr when the field is absent (or null) and optional, or after any error.
  std::optional<std::string_view> String(std::string_view name, Need need, size_t max_bytes);
  std::optional<uint64_t> Unsigned(std::string_view name, Need need);
  std::optional<bool> Bool(std::string_view name, Need need);
  const Json* Object(std::string_view name, Need need);
  const Json* Array(std::string_view name, Need need, size_t max_items);
  // Typed strings: checked syntax (control_wire.h).
  std::optional<uint64_t> Time(std::string_view name, Need need);
  std::optional<uint64_t> EventId(std::string_view name, Need need);
  std::optional<std::string_view> SubjectId(std::string_view name, Need need);
  std::optional<std::string_view> TenantId(std::string_view name, Need need);
  std::optional<std::vector<uint8_t>> Bytes(std::string_view name, Need need, size_t max_bytes);

  // The pointer of a field of this object, for nested readers ("/relays" + "/0").
  std::string PointerTo(std::string_view name) const;
  // Records an error at field `name` of this object, or at a whole `pointer` (the first one sticks).
  void Fail(WireError code, std::string_view name, std::string_view what);
  void FailAt(WireError code, std::string_view pointer, std::string_view what);
  bool ok() const { return !error_; }
  const WireResultError& error() const { return *error_; }
  // Adopts a nested reader's error, if it has one and this reader has none.
  void Adopt(const ObjectReader& nested);

 private:
  // The field, or nullptr when absent or null (kMissingField recorded if required).
  const Json* Find(std::string_view name, Need need);

  const Json& obj_;
  std::string pointer_;
  std::optional<WireResultError> error_;
};

}  // namespace strait::control::internal
