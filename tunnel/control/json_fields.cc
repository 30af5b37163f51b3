#include "tunnel/control/json_fields.h"

#include <fmt/format.h>
#include <sodium.h>

#include <utility>

#include "tunnel/control/control_wire.h"
#include "tunnel/control/json_depth.h"

namespace strait::control::internal {
namespace {

WireResultError Err(WireError code, std::string reason) { return {code, std::move(reason)}; }

std::string_view TypeName(const Json& j) { return j.type_name(); }

}  // namespace

Result<Json, WireResultError> ParseBounded(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Fail(Err(WireError::kTooLarge, fmt::format("{} bytes; at most {}", text.size(), max_bytes)));
  }
  if (JsonNestingDepth(text, wire::kMaxJsonDepth) > wire::kMaxJsonDepth) {
    return Fail(Err(WireError::kTooDeep, fmt::format("nested deeper than {}", wire::kMaxJsonDepth)));
  }
  Json j = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Fail(Err(WireError::kMalformedJson, "not a JSON value"));
  return j;
}

std::string EncodeBase64(std::span<const uint8_t> bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  std::vector<uint8_t> out(text.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  const int rc = sodium_base642bin(out.data(), out.size(), text.data(), text.size(), /*ignore=*/nullptr, &len, &end,
                                   sodium_base64_VARIANT_ORIGINAL);
  if (rc != 0 || end != text.data() + text.size()) return std::nullopt;
  out.resize(len);
  return out;
}

ObjectReader::ObjectReader(const Json& obj, std::string pointer) : obj_(obj), pointer_(std::move(pointer)) {
  if (!obj_.is_object()) {
    error_ = Err(WireError::kNotObject,
                 fmt::format("{}: expected an object, got {}", pointer_.empty() ? "/" : pointer_, TypeName(obj_)));
  }
}

std::string ObjectReader::PointerTo(std::string_view name) const {
  // RFC 6901: '~' -> "~0", '/' -> "~1". Field names here never hold either, but a pointer must stay unambiguous.
  std::string out = pointer_ + "/";
  for (char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

void ObjectReader::Fail(WireError code, std::string_view name, std::string_view what) {
  if (error_) return;
  error_ = Err(code, fmt::format("{}: {}", PointerTo(name), what));
}

void ObjectReader::FailAt(WireError code, std::string_view pointer, std::string_view what) {
  if (error_) return;
  error_ = Err(code, fmt::format("{}: {}", pointer, what));
}

void ObjectReader::Adopt(const ObjectReader& nested) {
  if (!error_ && nested.error_) error_ = nested.error_;
}

const Json* ObjectReader::Find(std::string_view name, Need need) {
  if (error_) return nullptr;
  auto it = obj_.find(std::string(name));
  if (it == obj_.end() || it->is_null()) {
    if (need == Need::kRequired) Fail(WireError::kMissingField, name, "required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string_view> ObjectReader::String(std::string_view name, Need need, size_t max_bytes) {
  const Json* j = Find(name, need);
  if (j == nullptr) return std::nullopt;
  if (!j->is_string()) {
    Fail(WireError::kWrongType, name, fmt::format("expected a string, got {}", TypeName(*j)));
    return std::nullopt;
  }
  const std::string& s = j->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    Fail(WireError::kBadValue, name, fmt::format("{} bytes; at most {}", s.size(), max_bytes));
    return std::nullopt;
  }
  return std::string_view(s);
}

std::optional<uint64_t> ObjectReader::Unsigned(std::string_view name, Need need) {
  const Json* j = Find(name, need);
  if (j == nullptr) return std::nullopt;
  if (j->is_number_unsigned()) return j->get<uint64_t>();
  if (j->is_number_integer()) {
    Fail(WireError::kBadValue, name, "must not be negative");
  } else {
    Fail(WireError::kWrongType, name, fmt::format("expected an integer, got {}", TypeName(*j)));
  }
  return std::nullopt;
}

std::optional<bool> ObjectReader::Bool(std::string_view name, Need need) {
  const Json* j = Find(name, need);
  if (j == nullptr) return std::nullopt;
  if (!j->is_boolean()) {
    Fail(WireError::kWrongType, name, fmt::format("expected true or false, got {}", TypeName(*j)));
    return std::nullopt;
  }
  return j->get<bool>();
}

const Json* ObjectReader::Object(std::string_view name, Need need) {
  const Json* j = Find(name, need);
  if (j == nullptr) return nullptr;
  if (!j->is_object()) {
    Fail(WireError::kWrongType, name, fmt::format("expected an object, got {}", TypeName(*j)));
    return nullptr;
  }
  return j;
}

const Json* ObjectReader::Array(std::string_view name, Need need, size_t max_items) {
  const Json* j = Find(name, need);
  if (j == nullptr) return nullptr;
  if (!j->is_array()) {
    Fail(WireError::kWrongType, name, fmt::format("expected an array, got {}", TypeName(*j)));
    return nullptr;
  }
  if (j->size() > max_items) {
    Fail(WireError::kBadValue, name, fmt::format("{} items; at most {}", j->size(), max_items));
    return nullptr;
  }
  return j;
}

std::optional<uint64_t> ObjectReader::Time(std::string_view name, Need need) {
  auto s = String(name, need, 64);
  if (!s) return std::nullopt;
  auto t = wire::ParseTime(*s);
  if (!t) Fail(WireError::kBadValue, name, "expected an RFC 3339 UTC time such as 2025-06-01T12:00:00Z");
  return t;
}

std::optional<uint64_t> ObjectReader::EventId(std::string_view name, Need need) {
  auto s = String(name, need, 64);
  if (!s) return std::nullopt;
  auto id = wire::ParseEventId(*s);
  if (!id) Fail(WireError::kBadValue, name, "expected a decimal id in a string, within 64 bits");
  return id;
}

std::optional<std::string_view> ObjectReader::SubjectId(std::string_view name, Need need) {
  auto s = String(name, need, 256);
  if (!s) return std::nullopt;
  if (!wire::IsSubjectId(*s)) {
    Fail(WireError::kBadValue, name, "expected an id of 1..64 of [a-z0-9._-]");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string_view> ObjectReader::TenantId(std::string_view name, Need need) {
  auto s = String(name, need, 256);
  if (!s) return std::nullopt;
  if (!wire::IsTenantId(*s)) {
    Fail(WireError::kBadValue, name, "expected a tenant id of 1..64 of [a-z0-9-]");
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<uint8_t>> ObjectReader::Bytes(std::string_view name, Need need, size_t max_bytes) {
  auto s = String(name, need, (max_bytes + 2) / 3 * 4);
  if (!s) return std::nullopt;
  auto b = DecodeBase64(*s);
  if (!b) Fail(WireError::kBadValue, name, "expected standard base64 with padding");
  return b;
}

}  // namespace strait::control::internal
