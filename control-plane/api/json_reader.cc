#include "control-plane/api/json_reader.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace strait::control {
namespace {

using json = nlohmann::json;

// An input iterator over the body that publishes how far nlohmann's lexer has read, so a bound broken inside a
// SAX callback (which carries no position) can still name an offset.
class CountingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  CountingIterator(const char* p, const char** mark) : p_(p), mark_(mark) {}
  reference operator*() const { return *p_; }
  CountingIterator& operator++() {
    ++p_;
    *mark_ = p_;
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator old = *this;
    ++*this;
    return old;
  }
  friend bool operator==(const CountingIterator& a, const CountingIterator& b) { return a.p_ == b.p_; }

 private:
  const char* p_;
  const char** mark_;
};

// The SAX handler: builds the DOM and stops at the first broken bound. Containers on `stack_` are the open
// ancestors of the value being built; a pointer to an array element stays valid because only the innermost open
// container ever grows.
class LimitedDomBuilder {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  LimitedDomBuilder(const JsonLimits& limits, const char* begin, const char* const* mark)
      : limits_(limits), begin_(begin), mark_(mark) {}

  bool null() { return Add(json(nullptr)) != nullptr; }
  bool boolean(bool v) { return Add(json(v)) != nullptr; }
  bool number_integer(number_integer_t v) { return Add(json(v)) != nullptr; }
  bool number_unsigned(number_unsigned_t v) { return Add(json(v)) != nullptr; }
  bool number_float(number_float_t v, const string_t& /*text*/) { return Add(json(v)) != nullptr; }
  bool string(string_t& v) {
    if (v.size() > limits_.max_string_bytes) {
      return Stop(JsonErrorCode::kStringTooLong,
                  fmt::format("a string is {} bytes; at most {} are allowed", v.size(), limits_.max_string_bytes));
    }
    return Add(json(std::move(v))) != nullptr;
  }
  bool binary(binary_t& /*v*/) { return Stop(JsonErrorCode::kSyntax, "binary values are not JSON"); }

