#include "bench/suite/strict_json.h"

#include <cmath>

#include <fmt/format.h>

namespace strait::bench::internal {

std::string PointerTo(std::string_view base, std::string_view key) {
  std::string out(base);
  out += '/';
  for (const char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else if (c < 0x20 || c > 0x7e) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

void JsonErrors::Add(std::string_view pointer, std::string_view why) {
  if (!first) first = fmt::format("{}: {}", pointer.empty() ? "/" : pointer, why);
}

ObjectReader::ObjectReader(const Json& obj, std::string pointer, JsonErrors& errors)
    : obj_(obj), pointer_(std::move(pointer)), errors_(errors) {
  if (!obj_.is_object()) errors_.Add(pointer_, fmt::format("expected an object, got {}", obj_.type_name()));
}

const Json* ObjectReader::Take(std::string_view name) {
  if (!errors_.ok() || !obj_.is_object()) return nullptr;
  taken_.emplace(name);
  auto it = obj_.find(std::string(name));
  if (it == obj_.end()) {
    errors_.Add(PointerTo(name), "required");
    return nullptr;
  }
  return &*it;
}

bool ObjectReader::Has(std::string_view name) const {
  return errors_.ok() && obj_.is_object() && obj_.contains(std::string(name));
}

bool ObjectReader::TakeNull(std::string_view name) {
  if (!errors_.ok() || !obj_.is_object()) return false;
  auto it = obj_.find(std::string(name));
  if (it == obj_.end() || !it->is_null()) return false;
  taken_.emplace(name);
  return true;
}

std::optional<std::string> ObjectReader::String(std::string_view name, std::size_t max_bytes) {
  const Json* j = Take(name);
  return j == nullptr ? std::nullopt : AsString(*j, PointerTo(name), max_bytes, errors_);
}

std::optional<std::uint64_t> ObjectReader::Unsigned(std::string_view name, std::uint64_t max) {
  const Json* j = Take(name);
  return j == nullptr ? std::nullopt : AsUnsigned(*j, PointerTo(name), max, errors_);
}

std::optional<double> ObjectReader::Number(std::string_view name) {
  const Json* j = Take(name);
  return j == nullptr ? std::nullopt : AsNumber(*j, PointerTo(name), errors_);
}

std::optional<bool> ObjectReader::Bool(std::string_view name) {
  const Json* j = Take(name);
  if (j == nullptr) return std::nullopt;
  if (!j->is_boolean()) {
    errors_.Add(PointerTo(name), fmt::format("expected true or false, got {}", j->type_name()));
    return std::nullopt;
  }
  return j->get<bool>();
}

const Json* ObjectReader::Object(std::string_view name) {
  const Json* j = Take(name);
  if (j != nullptr && !j->is_object()) {
    errors_.Add(PointerTo(name), fmt::format("expected an object, got {}", j->type_name()));
    return nullptr;
  }
  return j;
}

const Json* ObjectReader::Array(std::string_view name, std::size_t max_items) {
  const Json* j = Take(name);
  if (j == nullptr) return nullptr;
  if (!j->is_array()) {
    errors_.Add(PointerTo(name), fmt::format("expected an array, got {}", j->type_name()));
    return nullptr;
  }
  if (j->size() > max_items) {
    errors_.Add(PointerTo(name), fmt::format("{} items; at most {}", j->size(), max_items));
    return nullptr;
  }
  return j;
}

void ObjectReader::Finish() {
  if (!errors_.ok() || !obj_.is_object()) return;
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    if (taken_.find(it.key()) == taken_.end()) {
      errors_.Add(PointerTo(it.key()), "unknown key");
      return;
    }
  }
}

std::optional<std::uint64_t> AsUnsigned(const Json& j, std::string_view pointer, std::uint64_t max, JsonErrors& e) {
  if (!e.ok()) return std::nullopt;
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (v <= max) return v;
    e.Add(pointer, fmt::format("{} is above {}", v, max));
  } else if (j.is_number_integer()) {
    e.Add(pointer, "must not be negative");
  } else {
    e.Add(pointer, fmt::format("expected an integer, got {}", j.is_number() ? "a fraction" : j.type_name()));
  }
  return std::nullopt;
}

std::optional<double> AsNumber(const Json& j, std::string_view pointer, JsonErrors& e) {
  if (!e.ok()) return std::nullopt;
  if (!j.is_number()) {
    e.Add(pointer, fmt::format("expected a number, got {}", j.type_name()));
    return std::nullopt;
  }
  const auto v = j.get<double>();
  if (!std::isfinite(v)) {
    e.Add(pointer, "not a finite number");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> AsString(const Json& j, std::string_view pointer, std::size_t max_bytes, JsonErrors& e) {
  if (!e.ok()) return std::nullopt;
  if (!j.is_string()) {
    e.Add(pointer, fmt::format("expected a string, got {}", j.type_name()));
    return std::nullopt;
  }
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    e.Add(pointer, fmt::format("{} bytes; at most {}", s.size(), max_bytes));
    return std::nullopt;
  }
  return s;
}

}  // namespace strait::bench::internal
