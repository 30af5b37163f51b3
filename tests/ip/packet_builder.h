// Test helpers for strait_ip: a naive RFC 1071 reference (one 16-bit word at a time, straight from the RFC's
// definition) to cross-check the fast sum, hex packets, and a builder of IPv4 packets with correct checksums.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/hex.h"

namespace strait::ip::testing {

// The one's-complement sum, word by word, as RFC 1071 §1 defines it (odd byte padded with a zero low byte).
inline uint16_t NaiveSum(std::span<const uint8_t> b, uint32_t initial = 0) {
  uint64_t sum = initial;
  for (size_t i = 0; i < b.size(); i += 2) {
    const uint16_t hi = b[i];
    const uint16_t lo = i + 1 < b.size() ? b[i + 1] : 0;
    sum += static_cast<uint16_t>((hi << 8) | lo);
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
inline uint16_t NaiveChecksum(std::span<const uint8_t> b, uint32_t initial = 0) {
  return static_cast<uint16_t>(~NaiveSum(b, initial));
}
inline uint16_t NaivePseudoSum(uint32_t src, uint32_t dst, uint8_t proto, size_t length) {
  const uint8_t ph[12] = {static_cast<uint8_t>(src >> 24), static_cast<uint8_t>(src >> 16),
                          static_cast<uint8_t>(src >> 8),  static_cast<uint8_t>(src),
                          static_cast<uint8_t>(dst >> 24), static_cast<uint8_t>(dst >> 16),
                          static_cast<uint8_t>(dst >> 8),  static_cast<uint8_t>(dst),
                          0, proto, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)};
  return NaiveSum(ph);
}

inline std::vector<uint8_t> Hex(std::string_view text) {
  auto b = crypto::HexDecode(text, " \n");
  EXPECT_TRUE(b.has_value()) << text;
  return b.value_or(std::vector<uint8_t>{});
}

inline uint16_t Get16(std::span<const uint8_t> b, size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }
inline void Put16(std::span<uint8_t> b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void Put32(std::span<uint8_t> b, size_t at, uint32_t v) {
  Put16(b, at, static_cast<uint16_t>(v >> 16));
  Put16(b, at + 2, static_cast<uint16_t>(v));
}

// A packet's fields; Build() writes the header, `options`, then `l4` (the transport bytes as given), and fills the
// IP checksum and, for TCP/UDP/ICMP when `fill_l4_checksum`, the transport checksum (naively).
struct PacketSpec {
  uint32_t src = 0x0A000002;  // 10.0.0.2
  uint32_t dst = 0x5DB8D822;  // 93.184.216.34
  uint8_t protocol = 6;
  uint8_t ttl = 64;
  uint16_t id = 0x1234;
  uint16_t flags_offset = 0x4000;  // DF
  std::vector<uint8_t> options;    // IP options (a multiple of 4 bytes)
  std::vector<uint8_t> l4;
  bool fill_l4_checksum = true;
};

inline std::vector<uint8_t> Build(const PacketSpec& s) {
  const size_t hl = 20 + s.options.size();
  std::vector<uint8_t> p(hl + s.l4.size());
  p[0] = static_cast<uint8_t>(0x40 | (hl / 4));
  Put16(p, 2, static_cast<uint16_t>(p.size()));
  Put16(p, 4, s.id);
  Put16(p, 6, s.flags_offset);
  p[8] = s.ttl;
  p[9] = s.protocol;
  Put32(p, 12, s.src);
  Put32(p, 16, s.dst);
  std::copy(s.options.begin(), s.options.end(), p.begin() + 20);
  std::copy(s.l4.begin(), s.l4.end(), p.begin() + static_cast<std::ptrdiff_t>(hl));
  Put16(p, 10, NaiveChecksum(std::span<const uint8_t>(p).first(hl)));
  const bool first = (s.flags_offset & 0x1FFF) == 0;
  if (s.fill_l4_checksum && first) {
    std::span<uint8_t> l4 = std::span<uint8_t>(p).subspan(hl);
    if (s.protocol == 6 && l4.size() >= 20) {
      Put16(l4, 16, 0);
      Put16(l4, 16, NaiveChecksum(l4, NaivePseudoSum(s.src, s.dst, 6, l4.size())));
    } else if (s.protocol == 17 && l4.size() >= 8) {
      Put16(l4, 6, 0);
      const uint16_t c = NaiveChecksum(l4, NaivePseudoSum(s.src, s.dst, 17, l4.size()));
      Put16(l4, 6, c == 0 ? 0xFFFF : c);
    } else if (s.protocol == 1 && l4.size() >= 8) {
      Put16(l4, 2, 0);
      Put16(l4, 2, NaiveChecksum(l4));
    }
  }
  return p;
}

// A TCP header: ports, flags and `options` (padded by the caller to a multiple of 4), then `data`.
inline std::vector<uint8_t> Tcp(uint8_t flags, std::vector<uint8_t> options = {}, std::vector<uint8_t> data = {}) {
  std::vector<uint8_t> t(20);
  Put16(t, 0, 51234);
  Put16(t, 2, 443);
  Put32(t, 4, 0x6C1D2E3F);
  Put32(t, 8, (flags & 0x10) ? 0x01020304 : 0);
  t[12] = static_cast<uint8_t>(((20 + options.size()) / 4) << 4);
  t[13] = flags;
  Put16(t, 14, 64240);
  t.insert(t.end(), options.begin(), options.end());
  t.insert(t.end(), data.begin(), data.end());
  return t;
}

inline std::vector<uint8_t> Udp(std::vector<uint8_t> data, uint16_t src_port = 53535, uint16_t dst_port = 53) {
  std::vector<uint8_t> u(8);
  Put16(u, 0, src_port);
  Put16(u, 2, dst_port);
  Put16(u, 4, static_cast<uint16_t>(8 + data.size()));
  u.insert(u.end(), data.begin(), data.end());
  return u;
}

inline std::vector<uint8_t> Icmp(uint8_t type, uint8_t code, std::vector<uint8_t> body = {}, uint16_t id = 0x1234,
                                 uint16_t seq = 1) {
  std::vector<uint8_t> m(8);
  m[0] = type;
  m[1] = code;
  Put16(m, 4, id);
  Put16(m, 6, seq);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// Known answers: packets built by hand in the shape Linux sends them, their checksums computed by an independent
// reference (a Python RFC 1071 sum), not by strait_ip.
//   SYN 10.0.0.2:51234 -> 93.184.216.34:443, options MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
inline constexpr std::string_view kSynHex =
    "4500003c3a4b40004006c0940a000002 5db8d822c82201bb6c1d2e3f00000000"
    "a002faf0303e0000020405b40402080a 1b3c5d7e0000000001030307";
inline constexpr uint16_t kSynIpChecksum = 0xC094;
inline constexpr uint16_t kSynTcpChecksum = 0x303E;
inline constexpr uint16_t kSynTcpChecksumMss1380 = 0x308E;  // the same SYN with MSS 1380, recomputed whole
//   UDP DNS query 10.0.0.2:53535 -> 1.1.1.1:53 for example.com A, DF clear.
inline constexpr std::string_view kUdpHex =
    "450000391c4600004011526b0a000002 01010101d11f0035002593eebeef0100"
    "0001000000000000076578616d706c65 03636f6d0000010001";
inline constexpr uint16_t kUdpIpChecksum = 0x526B;
inline constexpr uint16_t kUdpChecksum = 0x93EE;
//   ICMP echo request 10.0.0.2 -> 8.8.8.8, id 0x1234, seq 1, 56 bytes of data (as ping sends).
inline constexpr std::string_view kEchoHex =
    "450000540f0e40004001118a0a000002 0808080808002cf61234000110111213"
    "1415161718191a1b1c1d1e1f20212223 2425262728292a2b2c2d2e2f30313233"
    "3435363738393a3b3c3d3e3f40414243 44454647";
inline constexpr uint16_t kEchoIpChecksum = 0x118A;
inline constexpr uint16_t kEchoIcmpChecksum = 0x2CF6;

}  // namespace strait::ip::testing
