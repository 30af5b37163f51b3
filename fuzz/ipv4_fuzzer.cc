// ipv4_fuzzer: packets from a TUN or a SEALED_DATAGRAM into the IP tunnel's packet core (tunnel/ip/): ParseIpv4,
// ClampMss, BuildIcmpError and the checksums.
//
// Input: [u8 mode] then the packet. Mode bit 0: fill in the IPv4 header checksum before anything reads the packet,
// bit 1: then fill in the TCP, UDP or ICMP checksum of an unfragmented packet (so the mutations get past the
// checks a random byte string never passes); bits 2-3 pick the clamp limit (536, 1380, 9000, 0); bit 4 reads the
// packet one byte into its buffer (an odd address for the checksum loads). The packet is copied to a buffer of
// its exact size, so ASan traps any read past it.
//
// Properties (trap on violation), beyond "never crashes, never reads out of bounds":
//   - a parse's spans all lie within the packet, in order, and end at total_length; the transport view matches the
//     protocol and the fragment fields; DropReasonName is never "unknown";
//   - the fast sum equals a word-by-word RFC 1071 sum over the packet, at either alignment;
//   - ClampMss: kNotParsed iff the parse failed, kNotTcp iff no TCP header, kNotSyn iff not SYN; anything but
//     kClamped leaves every byte as it was; after kClamped only MSS values and the TCP checksum changed, the packet
//     still parses, every MSS option is at or below the limit, the TCP checksum verifies iff it did before (for an
//     unfragmented packet), and clamping again changes nothing (kWithinLimit);
//   - BuildIcmpError, each kind: not_parsed iff the parse failed; an answer parses, is at most 576 bytes, goes from
//     the gateway to the packet's source, has valid IP and ICMP checksums and quotes the packet's first bytes; no
//     answer writes nothing.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tunnel/ip/checksum.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/mss_clamp.h"

