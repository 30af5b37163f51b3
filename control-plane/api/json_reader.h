// The control plane's JSON reader (docs/control-plane.md §4.2): every request body goes through ReadJson before any
// handler sees it. nlohmann's SAX parser drives a DOM builder that enforces the bounds below while parsing, so a
// hostile body costs at most its own size plus the bounded tree, and nothing nlohmann would accept silently
// (a duplicate key keeps the last value there) gets through.
//
// Accepted: one JSON value (RFC 8259), optional surrounding whitespace, valid UTF-8 (a leading byte order mark is
// skipped, as RFC 8259 allows). Refused, each with its own code: bad UTF-8 anywhere, syntax errors, trailing bytes
// after the value, nesting deeper than max_depth, more than max_values values, a string or key longer than
// max_string_bytes (decoded), a key repeated in one object, a number beyond the range of a double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/result.h"

namespace strait::control {

// Bounds of §8 ("JSON"). Our deepest schema is 5 levels; the rest is headroom, not a promise.
struct JsonLimits {
  size_t max_depth = 16;            // objects and arrays nested; a scalar at the top is depth 0
  size_t max_values = 20'000;       // every value counts: objects, arrays, scalars (keys do not)
  size_t max_string_bytes = 65'536; // decoded bytes of one string or key
};

enum class JsonErrorCode : uint8_t {
  kBadUtf8,        // the body is not valid UTF-8 (checked before parsing)
  kSyntax,         // not JSON (including an empty body and a bad \u escape)
  kTrailingBytes,  // a complete value followed by more than whitespace
  kTooDeep,
  kTooManyValues,
  kStringTooLong,
  kDuplicateKey,
  kNumberOutOfRange,  // e.g. 1e400
};

std::string_view JsonErrorCodeName(JsonErrorCode code);  // "bad_utf8", "syntax", ...

// `offset` is the byte offset at which the reader stopped (for a syntax error nlohmann's position; for a bound,
// just past the token that broke it). `detail` is a sentence for the client; it never echoes the body's bytes.
struct JsonError {
  JsonErrorCode code;
  size_t offset = 0;
  std::string detail;
};

// Parses `body` into a DOM. Never throws; allocation is bounded by the limits and the body's size.
Result<nlohmann::json, JsonError> ReadJson(std::string_view body, const JsonLimits& limits = {});

// True if `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF). On false, *bad_offset
// (if given) is the offset of the first byte of the offending sequence.
bool IsValidUtf8(std::string_view text, size_t* bad_offset = nullptr);

}  // namespace strait::control
