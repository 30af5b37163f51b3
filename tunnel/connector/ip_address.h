// IpAddress: an IPv4 or IPv6 address as the connector dials it, in network byte order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/net.h"

namespace strait::connector {

struct IpAddress {
  enum class Family : uint8_t { kV4, kV6 };

  Family family = Family::kV4;
  std::array<uint8_t, 16> bytes{};  // kV4: the first 4 bytes

  static IpAddress V4(std::array<uint8_t, 4> b);
  static IpAddress V6(std::array<uint8_t, 16> b);
  // Strict text forms only: dotted quad (no octal, hex or short forms) or RFC 4291 IPv6 text, no zone id.
  // nullopt for anything else (including names).
  static std::optional<IpAddress> Parse(std::string_view text);

  int bits() const { return family == Family::kV4 ? 32 : 128; }
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it reaches; any other address unchanged.
  IpAddress Unmapped() const;
  // 0.0.0.0/8 or ::: on Linux, connecting to these reaches the host itself, so policy never allows them.
  bool IsUnspecified() const;
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// The socket address to dial `a` at `port`.
runtime::SocketAddress ToSocketAddress(const IpAddress& a, std::uint16_t port);

}  // namespace strait::connector
