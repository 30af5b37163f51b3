// The IP tunnel's set-up frames (docs/ip-tunnel.md §1): inner frames (InnerType::kTunnel*) on stream 0 of a
// session, sealed like every stream frame. THIS HEADER IS THE AUTHORITY for their payloads (all integers
// big-endian, addresses IPv4 in host order once decoded):
//
//   TUNNEL_REQUEST  device -> connector   u16 mtu_max
//   TUNNEL_CONFIG   connector -> device   u32 address, u32 gateway, u16 mtu, u32 lease_s,
//                                         u8 n_routes, n x (u32 prefix, u8 length),
//                                         u8 n_dns, n x u32 server, u8 n_domains, n x str8 domain
//   TUNNEL_REFUSED  connector -> device   u16 code (ErrorCode), str8 reason
//
// Trailing bytes after the last field are ignored (fields are appended by later revisions, protocol.md §11), so
// only what is short or out of bounds is refused. Decoding also checks what makes a configuration unusable:
// routes with host bits set or lengths above 32, mtu outside kMinTunnelMtu..mtu_max, address equal to the
// gateway or zero, domains that are not DNS names. Sans-I/O; no allocation beyond the decoded vectors (bounded).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "tunnel/frame.h"
#include "tunnel/ip/tunnel_mtu.h"  // ip::kMinTunnelMtu

namespace strait::tunnel {

inline constexpr size_t kMaxTunnelRoutes = 64;
inline constexpr size_t kMaxTunnelDns = 4;
inline constexpr size_t kMaxTunnelDomains = 16;
inline constexpr size_t kMaxTunnelReason = 255;

struct TunnelRequest {
  uint16_t mtu_max = 0;
};

struct Ipv4Prefix {
  uint32_t prefix = 0;
  uint8_t length = 0;
  friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

struct TunnelConfig {
  uint32_t address = 0;
  uint32_t gateway = 0;
  uint16_t mtu = 0;
  uint32_t lease_s = 0;
  std::vector<Ipv4Prefix> routes;
  std::vector<uint32_t> dns_servers;
  std::vector<std::string> dns_domains;
  friend bool operator==(const TunnelConfig&, const TunnelConfig&) = default;
};

struct TunnelRefused {
  ErrorCode code = ErrorCode::kRefusedByPolicy;
  std::string reason;
};

// Why a tunnel set-up payload was refused; the reason text names the field.
struct TunnelError {
  std::string reason;
};

Result<TunnelRequest, TunnelError> DecodeTunnelRequest(std::span<const uint8_t> payload);
// `mtu_max` is what this device asked for: a config above it is refused.
Result<TunnelConfig, TunnelError> DecodeTunnelConfig(std::span<const uint8_t> payload, uint16_t mtu_max);
Result<TunnelRefused, TunnelError> DecodeTunnelRefused(std::span<const uint8_t> payload);

// Encoders append the payload to `out`; they check the same bounds the decoders do and fail (writing nothing)
// with the reason, so a connector can never send a config a device refuses.
Result<void, TunnelError> EncodeTunnelRequest(const TunnelRequest& r, std::vector<uint8_t>* out);
Result<void, TunnelError> EncodeTunnelConfig(const TunnelConfig& c, std::vector<uint8_t>* out);
Result<void, TunnelError> EncodeTunnelRefused(const TunnelRefused& r, std::vector<uint8_t>* out);

// "10.20.0.0/16"; "a.b.c.d" for an address.
std::string Ipv4Text(uint32_t address);
std::string Ipv4PrefixText(const Ipv4Prefix& p);

}  // namespace strait::tunnel