  bool start_object(size_t /*elements*/) { return Open(json::object()); }
  bool start_array(size_t /*elements*/) { return Open(json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(string_t& k) {
    if (k.size() > limits_.max_string_bytes) {
      return Stop(JsonErrorCode::kStringTooLong,
                  fmt::format("a key is {} bytes; at most {} are allowed", k.size(), limits_.max_string_bytes));
    }
    if (stack_.back()->contains(k)) {
      // The key's own text is the client's; it is safe to name (bounded above) and it is what they must fix.
      return Stop(JsonErrorCode::kDuplicateKey, fmt::format("duplicate key \"{}\"", EscapeForDetail(k)));
    }
    key_ = std::move(k);
    return true;
  }

  bool parse_error(size_t position, const std::string& /*last_token*/, const nlohmann::detail::exception& ex) {
    if (complete_) {
      error_ = {JsonErrorCode::kTrailingBytes, position > 0 ? position - 1 : 0,
                "unexpected bytes after the JSON value"};
    } else if (ex.id == 406) {
      error_ = {JsonErrorCode::kNumberOutOfRange, position, "a number is out of range"};
    } else {
      error_ = {JsonErrorCode::kSyntax, position, SyntaxDetail(ex.what())};
    }
    return false;
  }

  json TakeRoot() { return std::move(root_); }
  const JsonError& error() const { return error_; }

 private:
  // Adds `v` where the parser is: the root, the pending key of the open object, or the end of the open array.
  // Returns where it now lives, or nullptr when a bound stopped the parse.
  json* Add(json v) {
    if (++values_ > limits_.max_values) {
      Stop(JsonErrorCode::kTooManyValues, fmt::format("more than {} values", limits_.max_values));
      return nullptr;
    }
    if (stack_.empty()) {
      root_ = std::move(v);
      if (!root_.is_structured()) complete_ = true;
      return &root_;
    }
    json* parent = stack_.back();
    if (parent->is_object()) return &((*parent)[std::move(key_)] = std::move(v));
    parent->push_back(std::move(v));
    return &parent->back();
  }
  bool Open(json container) {
    if (stack_.size() >= limits_.max_depth) {
      return Stop(JsonErrorCode::kTooDeep, fmt::format("nested deeper than {} levels", limits_.max_depth));
    }
    json* at = Add(std::move(container));
    if (at == nullptr) return false;
    stack_.push_back(at);
    return true;
  }
  bool Close() {
    stack_.pop_back();
    if (stack_.empty()) complete_ = true;
    return true;
  }
  bool Stop(JsonErrorCode code, std::string detail) {
    error_ = {code, static_cast<size_t>(*mark_ - begin_), std::move(detail)};
    return false;
  }

  // nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix and without the
  // "; last read: '...'" tail, which echoes the body.
  static std::string SyntaxDetail(std::string_view what) {
    size_t start = what.find("syntax error");
    if (start == std::string_view::npos) return "not valid JSON";
    std::string_view msg = what.substr(start);
    if (size_t tail = msg.find("; last read:"); tail != std::string_view::npos) msg = msg.substr(0, tail);
    return std::string(msg);
  }
  static std::string EscapeForDetail(std::string_view s) {
    constexpr size_t kMaxShown = 64;
    std::string out = json(std::string(s.substr(0, kMaxShown))).dump(-1, ' ', false, json::error_handler_t::replace);
    out = out.substr(1, out.size() - 2);  // without the quotes dump adds
    if (s.size() > kMaxShown) out += "...";
    return out;
  }

  const JsonLimits& limits_;
  const char* begin_;
  const char* const* mark_;
  json root_;
  std::vector<json*> stack_;
  std::string key_;
  size_t values_ = 0;
  bool complete_ = false;
  JsonError error_{JsonErrorCode::kSyntax, 0, {}};
};

}  // namespace

std::string_view JsonErrorCodeName(JsonErrorCode code) {
  switch (code) {
    case JsonErrorCode::kBadUtf8: return "bad_utf8";
    case JsonErrorCode::kSyntax: return "syntax";
    case JsonErrorCode::kTrailingBytes: return "trailing_bytes";
    case JsonErrorCode::kTooDeep: return "too_deep";
    case JsonErrorCode::kTooManyValues: return "too_many_values";
    case JsonErrorCode::kStringTooLong: return "string_too_long";
    case JsonErrorCode::kDuplicateKey: return "duplicate_key";
    case JsonErrorCode::kNumberOutOfRange: return "number_out_of_range";
  }
  return "unknown";
}

bool IsValidUtf8(std::string_view text, size_t* bad_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07u;
    } else {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    bool ok = n - i >= len;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    // Overlong forms, UTF-16 surrogates and code points beyond Unicode are not UTF-8 (RFC 3629 §3).
    if (!ok || cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

Result<nlohmann::json, JsonError> ReadJson(std::string_view body, const JsonLimits& limits) {
  // nlohmann checks UTF-8 only inside strings and reports it as a syntax error; checking the whole body first gives
  // bad bytes their own code and an exact offset.
  if (size_t bad = 0; !IsValidUtf8(body, &bad)) {
    return Fail(JsonError{JsonErrorCode::kBadUtf8, bad, fmt::format("not valid UTF-8 at byte {}", bad)});
  }
  // nlohmann's lexer takes a NUL byte for the end of input, which would accept "{}\0anything". NUL is never valid
  // JSON text, so the parse stops there: a complete value before it means trailing bytes, else a syntax error.
  if (size_t nul = body.find('\0'); nul != std::string_view::npos) {
    auto prefix = ReadJson(body.substr(0, nul), limits);
    if (prefix.ok()) return Fail(JsonError{JsonErrorCode::kTrailingBytes, nul, "unexpected bytes after the JSON value"});
    if (prefix.error().offset < nul) return prefix;
    return Fail(JsonError{JsonErrorCode::kSyntax, nul, fmt::format("a NUL byte at byte {}", nul)});
  }
  const char* begin = body.data();
  const char* mark = begin;
  LimitedDomBuilder builder(limits, begin, &mark);
  bool ok = json::sax_parse(CountingIterator(begin, &mark), CountingIterator(begin + body.size(), &mark), &builder,
                            json::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
  if (!ok) {
    JsonError error = builder.error();
    // nlohmann counts the end of input as a character read: an error there is at body.size(), not past it.
    error.offset = std::min(error.offset, body.size());
    return Fail(std::move(error));
  }
  return builder.TakeRoot();
}

}  // namespace strait::control
