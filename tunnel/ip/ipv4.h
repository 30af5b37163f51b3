// IPv4 packets as the IP tunnel carries them (docs/ip-packets.md; docs/protocol.md §9: one packet per
// SEALED_DATAGRAM). ParseIpv4 judges a packet read from a TUN or opened from a datagram and returns a view of it,
// or the name of the reason it is dropped (one counter per reason, style.md item 5).
//
//   0        1        2                 4                 6                 8        9        10        12
//   |ver|ihl |  tos   |  total_length   |  identification | flags|frag_off  |  ttl   | proto  | checksum |
//   12                                 16                                  20                 ihl*4
//   |  source address                  |  destination address             |  options ...     |  payload ...
//
// What is checked, in this order (each failure is the DropReason named): at least 20 bytes (too_short); version 4
// (bad_version); 5 <= IHL and IHL*4 <= the buffer (bad_header_length); IHL*4 <= total_length <= the buffer
// (bad_total_length); the header checksum (bad_header_checksum); a fragment that would reassemble beyond 65,535
// bytes, or a TCP fragment at offset 8 that could rewrite the first fragment's flags (RFC 1858)
// (bad_fragment). Then, in an unfragmented packet or a first fragment only, the transport header: TCP 20 <= data
// offset*4 <= the bytes present (bad_tcp_header); UDP 8 header bytes present (bad_udp_header) and
// 8 <= length <= the bytes present, or, in a first fragment, 8 <= length with at least this fragment's bytes
// (bad_udp_length); ICMP 8 header bytes present (bad_icmp_header). IP options are not interpreted, and the TCP
// and UDP checksums are not verified here (the receiving stack does; TransportChecksumValid does it on demand).
//
// Bytes beyond total_length (link padding) are not part of the packet: the view, its payload and every span in it
// end at total_length. Likewise a UDP datagram ends at its length field.
//
// Addresses are uint32_t in host order throughout strait_ip (10.0.0.1 is 0x0A000001).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strait::ip {

// ---- Header layout (RFC 791) ----
inline constexpr size_t kIpv4MinHeaderSize = 20;
inline constexpr size_t kIpv4MaxHeaderSize = 60;  // IHL is 4 bits, in 32-bit words
inline constexpr size_t kIpv4MaxPacketSize = 65535;
inline constexpr size_t kIpv4TotalLengthOffset = 2;  // u16
inline constexpr size_t kIpv4FlagsOffset = 6;        // u16: 3 flag bits, 13 bits of offset in 8-byte units
inline constexpr size_t kIpv4TtlOffset = 8;          // u8
inline constexpr size_t kIpv4ChecksumOffset = 10;    // u16
inline constexpr size_t kIpv4SourceOffset = 12;      // u32
inline constexpr size_t kIpv4DestinationOffset = 16; // u32
static_assert(kIpv4DestinationOffset + 4 == kIpv4MinHeaderSize);
// The address at `offset` (kIpv4SourceOffset, kIpv4DestinationOffset) of a packet with at least 20 bytes, host order.
inline uint32_t LoadAddress(std::span<const uint8_t> packet, size_t offset) {
  return (uint32_t{packet[offset]} << 24) | (uint32_t{packet[offset + 1]} << 16) |
         (uint32_t{packet[offset + 2]} << 8) | packet[offset + 3];
}
// The netmask of a prefix length 0..32 (0 -> 0, 24 -> 0xFFFFFF00, 32 -> 0xFFFFFFFF).
constexpr uint32_t PrefixMask(unsigned length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - (length > 32 ? 32 : length)); }

inline constexpr uint16_t kIpv4FlagDontFragment = 0x4000;
inline constexpr uint16_t kIpv4FlagMoreFragments = 0x2000;
inline constexpr uint16_t kIpv4FragmentOffsetMask = 0x1FFF;

inline constexpr size_t kTcpMinHeaderSize = 20;
inline constexpr size_t kTcpMaxHeaderSize = 60;  // data offset is 4 bits, in 32-bit words
inline constexpr size_t kTcpChecksumOffset = 16;  // within the TCP header
inline constexpr size_t kUdpHeaderSize = 8;
inline constexpr size_t kUdpChecksumOffset = 6;
inline constexpr size_t kIcmpHeaderSize = 8;  // type, code, checksum, 4 bytes that depend on the type
inline constexpr size_t kIcmpChecksumOffset = 2;

namespace protocol {
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
}  // namespace protocol

namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
}  // namespace tcp_flag