namespace {

using namespace strait::ip;  // NOLINT(google-build-using-namespace)

void Check(bool ok) {
  if (!ok) std::abort();
}

constexpr uint32_t kGateway = 0x64400001;

uint16_t NaiveSum(std::span<const uint8_t> b, uint32_t initial = 0) {
  uint64_t sum = initial;
  for (size_t i = 0; i < b.size(); i += 2) sum += (uint32_t{b[i]} << 8) | (i + 1 < b.size() ? b[i + 1] : 0u);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void Put16(std::span<uint8_t> b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

bool Within(std::span<const uint8_t> inner, std::span<const uint8_t> outer) {
  return inner.empty() ||
         (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

void FixIpChecksum(std::span<uint8_t> p) {
  if (p.size() < kIpv4MinHeaderSize) return;
  const size_t hl = (p[0] & 0x0Fu) * 4;
  if (hl < kIpv4MinHeaderSize || hl > p.size()) return;
  Put16(p, kIpv4ChecksumOffset, 0);
  Put16(p, kIpv4ChecksumOffset, static_cast<uint16_t>(~NaiveSum(p.first(hl))));
}

void FixTransportChecksum(std::span<uint8_t> b) {
  const ParsedIpv4 r = ParseIpv4(b);
  if (!r.ok || r.packet.is_fragment()) return;
  const Ipv4Packet& p = r.packet;
  std::span<uint8_t> l4 = b.subspan(p.header_length, p.payload.size());
  if (p.transport == Transport::kTcp) {
    Put16(l4, kTcpChecksumOffset, 0);
    const uint16_t pseudo = PseudoHeaderSum(p.src, p.dst, protocol::kTcp, static_cast<uint16_t>(l4.size()));
    Put16(l4, kTcpChecksumOffset, static_cast<uint16_t>(~NaiveSum(l4, pseudo)));
  } else if (p.transport == Transport::kUdp) {
    l4 = l4.first(p.udp.length);
    Put16(l4, kUdpChecksumOffset, 0);
    const uint16_t pseudo = PseudoHeaderSum(p.src, p.dst, protocol::kUdp, static_cast<uint16_t>(l4.size()));
    Put16(l4, kUdpChecksumOffset, static_cast<uint16_t>(~NaiveSum(l4, pseudo)));
  } else if (p.transport == Transport::kIcmp) {
    Put16(l4, kIcmpChecksumOffset, 0);
    Put16(l4, kIcmpChecksumOffset, static_cast<uint16_t>(~NaiveSum(l4)));
  }
}

void CheckView(const ParsedIpv4& r, std::span<const uint8_t> in) {
  Check(DropReasonName(r.drop) != "unknown");
  if (!r.ok) return;
  const Ipv4Packet& p = r.packet;
  Check(p.bytes.data() == in.data() && p.bytes.size() == p.total_length && p.total_length <= in.size());
  Check(p.header.size() == p.header_length && p.header_length >= 20 && p.header_length <= 60);
  Check(p.options.size() == p.header_length - 20u && Within(p.options, p.header));
  Check(p.payload.data() == p.bytes.data() + p.header_length && p.payload.size() == p.total_length - p.header_length);
  Check(NaiveSum(p.header) == 0xFFFF);
  Check(p.fragment_offset % 8 == 0 && p.fragment_offset + p.total_length <= 65535u);
  const bool first = p.fragment_offset == 0;
  switch (p.transport) {
    case Transport::kNone:
      Check(!first);
      break;
    case Transport::kUnsupported:
      Check(first && p.protocol != 6 && p.protocol != 17 && p.protocol != 1);
      break;
    case Transport::kTcp:
      Check(first && p.protocol == 6);
      Check(p.tcp.header.data() == p.payload.data() && p.tcp.header.size() >= 20 && p.tcp.header.size() <= 60);
      Check(Within(p.tcp.header, p.payload) && Within(p.tcp.options, p.tcp.header));
      Check(Within(p.tcp.payload, p.payload));
      Check(p.tcp.header.size() + p.tcp.payload.size() == p.payload.size());
      break;
    case Transport::kUdp:
      Check(first && p.protocol == 17 && p.udp.length >= 8 && Within(p.udp.payload, p.payload));
      Check(p.more_fragments ? p.udp.length >= p.payload.size() : p.udp.length <= p.payload.size());
      break;
    case Transport::kIcmp:
      Check(first && p.protocol == 1 && p.payload.size() >= 8 && Within(p.icmp.body, p.payload));
      Check(p.icmp.rest.size() == 4);
      break;
  }
}

void CheckClamp(std::span<const uint8_t> in, const ParsedIpv4& r, uint16_t limit) {
  std::vector<uint8_t> copy(in.begin(), in.end());
  const ClampResult c = ClampMss(copy, limit);
  Check(ClampResultName(c) != "unknown");
  Check((c == ClampResult::kNotParsed) == !r.ok);
  if (!r.ok) return Check(std::ranges::equal(copy, in));
  const Ipv4Packet& p = r.packet;
  Check((c == ClampResult::kNotTcp) == (p.transport != Transport::kTcp));
  if (p.transport == Transport::kTcp) Check((c == ClampResult::kNotSyn) == !p.tcp.syn());
  if (c != ClampResult::kClamped) return Check(std::ranges::equal(copy, in));

  const size_t tcp_start = p.header_length, options_start = tcp_start + 20;
  const size_t tcp_end = tcp_start + p.tcp.header.size();
  for (size_t i = 0; i < in.size(); ++i) {
    if (copy[i] == in[i]) continue;
    const bool in_checksum = i == tcp_start + 16 || i == tcp_start + 17;
    Check(in_checksum || (i >= options_start && i < tcp_end));
  }
  const ParsedIpv4 after = ParseIpv4(copy);
  Check(after.ok && after.packet.transport == Transport::kTcp && after.packet.tcp.syn());
  // Every MSS option now at or below the limit (the walk here is the simplest one: the list was well formed).
  const auto opts = after.packet.tcp.options;
  for (size_t i = 0; i < opts.size();) {
    if (opts[i] == 0) break;
    if (opts[i] == 1) { ++i; continue; }
    if (opts[i] == 2) Check(((opts[i + 2] << 8) | opts[i + 3]) <= limit);
    i += opts[i + 1];
  }
  if (!p.is_fragment()) Check(TransportChecksumValid(after.packet) == TransportChecksumValid(p));
  std::vector<uint8_t> again = copy;
  Check(ClampMss(again, limit) == ClampResult::kWithinLimit && again == copy);
}

void CheckIcmpError(std::span<const uint8_t> in, const ParsedIpv4& r, IcmpErrorKind kind) {
  std::vector<uint8_t> out(kIcmpErrorMaxSize, 0xA5);
  const IcmpErrorResult e = BuildIcmpError(in, kind, kGateway, out, 1380);
  if (!e.answered) {
    Check(IcmpNoAnswerName(e.reason) != "unknown");
    Check((e.reason == IcmpNoAnswer::kNotParsed) == !r.ok);
    Check(e.reason != IcmpNoAnswer::kBufferTooSmall);  // 576 always suffices
    return Check(std::ranges::all_of(out, [](uint8_t b) { return b == 0xA5; }));
  }
  Check(r.ok && e.size >= 28 + 20 && e.size <= kIcmpErrorMaxSize);
  const ParsedIpv4 a = ParseIpv4(std::span<const uint8_t>(out).first(e.size));
  Check(a.ok && a.packet.transport == Transport::kIcmp && a.packet.icmp.type == 3);
  Check(a.packet.icmp.code == static_cast<uint8_t>(kind));
  Check(a.packet.src == kGateway && a.packet.dst == r.packet.src && a.packet.ttl == 64);
  Check(TransportChecksumValid(a.packet));
  const auto quote = a.packet.icmp.body;
  Check(quote.size() == std::min<size_t>(r.packet.bytes.size(), kIcmpErrorMaxSize - 28));
  Check(std::equal(quote.begin(), quote.end(), r.packet.bytes.begin()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const size_t n = size - 1;
  // The packet in a buffer of exactly its size (plus one leading byte for the odd-address mode).
  const size_t shift = (mode & 0x10) ? 1 : 0;
  std::vector<uint8_t> storage(shift + n);
  std::span<uint8_t> packet = std::span<uint8_t>(storage).subspan(shift);
  if (n != 0) std::memcpy(packet.data(), data + 1, n);
  if (mode & 0x01) FixIpChecksum(packet);
  if (mode & 0x02) FixTransportChecksum(packet);
  const std::span<const uint8_t> in = packet;

  Check(OnesComplementSum(in) == NaiveSum(in));
  Check(OnesComplementSum(in, 0x1FFFE) == NaiveSum(in, 0x1FFFE));

  const ParsedIpv4 r = ParseIpv4(in);
  CheckView(r, in);

  static constexpr std::array<uint16_t, 4> kLimits = {536, 1380, 9000, 0};
  CheckClamp(in, r, kLimits[(mode >> 2) & 3]);

  for (IcmpErrorKind kind : {IcmpErrorKind::kFragmentationNeeded, IcmpErrorKind::kAdministrativelyProhibited,
                             IcmpErrorKind::kHostUnreachable}) {
    CheckIcmpError(in, r, kind);
  }
  return 0;
}
