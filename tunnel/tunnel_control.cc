#include "tunnel/tunnel_control.h"

#include <array>

#include <fmt/format.h>

#include "crypto/byte_reader.h"
#include "tunnel/host_name.h"

namespace strait::tunnel {
namespace {

TunnelError Err(std::string reason) { return TunnelError{std::move(reason)}; }

uint32_t HostBitsOf(const Ipv4Prefix& p) { return p.length >= 32 ? 0 : (p.prefix & (~uint32_t{0} >> p.length)); }

// The checks a decoded or to-be-encoded config must pass; `mtu_max` 0 skips the upper MTU bound (encoders do not
// know the request).
Result<void, TunnelError> CheckConfig(const TunnelConfig& c, uint16_t mtu_max) {
  if (c.address == 0) return Fail(Err("address is 0.0.0.0"));
  if (c.address == c.gateway) return Fail(Err("address equals the gateway"));
  if (c.mtu < ip::kMinTunnelMtu) return Fail(Err(fmt::format("mtu {} below {}", c.mtu, ip::kMinTunnelMtu)));
  if (mtu_max != 0 && c.mtu > mtu_max) return Fail(Err(fmt::format("mtu {} above the {} asked for", c.mtu, mtu_max)));
  if (c.routes.size() > kMaxTunnelRoutes) return Fail(Err(fmt::format("more than {} routes", kMaxTunnelRoutes)));
  if (c.dns_servers.size() > kMaxTunnelDns) return Fail(Err(fmt::format("more than {} DNS servers", kMaxTunnelDns)));
  if (c.dns_domains.size() > kMaxTunnelDomains) {
    return Fail(Err(fmt::format("more than {} DNS domains", kMaxTunnelDomains)));
  }
  for (const Ipv4Prefix& r : c.routes) {
    if (r.length > 32) return Fail(Err(fmt::format("route length /{} above /32", r.length)));
    if (HostBitsOf(r) != 0) return Fail(Err(fmt::format("route {} has host bits set", Ipv4PrefixText(r))));
  }
  std::array<char, kMaxHostNameSize + 1> buf{};
  for (const std::string& d : c.dns_domains) {
    std::string_view canonical;
    if (!CanonicalHostName(d, buf, &canonical)) return Fail(Err("a DNS domain is not a valid DNS name"));
  }
  return {};
}

}  // namespace

std::string Ipv4Text(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string Ipv4PrefixText(const Ipv4Prefix& p) { return fmt::format("{}/{}", Ipv4Text(p.prefix), p.length); }

Result<TunnelRequest, TunnelError> DecodeTunnelRequest(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  TunnelRequest req;
  if (!r.ReadU16(&req.mtu_max)) return Fail(Err("TUNNEL_REQUEST truncated"));
  if (req.mtu_max < ip::kMinTunnelMtu) {
    return Fail(Err(fmt::format("mtu_max {} below {}", req.mtu_max, ip::kMinTunnelMtu)));
  }
  return req;
}

Result<TunnelConfig, TunnelError> DecodeTunnelConfig(std::span<const uint8_t> payload, uint16_t mtu_max) {
  ByteReader r(payload);
  TunnelConfig c;
  uint8_t n = 0;
  if (!r.ReadU32(&c.address) || !r.ReadU32(&c.gateway) || !r.ReadU16(&c.mtu) || !r.ReadU32(&c.lease_s) ||
      !r.ReadU8(&n)) {
    return Fail(Err("TUNNEL_CONFIG truncated"));
  }
  if (n > kMaxTunnelRoutes) return Fail(Err(fmt::format("more than {} routes", kMaxTunnelRoutes)));
  for (uint8_t i = 0; i < n; ++i) {
    Ipv4Prefix p;
    if (!r.ReadU32(&p.prefix) || !r.ReadU8(&p.length)) return Fail(Err("TUNNEL_CONFIG routes truncated"));
    c.routes.push_back(p);
  }
  if (!r.ReadU8(&n)) return Fail(Err("TUNNEL_CONFIG truncated before the DNS servers"));
  if (n > kMaxTunnelDns) return Fail(Err(fmt::format("more than {} DNS servers", kMaxTunnelDns)));
  for (uint8_t i = 0; i < n; ++i) {
    uint32_t a = 0;
    if (!r.ReadU32(&a)) return Fail(Err("TUNNEL_CONFIG DNS servers truncated"));
    c.dns_servers.push_back(a);
  }
  if (!r.ReadU8(&n)) return Fail(Err("TUNNEL_CONFIG truncated before the DNS domains"));
  if (n > kMaxTunnelDomains) return Fail(Err(fmt::format("more than {} DNS domains", kMaxTunnelDomains)));
  for (uint8_t i = 0; i < n; ++i) {
    std::span<const uint8_t> d;
    if (!r.ReadPrefixed8(&d)) return Fail(Err("TUNNEL_CONFIG DNS domains truncated"));
    c.dns_domains.emplace_back(d.begin(), d.end());
  }
  if (auto ok = CheckConfig(c, mtu_max); !ok) return Fail(ok.error());
  return c;
}

Result<TunnelRefused, TunnelError> DecodeTunnelRefused(std::span<const uint8_t> payload) {
  ByteReader r(payload);
  uint16_t code = 0;
  std::span<const uint8_t> reason;
  if (!r.ReadU16(&code) || !r.ReadPrefixed8(&reason)) return Fail(Err("TUNNEL_REFUSED truncated"));
  return TunnelRefused{static_cast<ErrorCode>(code), std::string(reason.begin(), reason.end())};
}

Result<void, TunnelError> EncodeTunnelRequest(const TunnelRequest& req, std::vector<uint8_t>* out) {
  if (req.mtu_max < ip::kMinTunnelMtu) {
    return Fail(Err(fmt::format("mtu_max {} below {}", req.mtu_max, ip::kMinTunnelMtu)));
  }
  uint8_t b[2];
  ByteWriter w(b);
  w.U16(req.mtu_max);
  out->insert(out->end(), b, b + sizeof b);
  return {};
}

Result<void, TunnelError> EncodeTunnelConfig(const TunnelConfig& c, std::vector<uint8_t>* out) {
  if (auto ok = CheckConfig(c, 0); !ok) return Fail(ok.error());
  size_t size = 4 + 4 + 2 + 4 + 1 + c.routes.size() * 5 + 1 + c.dns_servers.size() * 4 + 1;
  for (const std::string& d : c.dns_domains) size += 1 + d.size();
  const size_t at = out->size();
  out->resize(at + size);
  ByteWriter w(std::span<uint8_t>(*out).subspan(at));
  w.U32(c.address);
  w.U32(c.gateway);
  w.U16(c.mtu);
  w.U32(c.lease_s);
  w.U8(static_cast<uint8_t>(c.routes.size()));
  for (const Ipv4Prefix& p : c.routes) {
    w.U32(p.prefix);
    w.U8(p.length);
  }
  w.U8(static_cast<uint8_t>(c.dns_servers.size()));
  for (uint32_t a : c.dns_servers) w.U32(a);
  w.U8(static_cast<uint8_t>(c.dns_domains.size()));
  for (const std::string& d : c.dns_domains) {
    w.U8(static_cast<uint8_t>(d.size()));  // at most 254: CheckConfig took it as a DNS name
    w.Bytes(std::string_view(d));
  }
  return {};
}

Result<void, TunnelError> EncodeTunnelRefused(const TunnelRefused& r, std::vector<uint8_t>* out) {
  if (r.reason.size() > kMaxTunnelReason) return Fail(Err("reason longer than 255 bytes"));
  const size_t at = out->size();
  out->resize(at + 2 + 1 + r.reason.size());
  ByteWriter w(std::span<uint8_t>(*out).subspan(at));
  w.U16(static_cast<uint16_t>(r.code));
  w.U8(static_cast<uint8_t>(r.reason.size()));
  w.Bytes(std::string_view(r.reason));
  return {};
}

}  // namespace strait::tunnel
