// Byte strings written by hand in tests: known answers for wire formats (tunnel/frame.h, docs/protocol.md) and
// published test vectors (RFC 8439), as hex with spaces, never produced by the code under test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/hex.h"

namespace strait::testing {

using Wire = std::vector<uint8_t>;

// "01 0a ff" -> {0x01, 0x0a, 0xff} (crypto::HexDecode). Spaces and newlines between pairs are ignored; anything
// else that is not a hex digit pair is a mistake in the test and fails it.
inline Wire Hex(std::string_view s) {
  auto bytes = crypto::HexDecode(s, " \n");
  if (!bytes) {
    ADD_FAILURE() << "not hex digit pairs: \"" << s << "\"";
    return {};
  }
  return std::move(*bytes);
}

// ASCII text as bytes ("cred" -> 63 72 65 64).
inline Wire Ascii(std::string_view s) { return Wire(s.begin(), s.end()); }

inline Wire Cat(std::initializer_list<Wire> parts) {
  Wire out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline std::span<const uint8_t> View(const Wire& w) { return w; }
inline std::string Str(std::span<const uint8_t> b) { return {b.begin(), b.end()}; }

}  // namespace strait::testing
