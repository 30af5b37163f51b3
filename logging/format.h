// The two line formats of logging::Logger, as pure functions (no I/O, no clock: the time is passed in).
//
// text: one line per event, logfmt style:
//   2026-12-02T18:14:00.123Z warn connector_login_failed relay=127.0.0.1:1 reason="connect_failed (refused)"
//   A value is written bare when it is non-empty and made of printable ASCII other than space, '"', '=' and '\';
//   otherwise it is quoted, with \" \\ \n \r \t and \xHH (other control bytes, DEL) escaped inside the quotes.
//   Bytes >= 0x80 pass through inside quotes. So a peer's text can never start a new line or forge a field.
// json: one object per line, keys in this order: ts, level, event, then the fields (all values are strings):
//   {"ts":"2026-12-02T18:14:00.123Z","level":"warn","event":"connector_login_failed","relay":"127.0.0.1:1",...}
//   Invalid UTF-8 in a value becomes U+FFFD, so every line is valid JSON (RFC 8259). A field named ts, level or
//   event is written as field.ts, field.level or field.event.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "logging/event.h"

namespace strait::logging {

enum class Format : std::uint8_t { kText, kJson };

// "text" / "json".
std::string_view FormatName(Format format);
std::optional<Format> ParseFormat(std::string_view text);

// RFC 3339 UTC with milliseconds: 2026-12-02T18:14:00.123Z.
std::string FormatTime(std::chrono::system_clock::time_point t);

// `value` as the text format writes it (bare or quoted, see above).
std::string QuoteValue(std::string_view value);

// One line, without the trailing newline.
std::string FormatText(const Event& event, std::chrono::system_clock::time_point t);
std::string FormatJson(const Event& event, std::chrono::system_clock::time_point t);
inline std::string FormatLine(Format format, const Event& event, std::chrono::system_clock::time_point t) {
  return format == Format::kJson ? FormatJson(event, t) : FormatText(event, t);
}

}  // namespace strait::logging
