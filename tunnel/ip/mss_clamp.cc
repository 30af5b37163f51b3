#include "tunnel/ip/mss_clamp.h"

#include <array>

#include "crypto/byte_reader.h"
#include "tunnel/ip/checksum.h"
#include "tunnel/ip/ipv4.h"

namespace strait::ip {
namespace {

// Where the MSS values lie in the options; 40 option bytes hold at most 10 MSS options.
struct MssFields {
  // Of each value, from the start of the options.
  std::array<size_t, (kTcpMaxHeaderSize - kTcpMinHeaderSize) / kTcpOptionMssLength> offsets{};
  size_t count = 0;
};

// Walks the option list. False if it is malformed.
bool FindMss(std::span<const uint8_t> options, MssFields& found) {
  ByteReader r(options);
  while (!r.empty()) {
    const size_t at = options.size() - r.remaining();
    uint8_t kind = 0, length = 0;
    r.ReadU8(&kind);
    if (kind == kTcpOptionEnd) return true;  // the rest is padding
    if (kind == kTcpOptionNop) continue;
    if (!r.ReadU8(&length) || length < 2 || !r.Skip(length - 2)) return false;
    if (kind == kTcpOptionMss) {
      if (length != kTcpOptionMssLength) return false;
      found.offsets[found.count++] = at + 2;
    }
  }
  return true;
}

uint16_t Swap(uint16_t v) { return static_cast<uint16_t>((v << 8) | (v >> 8)); }

}  // namespace

std::string_view ClampResultName(ClampResult r) {
  switch (r) {
    case ClampResult::kClamped: return "clamped";
    case ClampResult::kWithinLimit: return "within_limit";
    case ClampResult::kNoMssOption: return "no_mss_option";
    case ClampResult::kNotSyn: return "not_syn";
    case ClampResult::kNotTcp: return "not_tcp";
    case ClampResult::kNotParsed: return "not_parsed";
    case ClampResult::kMalformedOptions: return "malformed_options";
  }
  return "unknown";
}

ClampResult ClampMss(std::span<uint8_t> packet, uint16_t max_mss) {
  const ParsedIpv4 parsed = ParseIpv4(packet);
  if (!parsed.ok) return ClampResult::kNotParsed;
  const Ipv4Packet& p = parsed.packet;
  if (p.transport != Transport::kTcp) return ClampResult::kNotTcp;
  if (!p.tcp.syn()) return ClampResult::kNotSyn;

  MssFields mss;
  if (!FindMss(p.tcp.options, mss)) return ClampResult::kMalformedOptions;
  if (mss.count == 0) return ClampResult::kNoMssOption;

  // Offsets within the writable packet: the TCP header starts right after the IP header (ParseIpv4 checked that
  // both lie inside `packet`), its options after the fixed 20 bytes.
  const std::span<uint8_t> tcp = packet.subspan(p.header_length, p.tcp.header.size());
  const std::span<uint8_t> options = tcp.subspan(kTcpMinHeaderSize);
  uint16_t checksum = p.tcp.checksum;
  bool clamped = false;
  for (size_t i = 0; i < mss.count; ++i) {
    const size_t at = mss.offsets[i];
    const uint16_t old_mss = static_cast<uint16_t>((options[at] << 8) | options[at + 1]);
    if (old_mss <= max_mss) continue;
    options[at] = static_cast<uint8_t>(max_mss >> 8);
    options[at + 1] = static_cast<uint8_t>(max_mss);
    // The checksum sums 16-bit words from the TCP header's start (20 bytes + `at`): a value at an odd offset
    // straddles two words, each holding one of its bytes in the other half, i.e. it counts byte-swapped.
    const bool odd = ((kTcpMinHeaderSize + at) & 1) != 0;
    checksum = odd ? UpdateChecksum16(checksum, Swap(old_mss), Swap(max_mss))
                   : UpdateChecksum16(checksum, old_mss, max_mss);
    clamped = true;
  }
  if (!clamped) return ClampResult::kWithinLimit;
  tcp[kTcpChecksumOffset] = static_cast<uint8_t>(checksum >> 8);
  tcp[kTcpChecksumOffset + 1] = static_cast<uint8_t>(checksum);
  return ClampResult::kClamped;
}

}  // namespace strait::ip