namespace icmp_type {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestinationUnreachable = 3;
inline constexpr uint8_t kEchoRequest = 8;
}  // namespace icmp_type

// Why a packet is not taken; DropReasonName gives each a stable snake_case name for counters.
enum class DropReason : uint8_t {
  kTooShort,           // fewer than 20 bytes
  kBadVersion,         // version field not 4
  kBadHeaderLength,    // IHL below 5, or the header longer than the buffer
  kBadTotalLength,     // total_length below the header length or beyond the buffer
  kBadHeaderChecksum,  // the IPv4 header checksum does not verify
  kBadFragment,        // reassembles beyond 65,535 bytes, or a TCP fragment at offset 8 (RFC 1858)
  kBadTcpHeader,       // TCP data offset below 5, or the TCP header not all in the packet (or first fragment)
  kBadUdpHeader,       // fewer than 8 UDP header bytes
  kBadUdpLength,       // UDP length below 8, or beyond the packet (or, in a first fragment, below its bytes)
  kBadIcmpHeader,      // fewer than 8 ICMP header bytes
};
inline constexpr size_t kDropReasonCount = 10;
std::string_view DropReasonName(DropReason r);

// What the view knows of the transport header.
enum class Transport : uint8_t {
  kNone,         // a non-first fragment: no transport header in this packet
  kUnsupported,  // a protocol other than TCP, UDP and ICMP: parsed as IP only, the caller decides
  kTcp,
  kUdp,
  kIcmp,
};

struct TcpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;            // byte 13: tcp_flag::* (CWR, ECE in the top bits)
  uint16_t checksum = 0;
  std::span<const uint8_t> header;   // the whole TCP header, data_offset*4 bytes
  std::span<const uint8_t> options;  // header bytes after the first 20 (empty if none)
  std::span<const uint8_t> payload;  // the segment's data present in this packet
  bool syn() const { return (flags & tcp_flag::kSyn) != 0; }
};

struct UdpHeader {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint16_t length = 0;    // header + data, as sent (in a first fragment, the whole datagram's)
  uint16_t checksum = 0;  // 0: the sender computed none
  std::span<const uint8_t> payload;  // the data present: up to `length` - 8 bytes
};

struct IcmpHeader {
  uint8_t type = 0;
  uint8_t code = 0;
  uint16_t checksum = 0;
  // Echo request and reply (types 8, 0): identifier and sequence number; 0 for other types.
  uint16_t echo_id = 0;
  uint16_t echo_seq = 0;
  std::span<const uint8_t> rest;  // the 4 type-dependent header bytes (e.g. the next-hop MTU for type 3 code 4)
  std::span<const uint8_t> body;  // after the 8-byte header
  bool is_echo() const { return type == icmp_type::kEchoRequest || type == icmp_type::kEchoReply; }
};

// A view of a packet that passed ParseIpv4; every span points into the caller's buffer and lives as long as it.
struct Ipv4Packet {
  std::span<const uint8_t> bytes;    // the packet: total_length bytes
  std::span<const uint8_t> header;   // header_length bytes
  std::span<const uint8_t> options;  // header bytes after the first 20
  std::span<const uint8_t> payload;  // after the header, up to total_length
  uint8_t header_length = 0;         // bytes (IHL * 4)
  uint8_t tos = 0;
  uint16_t total_length = 0;
  uint16_t id = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  uint16_t fragment_offset = 0;  // in bytes (the field times 8)
  uint8_t ttl = 0;
  uint8_t protocol = 0;
  uint32_t src = 0;  // host order
  uint32_t dst = 0;
  Transport transport = Transport::kNone;
  TcpHeader tcp;    // when transport == kTcp
  UdpHeader udp;    // when transport == kUdp
  IcmpHeader icmp;  // when transport == kIcmp

  bool is_fragment() const { return more_fragments || fragment_offset != 0; }
};

struct ParsedIpv4 {
  bool ok = false;
  DropReason drop = DropReason::kTooShort;  // why not, when !ok
  Ipv4Packet packet;                        // when ok
};

// Judges `bytes` (see the checks above). Never reads outside `bytes`, never allocates; any thread.
ParsedIpv4 ParseIpv4(std::span<const uint8_t> bytes);

// Whether the TCP or UDP checksum of a parsed, unfragmented packet verifies over the pseudo-header and the whole
// segment (a UDP checksum of 0, "none", verifies). False for fragments and other protocols; ICMP is checked over
// its message. A full pass over the payload: for tests, the fuzzer and diagnostics, not the forwarding path.
bool TransportChecksumValid(const Ipv4Packet& p);

}  // namespace strait::ip
