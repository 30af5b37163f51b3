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
//   BM_SplitGso64k                   ParseVnetRead + SplitGso of a 65,535-byte GSO_TCPV4 read at gso_size 1380
//                                    (48 segments of at most 1,420 bytes, each into its own room, as into frames)
//   BM_SplitGso64kNaive              the baseline, same read, same rooms: per segment copy, patch, and both
//                                    checksums recomputed whole by the word-by-word sum (pseudo-header included)
//   BM_CompleteChecksum1400          ParseVnetRead + CompleteChecksum of a 1,400-byte NEEDS_CSUM TCP packet
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tunnel/ip/checksum.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/mss_clamp.h"
#include "tunnel/ip/tunnel_mtu.h"
#include "tunnel/ip/vnet_segments.h"

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

// A TUN read: the virtio_net_hdr, then `packet`.
std::vector<uint8_t> VnetRead_(const VnetHeader& h, const std::vector<uint8_t>& packet) {
  std::vector<uint8_t> read(kVnetHdrSize);
  EncodeVnetHeader(h, read);
  read.insert(read.end(), packet.begin(), packet.end());
  return read;
}

constexpr uint16_t kGsoSize = 1380;  // MSS for the default tunnel MTU, 1,420, without TCP options
constexpr size_t kRoomSize = 1536;

std::vector<uint8_t> GsoRead64k() {
  return VnetRead_({.flags = kVnetFlagNeedsCsum, .gso_type = kVnetGsoTcpv4, .hdr_len = 40, .gso_size = kGsoSize,
                    .csum_start = 20, .csum_offset = 16},
                   TcpPacket(65535, tcp_flag::kAck | tcp_flag::kPsh));
}

// The baseline split: what a first implementation does, with nothing taken once and the simple sum.
size_t NaiveSplit(std::span<const uint8_t> packet, uint16_t gso_size, std::vector<uint8_t>& rooms) {
  const ParsedIpv4 r = ParseIpv4(packet);
  const Ipv4Packet& p = r.packet;
  const size_t ip_hl = p.header_length, hl = ip_hl + p.tcp.header.size();
  const size_t data = p.tcp.payload.size();
  size_t n = 0;
  for (size_t off = 0; off < data; off += gso_size, ++n) {
    const size_t chunk = std::min<size_t>(gso_size, data - off);
    const size_t size = hl + chunk;
    uint8_t* out = rooms.data() + n * kRoomSize;
    std::memcpy(out, packet.data(), hl);
    std::memcpy(out + hl, p.tcp.payload.data() + off, chunk);
    out[2] = static_cast<uint8_t>(size >> 8);
    out[3] = static_cast<uint8_t>(size);
    const uint16_t id = static_cast<uint16_t>(p.id + n);
    out[4] = static_cast<uint8_t>(id >> 8);
    out[5] = static_cast<uint8_t>(id);
    out[10] = out[11] = 0;
    const uint16_t ip_sum = static_cast<uint16_t>(~BytewiseSum(out, ip_hl));
    out[10] = static_cast<uint8_t>(ip_sum >> 8);
    out[11] = static_cast<uint8_t>(ip_sum);
    uint8_t* tcp = out + ip_hl;
    const uint32_t seq = p.tcp.seq + static_cast<uint32_t>(off);
    for (int k = 0; k < 4; ++k) tcp[4 + k] = static_cast<uint8_t>(seq >> (24 - 8 * k));
    uint8_t flags = p.tcp.flags;
    if (n != 0) flags &= 0x7F;
    if (off + chunk < data) flags &= static_cast<uint8_t>(~(tcp_flag::kFin | tcp_flag::kPsh));
    tcp[13] = flags;
    tcp[16] = tcp[17] = 0;
    // Pseudo-header and segment summed as one buffer, as RFC 793 describes it.
    std::array<uint8_t, 12> pseudo{};
    std::memcpy(pseudo.data(), packet.data() + 12, 8);
    pseudo[9] = protocol::kTcp;
    pseudo[10] = static_cast<uint8_t>((size - ip_hl) >> 8);
    pseudo[11] = static_cast<uint8_t>(size - ip_hl);
    uint32_t sum = uint32_t{BytewiseSum(pseudo.data(), pseudo.size())} + BytewiseSum(tcp, size - ip_hl);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    const uint16_t tcp_sum = static_cast<uint16_t>(~sum);
    tcp[16] = static_cast<uint8_t>(tcp_sum >> 8);
    tcp[17] = static_cast<uint8_t>(tcp_sum);
  }
  return n;
}

