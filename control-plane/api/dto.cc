#include "control-plane/api/dto.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace strait::control {
namespace {

using json = nlohmann::json;

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "another type";
  }
}

std::string WrongType(std::string_view expected, const json& got) {
  return fmt::format("expected {}, got {}", expected, TypeName(got));
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

void FieldErrors::Add(std::string pointer, FieldErrorCode code, std::string detail) {
  ++total_;
  if (list_.size() < kMaxFieldErrors) list_.push_back({std::move(pointer), code, std::move(detail)});
}

ObjectReader::ObjectReader(const json& value, std::string pointer, FieldErrors* errors)
    : value_(value.is_object() ? &value : nullptr), pointer_(std::move(pointer)), errors_(errors) {
  if (value_ == nullptr) errors_->Add(pointer_, FieldErrorCode::kWrongType, WrongType("an object", value));
}

std::string ObjectReader::PointerTo(std::string_view name) const {
  return pointer_ + "/" + EscapePointerToken(name);
}

void ObjectReader::AddError(std::string_view name, FieldErrorCode code, std::string detail) {
  errors_->Add(PointerTo(name), code, std::move(detail));
}

const json* ObjectReader::Take(std::string_view name, Need need) {
  assert(std::find(read_.begin(), read_.end(), name) == read_.end() && "a field is read once");
  read_.emplace_back(name);
  if (value_ == nullptr) return nullptr;
  auto it = value_->find(name);
  if (it == value_->end()) {
    if (need == Need::kRequired) AddError(name, FieldErrorCode::kMissingField, "required");
    return nullptr;
  }
  return &*it;
}

bool ObjectReader::TakeNull(std::string_view name) {
  if (value_ == nullptr) return false;
  auto it = value_->find(name);
  if (it == value_->end() || !it->is_null()) return false;
  read_.emplace_back(name);
  return true;
}

std::optional<std::string> ObjectReader::CheckedText(const json& v, const TextBounds& bounds,
                                                     const std::string& pointer) {
  if (!v.is_string()) {
    errors_->Add(pointer, FieldErrorCode::kWrongType, WrongType("a string", v));
    return std::nullopt;
  }
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() < bounds.min_bytes || s.size() > bounds.max_bytes) {
    errors_->Add(pointer, FieldErrorCode::kOutOfRange,
                 fmt::format("expected {}..{} bytes, got {}", bounds.min_bytes, bounds.max_bytes, s.size()));
    return std::nullopt;
  }
  if (!bounds.allow_control && HasControlChars(s)) {
    errors_->Add(pointer, FieldErrorCode::kBadFormat, "control characters are not allowed");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> ObjectReader::Text(std::string_view name, Need need, TextBounds bounds) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  return CheckedText(*v, bounds, PointerTo(name));
}

std::optional<std::string> ObjectReader::Email(std::string_view name, Need need) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a string", *v));
    return std::nullopt;
  }
  const std::string& s = v->get_ref<const std::string&>();
  std::string why;
  if (!IsValidEmail(s, &why)) {
    AddError(name, s.size() < 3 || s.size() > 254 ? FieldErrorCode::kOutOfRange : FieldErrorCode::kBadFormat, why);
    return std::nullopt;
  }
  return LowerAscii(s);
}

std::optional<std::string> ObjectReader::Id(std::string_view name, Need need, IdKind kind) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a string", *v));
    return std::nullopt;
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (!IsValidId(kind, s)) {
    AddError(name, FieldErrorCode::kBadFormat, fmt::format("not a valid {} id", IdKindName(kind)));
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> ObjectReader::Int(std::string_view name, Need need, int64_t min, int64_t max) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_number_integer()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("an integer", *v));
    return std::nullopt;
  }
  bool in_range = false;
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    auto u = v->get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    n = in_range ? static_cast<int64_t>(u) : 0;
  } else {
    n = v->get<int64_t>();
    in_range = true;
  }
  if (!in_range || n < min || n > max) {
    AddError(name, FieldErrorCode::kOutOfRange, fmt::format("expected {}..{}", min, max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> ObjectReader::Bool(std::string_view name, Need need) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a boolean", *v));
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<Seconds> ObjectReader::Time(std::string_view name, Need need) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a string", *v));
    return std::nullopt;
  }
  std::optional<Seconds> t = ParseTime(v->get_ref<const std::string&>());
  if (!t) AddError(name, FieldErrorCode::kBadFormat, "expected an RFC 3339 UTC time like 2025-06-01T12:00:00Z");
  return t;
}

std::optional<std::vector<uint8_t>> ObjectReader::Bytes(std::string_view name, Need need, size_t min_bytes,
                                                        size_t max_bytes) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a string", *v));
    return std::nullopt;
  }
  std::optional<std::vector<uint8_t>> b = DecodeBase64(v->get_ref<const std::string&>());
  if (!b) {
    AddError(name, FieldErrorCode::kBadFormat, "expected standard base64 with padding");
    return std::nullopt;
  }
  if (b->size() < min_bytes || b->size() > max_bytes) {
    AddError(name, FieldErrorCode::kOutOfRange,
             min_bytes == max_bytes ? fmt::format("expected {} bytes, got {}", min_bytes, b->size())
                                    : fmt::format("expected {}..{} bytes, got {}", min_bytes, max_bytes, b->size()));
    return std::nullopt;
  }
  return b;
}

