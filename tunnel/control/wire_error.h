// WireError: why a bundle, control.json, snapshot or event line from the control plane is refused (decoding only;
// what a decoded bundle must also satisfy is BundleError, tunnel/control/bundle.h). One name per reason, for
// counters and log lines; the Error's reason names the field (an RFC 6901 pointer such as /relays/0/id).
#pragma once

#include <cstdint>
#include <string_view>

#include "crypto/result.h"

namespace strait::control {

enum class WireError : uint8_t {
  kTooLarge,            // more bytes than the bound (kMaxBundleBytes, kMaxEventLineBytes)
  kMalformedJson,       // not one JSON value (syntax, bad UTF-8, trailing bytes)
  kTooDeep,             // nested deeper than wire::kMaxJsonDepth
  kNotObject,           // the top level, or a field that must be an object, is something else
  kMissingField,        // a required field is absent (or null where null is not allowed)
  kWrongType,           // a field of the wrong JSON type
  kBadValue,            // right type, wrong value: id syntax, time, base64, key length, event id, out of range
  kUnsupportedVersion,  // bundle / control.json version is not the one this daemon reads
};
inline constexpr size_t kWireErrorCount = 8;

inline std::string_view WireErrorName(WireError e) {
  switch (e) {
    case WireError::kTooLarge: return "too_large";
    case WireError::kMalformedJson: return "malformed_json";
    case WireError::kTooDeep: return "too_deep";
    case WireError::kNotObject: return "not_object";
    case WireError::kMissingField: return "missing_field";
    case WireError::kWrongType: return "wrong_type";
    case WireError::kBadValue: return "bad_value";
    case WireError::kUnsupportedVersion: return "unsupported_version";
  }
  return "unknown";
}

using WireResultError = Error<WireError>;

}  // namespace strait::control
