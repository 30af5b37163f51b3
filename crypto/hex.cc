#include "crypto/hex.h"

#include <sodium.h>

namespace strait::crypto {

std::string HexEncode(std::span<const std::uint8_t> bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');  // sodium_bin2hex writes a terminating NUL
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

std::optional<std::vector<std::uint8_t>> HexDecode(std::string_view text, std::string_view ignore) {
  // libsodium reads `ignore` with strchr, which also finds a NUL: a NUL in either string is refused here.
  if (text.find('\0') != std::string_view::npos || ignore.find('\0') != std::string_view::npos) return std::nullopt;
  if (text.empty()) return std::vector<std::uint8_t>{};  // sodium's pointers are declared nonnull: no empty views
  const std::string skip(ignore);
  std::vector<std::uint8_t> out(text.size() / 2 + 1);  // never empty, for the same reason
  std::size_t len = 0;
  // With hex_end null, sodium_hex2bin fails unless it parsed all of `text`.
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), skip.empty() ? nullptr : skip.c_str(), &len,
                     nullptr) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace strait::crypto
