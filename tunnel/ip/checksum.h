// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), for IPv4 headers, ICMP, TCP and UDP.
//
// Sums are one's-complement sums of big-endian 16-bit words, folded to 16 bits and NOT complemented; a checksum
// field holds the complement of the sum of everything it covers (with the field itself taken as 0). Data that
// carries a correct checksum therefore sums to 0xFFFF. An odd trailing byte counts as the high byte of a word
// whose low byte is 0.
//
// Cost: OnesComplementSum reads 8 bytes per load and adds 32-bit halves into 64-bit accumulators (RFC 1071 §2:
// the sum is independent of byte order and may be taken in wider words, then folded), about 12x a word-by-word loop
// (bench/micro/ipv4_bench.cc). The rest are a few integer operations. No function allocates or keeps state;
// all are safe on any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace strait::ip {

// The folded one's-complement sum of `bytes`, continuing from `initial` (a sum returned earlier, or a pseudo-header
// sum; any 32-bit value is folded first). Contiguous pieces may be summed in turn only if every piece but the last
// has an even length (the word boundaries must stay where they are).
uint16_t OnesComplementSum(std::span<const uint8_t> bytes, uint32_t initial = 0);

// The checksum to store: ~OnesComplementSum(bytes, initial). Over data whose checksum field is correct, it is 0.
inline uint16_t InternetChecksum(std::span<const uint8_t> bytes, uint32_t initial = 0) {
  return static_cast<uint16_t>(~OnesComplementSum(bytes, initial));
}

// The sum of the TCP/UDP pseudo-header (RFC 9293 §3.1, RFC 768): source, destination, zero, protocol and the
// segment's length, as the folded `initial` of the segment's sum. Addresses in host order.
uint16_t PseudoHeaderSum(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t segment_length);

// The checksum of a whole TCP or UDP segment (its checksum field taken as it is: 0 to compute one, the received
// value to verify, which then gives 0).
inline uint16_t TransportChecksum(uint32_t src, uint32_t dst, uint8_t protocol, std::span<const uint8_t> segment) {
  return InternetChecksum(segment, PseudoHeaderSum(src, dst, protocol, static_cast<uint16_t>(segment.size())));
}

// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after a 16-bit word covered by it changes from `old_value`
// to `new_value`. The word must sit at an even offset from the start of the checksummed data; a field at an odd
// offset straddles two words and is updated with both values byte-swapped (mss_clamp.cc does so). Eqn. 3 gives
// what a full recomputation gives (RFC 1141's HC + m + ~m' may give 0xFFFF where it gives 0, RFC 1624 §4), but
// for data that becomes all zeros: then 0x0000 for 0xFFFF, the other zero. No IP, TCP or UDP header is all zeros.
uint16_t UpdateChecksum16(uint16_t checksum, uint16_t old_value, uint16_t new_value);
// The same for a 32-bit field at an even offset (an IPv4 address, a TCP sequence number): two words in one step.
uint16_t UpdateChecksum32(uint16_t checksum, uint32_t old_value, uint32_t new_value);

// The UDP forms (RFC 768): a checksum of 0 means the sender computed none, and stays 0; a computed 0 is sent as
// 0xFFFF (the other zero of one's complement), since 0 would say "none".
inline uint16_t UpdateUdpChecksum16(uint16_t checksum, uint16_t old_value, uint16_t new_value) {
  if (checksum == 0) return 0;
  const uint16_t c = UpdateChecksum16(checksum, old_value, new_value);
  return c == 0 ? 0xFFFF : c;
}
inline uint16_t UpdateUdpChecksum32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  if (checksum == 0) return 0;
  const uint16_t c = UpdateChecksum32(checksum, old_value, new_value);
  return c == 0 ? 0xFFFF : c;
}

}  // namespace strait::ip
