#include "control-plane/api/formats.h"

#include <cassert>

#include <fmt/format.h>
#include <sodium.h>

namespace strait::control {
namespace {

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::string Encode(std::span<const uint8_t> bytes, int variant) {
  std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL libsodium writes
  return out;
}

std::optional<std::vector<uint8_t>> Decode(std::string_view text, int variant) {
  std::vector<uint8_t> out(text.size() / 4 * 3 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end, variant) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace

std::optional<Seconds> ParseTime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z' || !Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) || !Digits(s, 8, 2, &d) ||
      !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) || !Digits(s, 17, 2, &se)) {
    return std::nullopt;
  }
  if (y < 1970 || h > 23 || mi > 59 || se > 59) return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                   std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok()) return std::nullopt;
  return Seconds(std::chrono::sys_days(date).time_since_epoch()) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(se);
}

std::string FormatTime(Seconds t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day date(day);
  std::chrono::hh_mm_ss<std::chrono::seconds> tod(t - day);
  int y = static_cast<int>(date.year());
  assert(y >= 1970 && y <= 9999);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, static_cast<unsigned>(date.month()),
                     static_cast<unsigned>(date.day()), tod.hours().count(), tod.minutes().count(),
                     tod.seconds().count());
}

std::string EncodeBase64(std::span<const uint8_t> bytes) { return Encode(bytes, sodium_base64_VARIANT_ORIGINAL); }
std::optional<std::vector<uint8_t>> DecodeBase64(std::string_view text) {
  return Decode(text, sodium_base64_VARIANT_ORIGINAL);
}
std::string EncodeBase64Url(std::span<const uint8_t> bytes) {
  return Encode(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}
std::optional<std::vector<uint8_t>> DecodeBase64Url(std::string_view text) {
  return Decode(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool HasControlChars(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return true;
    // C1 controls U+0080..U+009F are C2 80..C2 9F in UTF-8.
    if (c == 0xC2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

bool IsValidEmail(std::string_view text, std::string* why) {
  auto fail = [&](const char* reason) {
    if (why != nullptr) *why = reason;
    return false;
  };
  if (text.size() < 3 || text.size() > 254) return fail("expected 3..254 bytes");
  size_t at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) {
    return fail("expected one '@'");
  }
  if (at == 0 || at + 1 == text.size()) return fail("expected text on both sides of '@'");
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      return fail("whitespace is not allowed");
    }
  }
  if (HasControlChars(text)) return fail("control characters are not allowed");
  return true;
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace strait::control
