// The IP tunnel's set-up payloads (tunnel/tunnel_control.h). Input: one selector byte, then the payload.
// Every decoder must refuse or accept without reading out of bounds; whatever decodes must encode again (the
// encoder checks no more than the decoder) and decode back to the same value.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tunnel/tunnel_control.h"

namespace {

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  using namespace strait::tunnel;
  const std::span<const uint8_t> payload(data + 1, size - 1);
  std::vector<uint8_t> out;
  switch (data[0] % 3) {
    case 0: {
      auto c = DecodeTunnelConfig(payload, 9000);
      if (!c) return 0;
      Check(EncodeTunnelConfig(*c, &out).ok());
      auto back = DecodeTunnelConfig(out, 9000);
      Check(back.ok() && *back == *c);
      Check(out.size() <= payload.size());  // trailing bytes are the only thing the decoder dropped
      break;
    }
    case 1: {
      auto r = DecodeTunnelRequest(payload);
      if (!r) return 0;
      Check(EncodeTunnelRequest(*r, &out).ok());
      Check(DecodeTunnelRequest(out)->mtu_max == r->mtu_max);
      break;
    }
    default: {
      auto r = DecodeTunnelRefused(payload);
      if (!r) return 0;
      Check(EncodeTunnelRefused(*r, &out).ok());
      auto back = DecodeTunnelRefused(out);
      Check(back.ok() && back->code == r->code && back->reason == r->reason);
      break;
    }
  }
  return 0;
}
