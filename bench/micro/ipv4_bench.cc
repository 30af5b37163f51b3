// strait_ipv4_bench: the IP tunnel's packet core (tunnel/ip/), per packet (method: bench/README.md; report medians
// of 5 repetitions, against the byte-wise baseline measured in the same run).
//
//   BM_ParseIpv4Tcp1400              ParseIpv4 of a 1,400-byte TCP segment (header, checksum, TCP header)
//   BM_Checksum/<bytes>              OnesComplementSum, 64-bit loads (1,400 and 65,535 bytes)
//   BM_ChecksumBytewise/<bytes>      the baseline: RFC 1071 word by word, two byte reads per word, same buffer;
//                                    the speed-up is BM_ChecksumBytewise time / BM_Checksum time
//   BM_ClampMssSyn                   restore a 60-byte SYN (MSS 1460), ClampMss to 1380 (parse, option walk, update)
//   BM_CopySynBaseline               the 60-byte restore alone (subtract it from BM_ClampMssSyn)
//   BM_IcmpFragmentationNeeded1400   BuildIcmpError answering a 1,400-byte packet (548 bytes quoted, 2 checksums)
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "tunnel/ip/checksum.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/mss_clamp.h"

namespace strait::ip {
namespace {

uint16_t BytewiseSum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

void Put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// A TCP/IPv4 packet of `size` bytes (20 + 20 + data) with valid checksums; `options` go in the TCP header.
std::vector<uint8_t> TcpPacket(size_t size, uint8_t flags, const std::vector<uint8_t>& options = {}) {
  std::vector<uint8_t> p(size);
  const size_t tcp_hl = 20 + options.size();
  p[0] = 0x45;
  Put16(p, 2, static_cast<uint16_t>(size));
  Put16(p, 6, kIpv4FlagDontFragment);
  p[8] = 64;
  p[9] = protocol::kTcp;
  const uint32_t src = 0x0A000002, dst = 0x5DB8D822;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  Put16(p, 20, 51234);
  Put16(p, 22, 443);
  p[32] = static_cast<uint8_t>((tcp_hl / 4) << 4);
  p[33] = flags;
  Put16(p, 34, 64240);
  std::memcpy(p.data() + 40, options.data(), options.size());
  for (size_t i = 20 + tcp_hl; i < size; ++i) p[i] = static_cast<uint8_t>(i * 31);
  Put16(p, 10, InternetChecksum(std::span<const uint8_t>(p).first(20)));
  const auto segment = std::span<const uint8_t>(p).subspan(20);
  Put16(p, 36, TransportChecksum(src, dst, protocol::kTcp, segment));
  return p;
}

void BM_ParseIpv4Tcp1400(benchmark::State& state) {
  const auto packet = TcpPacket(1400, tcp_flag::kAck);
  for (auto _ : state) {
    benchmark::DoNotOptimize(packet.data());
    ParsedIpv4 r = ParseIpv4(packet);
    benchmark::DoNotOptimize(r);
  }
  if (!ParseIpv4(packet).ok) state.SkipWithError("packet did not parse");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseIpv4Tcp1400);

std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 131 + 7);
  return b;
}

void BM_Checksum(benchmark::State& state) {
  const auto b = Bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(OnesComplementSum(b));
  }
  if (OnesComplementSum(b) != BytewiseSum(b.data(), b.size())) state.SkipWithError("sums differ");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Checksum)->Arg(1400)->Arg(65535);

void BM_ChecksumBytewise(benchmark::State& state) {
  const auto b = Bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(BytewiseSum(b.data(), b.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ChecksumBytewise)->Arg(1400)->Arg(65535);

// MSS 1460, SACK permitted, timestamps, NOP, window scale: what Linux sends.
const std::vector<uint8_t> kLinuxSynOptions = {2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0x1B, 0x3C,
                                               0x5D, 0x7E, 0, 0, 0, 0, 1, 3, 3, 7};

void BM_ClampMssSyn(benchmark::State& state) {
  const auto syn = TcpPacket(60, tcp_flag::kSyn, kLinuxSynOptions);
  std::vector<uint8_t> work(syn.size());
  for (auto _ : state) {
    std::memcpy(work.data(), syn.data(), syn.size());
    benchmark::DoNotOptimize(ClampMss(work, 1380));
    benchmark::ClobberMemory();
  }
  if (ClampMss(work = syn, 1380) != ClampResult::kClamped) state.SkipWithError("not clamped");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ClampMssSyn);

void BM_CopySynBaseline(benchmark::State& state) {
  const auto syn = TcpPacket(60, tcp_flag::kSyn, kLinuxSynOptions);
  std::vector<uint8_t> work(syn.size());
  for (auto _ : state) {
    std::memcpy(work.data(), syn.data(), syn.size());
    benchmark::DoNotOptimize(work.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CopySynBaseline);

void BM_IcmpFragmentationNeeded1400(benchmark::State& state) {
  const auto packet = TcpPacket(1400, tcp_flag::kAck);
  std::array<uint8_t, kIcmpErrorMaxSize> out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(packet.data());
    benchmark::DoNotOptimize(BuildIcmpError(packet, IcmpErrorKind::kFragmentationNeeded, 0x64400001, out, 1380));
    benchmark::ClobberMemory();
  }
  if (!BuildIcmpError(packet, IcmpErrorKind::kFragmentationNeeded, 0x64400001, out, 1380).answered) {
    state.SkipWithError("no answer");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_IcmpFragmentationNeeded1400);

}  // namespace
}  // namespace strait::ip
