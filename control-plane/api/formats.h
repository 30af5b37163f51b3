// Value formats of the REST API (docs/control-plane.md §4.1): RFC 3339 UTC times with whole seconds, standard
// base64 with padding for bytes, and names and emails. Pure functions; time is a value, never read here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strait::control {

using Seconds = std::chrono::sys_seconds;

// "2025-06-01T12:00:00Z" exactly: upper-case T and Z, no fraction, no offset, years 1970..9999, a real calendar
// date (leap years) and time (no leap second 60).
std::optional<Seconds> ParseTime(std::string_view text);
std::string FormatTime(Seconds t);  // asserts 1970..9999

// Standard base64 (RFC 4648 §4) with padding; decoding refuses missing padding, whitespace, other alphabets and
// non-zero trailing bits.
std::string EncodeBase64(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text);
// base64url without padding (RFC 4648 §5), as cursors use.
std::string EncodeBase64Url(std::span<const uint8_t> bytes);
std::optional<std::vector<uint8_t>> DecodeBase64Url(std::string_view text);

// A control character (C0, DEL or C1) in UTF-8 text; `text` is assumed valid UTF-8 (json_reader checked it).
bool HasControlChars(std::string_view text);

// §4.1 emails: 3..254 bytes, exactly one '@' with something on each side, no whitespace or control characters.
// On false, *why (if given) is a short reason ("expected one '@'").
bool IsValidEmail(std::string_view text, std::string* why = nullptr);
std::string LowerAscii(std::string_view text);

}  // namespace strait::control