void BM_SplitGso64k(benchmark::State& state) {
  std::vector<uint8_t> read = GsoRead64k();
  std::vector<uint8_t> rooms(kMaxGsoSegments * kRoomSize);
  size_t segments = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read.data());
    const VnetRead r = ParseVnetRead(read, kDefaultTunnelMtu);
    segments = SplitGso(
        r.gso, [&](size_t i, size_t) { return std::span<uint8_t>(rooms).subspan(i * kRoomSize, kRoomSize); },
        [](size_t, std::span<uint8_t> segment) { benchmark::DoNotOptimize(segment.data()); });
    benchmark::ClobberMemory();
  }
  // The same bytes as the baseline's, segment by segment.
  std::vector<uint8_t> naive(kMaxGsoSegments * kRoomSize);
  const VnetRead r = ParseVnetRead(read, kDefaultTunnelMtu);
  if (!r.ok || segments != 48 || NaiveSplit(r.packet, kGsoSize, naive) != segments) {
    state.SkipWithError("split failed");
  }
  for (size_t i = 0; i < segments; ++i) {
    const size_t size = GsoSegmentSize(r.gso, i);
    if (std::memcmp(rooms.data() + i * kRoomSize, naive.data() + i * kRoomSize, size) != 0) {
      state.SkipWithError("segments differ from the baseline's");
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 65535);
  state.counters["segments"] = static_cast<double>(segments);
}
BENCHMARK(BM_SplitGso64k);

void BM_SplitGso64kNaive(benchmark::State& state) {
  const std::vector<uint8_t> read = GsoRead64k();
  const auto packet = std::span<const uint8_t>(read).subspan(kVnetHdrSize);
  std::vector<uint8_t> rooms(kMaxGsoSegments * kRoomSize);
  for (auto _ : state) {
    benchmark::DoNotOptimize(read.data());
    benchmark::DoNotOptimize(NaiveSplit(packet, kGsoSize, rooms));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 65535);
}
BENCHMARK(BM_SplitGso64kNaive);

void BM_CompleteChecksum1400(benchmark::State& state) {
  auto packet = TcpPacket(1400, tcp_flag::kAck);
  // The field as the kernel leaves it: the pseudo-header's sum.
  Put16(packet, 36, PseudoHeaderSum(0x0A000002, 0x5DB8D822, protocol::kTcp, 1380));
  std::vector<uint8_t> read = VnetRead_({.flags = kVnetFlagNeedsCsum, .csum_start = 20, .csum_offset = 16}, packet);
  const std::array<uint8_t, 2> partial = {read[kVnetHdrSize + 36], read[kVnetHdrSize + 37]};
  for (auto _ : state) {
    read[kVnetHdrSize + 36] = partial[0];
    read[kVnetHdrSize + 37] = partial[1];
    const VnetRead r = ParseVnetRead(read, kDefaultTunnelMtu);
    CompleteChecksum(r);
    benchmark::ClobberMemory();
  }
  if (!TransportChecksumValid(ParseIpv4(std::span<const uint8_t>(read).subspan(kVnetHdrSize)).packet)) {
    state.SkipWithError("checksum not completed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_CompleteChecksum1400);

}  // namespace
}  // namespace strait::ip
