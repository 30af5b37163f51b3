// udp_datagram_fuzzer: bytes into the datagram check of `strait bench ip`'s counter (bench/suite/load/udp_flood.h,
// ClassifyDatagram), which reads whatever arrives on its UDP port. Input: 4 bytes of run id, one flags byte (bit 0:
// truncated), then the datagram.
// Properties: nothing crashes or reads out of bounds; a truncated datagram, one outside 16..kMaxUdpPayload bytes or
// another run's is never measured; the same input gives the same answer; the header the sender writes for this run
// over the same payload is measured (or warm-up without the bit) whatever else the bytes hold.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "bench/suite/load/udp_flood.h"

using strait::bench::ClassifyDatagram;
using strait::bench::DatagramKind;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  std::uint32_t run_id = 0;
  std::memcpy(&run_id, data, 4);
  const bool truncated = (data[4] & 1) != 0;
  const std::span<const unsigned char> d(data + 5, size - 5);
  const DatagramKind kind = ClassifyDatagram(d, truncated, run_id);
  if (kind != ClassifyDatagram(d, truncated, run_id)) std::abort();
  const bool whole = !truncated && d.size() >= strait::bench::kUdpHeaderBytes &&
                     d.size() <= strait::bench::kMaxUdpPayload;
  if (kind != DatagramKind::kForeign && !whole) std::abort();
  if (kind != DatagramKind::kForeign && ClassifyDatagram(d, truncated, run_id + 1) != DatagramKind::kForeign) {
    std::abort();
  }
  if (whole) {
    std::vector<unsigned char> ours(d.begin(), d.end());
    strait::bench::PutUdpHeader(ours.data(), run_id, d.size(), /*measured=*/true);
    if (ClassifyDatagram(ours, false, run_id) != DatagramKind::kMeasured) std::abort();
    strait::bench::PutUdpHeader(ours.data(), run_id, d.size(), /*measured=*/false);
    if (ClassifyDatagram(ours, false, run_id) != DatagramKind::kWarmup) std::abort();
  }
  return 0;
}
