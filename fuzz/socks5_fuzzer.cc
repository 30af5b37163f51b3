// socks5_fuzzer: arbitrary client bytes into the device's SOCKS5 door (tunnel/device/socks5.h).
// Input: byte 0 seeds the chunking, the rest is what the client sends.
// Properties: never crashes or reads out of bounds; the outcome (kind, reason, replies written, bytes consumed,
// target) is the same whole, byte at a time and in random chunks; the door never consumes more than one
// greeting plus one request; a parsed target re-encodes to exactly the request's address bytes.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tunnel/device/socks5.h"

namespace {

using strait::device::Socks5Result;
using strait::device::Socks5Server;
using strait::device::Target;
using Kind = Socks5Result::Kind;

struct Outcome {
  Kind kind = Kind::kNeedMore;
  strait::device::Socks5CloseReason reason{};
  std::vector<uint8_t> replies;
  size_t consumed = 0;
  size_t request_start = 0;  // where the request began (after the greeting)
  Target target;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

// Feeds `in` as it "arrives" in chunks whose sizes come from `next_chunk`.
template <class NextChunk>
Outcome Drive(std::span<const uint8_t> in, NextChunk next_chunk) {
  Socks5Server s;
  Outcome o;
  size_t arrived = 0;
  for (;;) {
    std::span<const uint8_t> pending = in.subspan(o.consumed, arrived - o.consumed);
    Socks5Result r = s.Feed(pending);
    Check(r.consumed <= pending.size());
    o.consumed += r.consumed;
    o.kind = r.kind;
    o.reason = r.reason;
    o.replies.insert(o.replies.end(), r.reply.begin(), r.reply.end());
    switch (r.kind) {
      case Kind::kReply:
        o.request_start = o.consumed;
        continue;
      case Kind::kRequestReady:
        o.target = s.target();
        return o;
      case Kind::kReplyAndClose:
      case Kind::kError:
        return o;
      case Kind::kNeedMore:
        Check(o.consumed == arrived);
        if (arrived == in.size()) return o;
        arrived += std::min(in.size() - arrived, next_chunk());
        continue;
    }
  }
}

bool Same(const Outcome& a, const Outcome& b) {
  return a.kind == b.kind && a.reason == b.reason && a.replies == b.replies && a.consumed == b.consumed &&
         (a.kind != Kind::kRequestReady || a.target == b.target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  std::span<const uint8_t> in(data + 1, size - 1);

  Outcome whole = Drive(in, [&] { return in.size(); });
  Outcome bytewise = Drive(in, [] { return size_t{1}; });
  Outcome random = Drive(in, [&] {
    seed = seed * 1103515245u + 12345u;
    return size_t{1} + (seed >> 16) % 17;
  });
  Check(Same(whole, bytewise));
  Check(Same(whole, random));
  Check(whole.consumed <= strait::device::kMaxSocksGreetingSize + strait::device::kMaxSocksRequestSize);

  if (whole.kind == Kind::kRequestReady) {
    // VER CMD RSV, then the address form, ending exactly where the door stopped.
    std::array<uint8_t, strait::device::kMaxAddressWireSize> buf{};
    strait::ByteWriter w(buf);
    strait::device::WriteAddress(whole.target, w);
    Check(w.ok());
    std::span<const uint8_t> request = in.subspan(whole.request_start, whole.consumed - whole.request_start);
    Check(request.size() == 3 + w.written());
    Check(std::ranges::equal(request.subspan(3), w.data()));
  }
  return 0;
}
