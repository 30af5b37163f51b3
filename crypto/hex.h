// Hex text for bytes, through libsodium's constant-time codec (sodium_bin2hex, sodium_hex2bin): what a person reads
// (digests, key fingerprints, `strait keys inspect`) and what tests write by hand (known answers, vectors).
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strait::crypto {

// Lower-case hex, two digits a byte: {0x01, 0xab} -> "01ab". Empty for no bytes.
std::string HexEncode(std::span<const std::uint8_t> bytes);

// Hex digits in pairs, either case. Characters listed in `ignore` (e.g. " \n") may stand between pairs, never
// inside one. nullopt for anything else: another character, a lone digit, a NUL.
std::optional<std::vector<std::uint8_t>> HexDecode(std::string_view text, std::string_view ignore = {});

}  // namespace strait::crypto
