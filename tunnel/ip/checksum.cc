#include "tunnel/ip/checksum.h"

#include <bit>
#include <cstring>

namespace strait::ip {
namespace {

// Folds a wide one's-complement sum to 16 bits (end-around carry until nothing is left above bit 15).
uint16_t Fold(uint64_t sum) {
  sum = (sum & 0xFFFFFFFF) + (sum >> 32);
  sum = (sum & 0xFFFFFFFF) + (sum >> 32);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The sums below are taken over words loaded in the machine's order; on a little-endian machine that is the
// byte-swapped sum of the big-endian words (RFC 1071 §2(B)), swapped back once at the end.
uint16_t ToNative(uint16_t big_endian_sum) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap16(big_endian_sum);
  return big_endian_sum;
}

uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

uint16_t OnesComplementSum(std::span<const uint8_t> bytes, uint32_t initial) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  // Each 8-byte load adds its two 32-bit halves: at most 2^33 per load, so a 64-bit accumulator cannot overflow
  // before 2^31 loads (16 GiB); four accumulators keep the additions independent.
  uint64_t a0 = ToNative(Fold(initial)), a1 = 0, a2 = 0, a3 = 0;
  for (; n >= 32; n -= 32, p += 32) {
    const uint64_t w0 = Load64(p), w1 = Load64(p + 8), w2 = Load64(p + 16), w3 = Load64(p + 24);
    a0 += (w0 & 0xFFFFFFFF) + (w0 >> 32);
    a1 += (w1 & 0xFFFFFFFF) + (w1 >> 32);
    a2 += (w2 & 0xFFFFFFFF) + (w2 >> 32);
    a3 += (w3 & 0xFFFFFFFF) + (w3 >> 32);
  }
  for (; n >= 8; n -= 8, p += 8) {
    const uint64_t w = Load64(p);
    a0 += (w & 0xFFFFFFFF) + (w >> 32);
  }
  // The last 0-7 bytes, zero-padded to a whole 8-byte word in memory order: the pad lands in the low half of the
  // last big-endian 16-bit word, as RFC 1071 pads an odd byte.
  if (n != 0) {
    uint8_t tail[8] = {};
    std::memcpy(tail, p, n);
    const uint64_t w = Load64(tail);
    a1 += (w & 0xFFFFFFFF) + (w >> 32);
  }
  // Four sums below 2^63 each: add them pairwise through Fold so the total cannot overflow 64 bits.
  const uint64_t total = uint64_t{Fold(a0)} + Fold(a1) + Fold(a2) + Fold(a3);
  return ToNative(Fold(total));
}

uint16_t PseudoHeaderSum(uint32_t src, uint32_t dst, uint8_t protocol, uint16_t segment_length) {
  const uint64_t sum = uint64_t{src >> 16} + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF) + protocol + segment_length;
  return Fold(sum);
}

uint16_t UpdateChecksum16(uint16_t checksum, uint16_t old_value, uint16_t new_value) {
  const uint64_t sum = uint64_t{static_cast<uint16_t>(~checksum)} + static_cast<uint16_t>(~old_value) + new_value;
  return static_cast<uint16_t>(~Fold(sum));
}

uint16_t UpdateChecksum32(uint16_t checksum, uint32_t old_value, uint32_t new_value) {
  const uint32_t old_inv = ~old_value;
  const uint64_t sum = uint64_t{static_cast<uint16_t>(~checksum)} + (old_inv >> 16) + (old_inv & 0xFFFF) +
                       (new_value >> 16) + (new_value & 0xFFFF);
  return static_cast<uint16_t>(~Fold(sum));
}

}  // namespace strait::ip
