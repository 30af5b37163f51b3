// Target: where an app stream goes (an IPv4 address, an IPv6 address or a DNS name, plus a port).
//
// Its wire form is shared by two protocols, byte for byte:
//   OPEN (docs/protocol.md §8):  u8 addr_type (1 IPv4, 3 domain, 4 IPv6) | addr (4 / str8 / 16) | u16 port
//   SOCKS5 (RFC 1928 §4, §6):    ATYP (1 IPv4, 3 DOMAINNAME, 4 IPv6)     | ADDR (4 / str8 / 16) | PORT
// so WriteAddress/ReadAddress serve both the OPEN frame (after its u32 initial_window) and the SOCKS5 door.
//
// A domain name is kept as the bytes the application gave (1..255): names are resolved, validated and checked
// against policy on the connector's side. Target holds its name inline: building or copying one never allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "crypto/byte_reader.h"

namespace strait::device {

// Values are the OPEN frame's addr_type and SOCKS5's ATYP (they agree).
enum class AddressType : uint8_t {
  kIpv4 = 1,
  kDomain = 3,
  kIpv6 = 4,
};

inline constexpr size_t kIpv4Size = 4;
inline constexpr size_t kIpv6Size = 16;
inline constexpr size_t kMaxDomainSize = 255;  // str8
// Largest encoded address: u8 type + u8 length + 255 name bytes + u16 port.
inline constexpr size_t kMaxAddressWireSize = 1 + 1 + kMaxDomainSize + 2;
static_assert(kMaxAddressWireSize == 259);

struct Target {
  AddressType type = AddressType::kIpv4;
  std::array<uint8_t, kIpv6Size> ip{};  // kIpv4: the first 4 bytes; kIpv6: all 16; network byte order
  std::array<char, kMaxDomainSize> name{};
  uint8_t name_size = 0;  // kDomain: 1..255
  uint16_t port = 0;

  static Target Ipv4(std::array<uint8_t, kIpv4Size> addr, uint16_t port);
  static Target Ipv6(std::array<uint8_t, kIpv6Size> addr, uint16_t port);
  // nullopt if the name is empty or longer than 255 bytes. The bytes are kept as given.
  static std::optional<Target> Domain(std::string_view name, uint16_t port);

  std::string_view domain() const { return {name.data(), name_size}; }
  std::span<const uint8_t> address_bytes() const;  // 4 or 16 bytes for IP targets, empty for a domain

  friend bool operator==(const Target& a, const Target& b);
};

// Appends `u8 type | addr | u16 port`. Sticky failure on the writer if it does not fit.
void WriteAddress(const Target& t, ByteWriter& w);
// Reads `u8 type | addr | u16 port`. Returns false and consumes nothing if the bytes are short, the type is not
// 1, 3 or 4, or a domain is empty.
bool ReadAddress(ByteReader& r, Target* out);

}  // namespace strait::device