std::optional<std::string_view> ObjectReader::Choice(std::string_view name, Need need,
                                                     std::span<const std::string_view> allowed) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("a string", *v));
    return std::nullopt;
  }
  const std::string& s = v->get_ref<const std::string&>();
  for (std::string_view a : allowed) {
    if (a == s) return a;
  }
  std::string list;
  for (std::string_view a : allowed) list += list.empty() ? std::string(a) : ", " + std::string(a);
  AddError(name, FieldErrorCode::kBadFormat, fmt::format("expected one of {}", list));
  return std::nullopt;
}

std::optional<std::vector<std::string>> ObjectReader::TextList(std::string_view name, Need need, ListBounds bounds) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("an array", *v));
    return std::nullopt;
  }
  if (v->size() > bounds.max_items) {
    AddError(name, FieldErrorCode::kTooManyItems, fmt::format("at most {} items, got {}", bounds.max_items, v->size()));
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::set<std::string_view> seen;
  bool ok = true;
  std::string base = PointerTo(name);
  for (size_t i = 0; i < v->size(); ++i) {
    std::string item_pointer = fmt::format("{}/{}", base, i);
    std::optional<std::string> s = CheckedText((*v)[i], bounds.item, item_pointer);
    if (!s) {
      ok = false;
      continue;
    }
    if (bounds.unique && !seen.insert((*v)[i].get_ref<const std::string&>()).second) {
      errors_->Add(item_pointer, FieldErrorCode::kDuplicateItem, "duplicate item");
      ok = false;
      continue;
    }
    out.push_back(std::move(*s));
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<ObjectReader> ObjectReader::Object(std::string_view name, Need need) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_object()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("an object", *v));
    return std::nullopt;
  }
  return ObjectReader(*v, PointerTo(name), errors_);
}

std::optional<std::vector<ObjectReader>> ObjectReader::ObjectList(std::string_view name, Need need,
                                                                   size_t max_items) {
  const json* v = Take(name, need);
  if (v == nullptr) return std::nullopt;
  if (!v->is_array()) {
    AddError(name, FieldErrorCode::kWrongType, WrongType("an array", *v));
    return std::nullopt;
  }
  if (v->size() > max_items) {
    AddError(name, FieldErrorCode::kTooManyItems, fmt::format("at most {} items, got {}", max_items, v->size()));
    return std::nullopt;
  }
  std::vector<ObjectReader> out;
  out.reserve(v->size());
  const std::string base = PointerTo(name);
  for (size_t i = 0; i < v->size(); ++i) out.emplace_back((*v)[i], fmt::format("{}/{}", base, i), errors_);
  return out;
}

void ObjectReader::Finish() {
  assert(!finished_);
  finished_ = true;
  if (value_ == nullptr) return;
  for (const auto& [key, unused] : value_->items()) {
    if (std::find(read_.begin(), read_.end(), key) != read_.end()) continue;
    errors_->Add(PointerTo(key), FieldErrorCode::kUnknownField, fmt::format("unknown field (expected {})", Join(read_)));
  }
}

Problem MalformedJson(const JsonError& error) {
  Problem p = MakeProblem(ProblemType::kMalformedJson, error.detail);
  p.extensions["offset"] = error.offset;
  return p;
}

// ---- TenantCreate ----

Result<TenantCreate, Problem> DecodeTenantCreate(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto id = r.Id("id", Need::kRequired, IdKind::kTenant);
  auto display_name = r.Text("display_name", Need::kRequired, kNameBounds);
  auto seats = r.Int("seats", Need::kRequired, 0, kMaxSeats);
  auto expires = r.Time("licence_expires_at", Need::kOptional);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return TenantCreate{std::move(*id), std::move(*display_name), *seats, expires};
}

json EncodeTenantCreate(const TenantCreate& v) {
  json out = {{"id", v.id}, {"display_name", v.display_name}, {"seats", v.seats}};
  if (v.licence_expires_at) out["licence_expires_at"] = FormatTime(*v.licence_expires_at);
  return out;
}

// ---- ApiKeyCreate ----

namespace {
constexpr std::array<EnumName<ApiKeyRole>, 3> kApiKeyRoles = {{
    {"operator", ApiKeyRole::kOperator},
    {"admin", ApiKeyRole::kAdmin},
    {"read_only", ApiKeyRole::kReadOnly},
}};
}  // namespace

std::string_view ApiKeyRoleName(ApiKeyRole role) {
  for (const auto& row : kApiKeyRoles) {
    if (row.value == role) return row.name;
  }
  return "unknown";
}

Result<ApiKeyCreate, Problem> DecodeApiKeyCreate(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto name = r.Text("name", Need::kRequired, kNameBounds);
  auto role = r.Enum<ApiKeyRole>("role", Need::kRequired, kApiKeyRoles);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return ApiKeyCreate{std::move(*name), *role};
}

json EncodeApiKeyCreate(const ApiKeyCreate& v) { return {{"name", v.name}, {"role", ApiKeyRoleName(v.role)}}; }

// ---- UserCreate ----

Result<UserCreate, Problem> DecodeUserCreate(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto email = r.Email("email", Need::kRequired);
  auto display_name = r.Text("display_name", Need::kRequired, kNameBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return UserCreate{std::move(*email), std::move(*display_name)};
}

json EncodeUserCreate(const UserCreate& v) { return {{"email", v.email}, {"display_name", v.display_name}}; }

}  // namespace strait::control
