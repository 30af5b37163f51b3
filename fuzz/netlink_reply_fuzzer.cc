// netlink_reply_fuzzer: arbitrary bytes as a netlink datagram from the kernel into the runtime's reply decoder
// (runtime/netlink_reply.h), walked message by message as RtNetlink walks it.
// Properties: never crashes or reads out of bounds; every decoded message advances the walk (consumed >= 16, never
// past the end) and its payload and extended-ack text lie inside the message; a malformed message consumes nothing;
// decoding a message alone (the datagram cut at its length) gives the same result; every payload is accepted or
// refused by the route decoder without crashing, and a decoded route has a prefix length <= 32.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "runtime/netlink_reply.h"

namespace {

using strait::runtime::NetlinkReply;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(const void* p, std::size_t n, std::span<const uint8_t> in) {
  const auto* b = static_cast<const uint8_t*>(p);
  return n == 0 || (b >= in.data() && b + n <= in.data() + in.size());
}

bool Same(const NetlinkReply& a, const NetlinkReply& b) {
  return a.kind == b.kind && a.type == b.type && a.flags == b.flags && a.seq == b.seq && a.pid == b.pid &&
         a.error == b.error && a.ext_ack == b.ext_ack && a.payload.data() == b.payload.data() &&
         a.payload.size() == b.payload.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> rest(data, size);
  while (!rest.empty()) {
    const NetlinkReply r = strait::runtime::ParseNetlinkReply(rest);
    if (r.kind == NetlinkReply::Kind::kMalformed) {
      Check(r.consumed == 0);
      break;
    }
    Check(r.consumed >= 16 && r.consumed <= rest.size());
    uint32_t len;
    std::memcpy(&len, rest.data(), sizeof len);
    Check(len >= 16 && len <= rest.size());
    const auto message = rest.first(len);
    Check(Inside(r.payload.data(), r.payload.size(), message));
    Check(Inside(r.ext_ack.data(), r.ext_ack.size(), message));
    Check((r.kind == NetlinkReply::Kind::kError) == (r.error != 0));
    Check(r.kind == NetlinkReply::Kind::kError || r.ext_ack.empty());
    Check(r.kind == NetlinkReply::Kind::kPayload || r.payload.empty());
    const NetlinkReply alone = strait::runtime::ParseNetlinkReply(message);
    Check(Same(r, alone) && alone.consumed == len);
    if (r.kind == NetlinkReply::Kind::kPayload) {
      strait::runtime::RouteInfo route;
      if (strait::runtime::ParseRouteMessage(r.payload, &route)) Check(route.prefix_len <= 32);
    }
    rest = rest.subspan(r.consumed);
  }
  return 0;
}
