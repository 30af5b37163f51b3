// The text format and the format-independent helpers (format.h).
#include <ctime>

#include <fmt/format.h>

#include "logging/format.h"

namespace strait::logging {
namespace {

bool Bare(std::string_view v) {
  if (v.empty()) return false;
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') return false;
  }
  return true;
}

void AppendFields(std::string& out, const Event& event) {
  for (const Field& f : event.fields()) {
    out += ' ';
    out += f.key;
    out += '=';
    out += QuoteValue(f.value);
  }
}

}  // namespace

std::string_view FormatName(Format format) { return format == Format::kJson ? "json" : "text"; }

std::optional<Format> ParseFormat(std::string_view text) {
  if (text == "text") return Format::kText;
  if (text == "json") return Format::kJson;
  return std::nullopt;
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(t);
  const std::time_t secs = std::chrono::system_clock::to_time_t(ms);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const auto frac = (ms.time_since_epoch() % std::chrono::seconds(1)).count();
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, frac < 0 ? frac + 1000 : frac);
}

std::string QuoteValue(std::string_view value) {
  if (Bare(value)) return std::string(value);
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\x{:02x}", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string Describe(const Event& event) {
  std::string out = event.name();
  AppendFields(out, event);
  return out;
}

std::string FormatText(const Event& event, std::chrono::system_clock::time_point t) {
  std::string out = FormatTime(t);
  out += ' ';
  out += LevelName(event.level());
  out += ' ';
  out += event.name();
  AppendFields(out, event);
  return out;
}

}  // namespace strait::logging
