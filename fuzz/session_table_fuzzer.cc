// session_table_fuzzer: the relay's frame router and relay credit (relay/session_table.h), driven by a sequence of
// operations on four links (two devices, two connectors) and four channels, against a model written from
// docs/relay.md "Routing rules" and docs/protocol.md §8.
//
// Input: records [u8 op][u8 a][u8 b][u16 n, big-endian][payload...], until the input ends.
//   op % 5 == 0  Add:       leg of link (a % 4) on channel (b % 4 + 1) with peer ((a >> 2) % 4), if the key is free
//            1  Remove:    link (a % 4)'s leg on channel (b % 4 + 1)
//            2  OnFrame:   from link (a % 4), type byte (a >> 2 | b & 0xc0: 0x00..0xff), channel (b % 5: 0..4),
//                          frame bytes 12 + n % 16641, payload = the rest of the record (up to 300 bytes)
//            3  Delivered: to link (a % 4), type as above, channel (b % 5), frame bytes 12 + n % 16641
//            4  Credited:  link (a % 4), channel (b % 5), amount n * 64
// Links 0 and 1 are devices, 2 and 3 connectors.
// Properties (trap on violation): every verdict, removal, credit return and Credited result equals the model's; no
// leg's outstanding ever exceeds kInitialRelayCredit + kRelayCreditSlack; the table's size equals the model's.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "relay/session_table.h"
#include "tunnel/link_messages.h"

namespace {

using strait::relay::DropReason;
using strait::relay::SessionTable;
using strait::tunnel::ErrorCode;
using strait::tunnel::FrameHeader;
using strait::tunnel::FrameType;

constexpr std::uint32_t kReturnBytes = 20'000;  // small, so returns happen often

struct ModelLeg {
  std::uint64_t link, peer;
  std::uint64_t outstanding = 0, owed = 0;
};
using Key = std::pair<std::uint32_t, bool>;

bool IsConnector(std::uint64_t link) { return link >= 2; }

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// The model's verdict for a frame.
SessionTable::Verdict Expect(std::map<Key, ModelLeg>& legs, std::uint64_t link, const FrameHeader& h,
                             std::span<const std::uint8_t> payload, std::size_t bytes) {
  const bool connector = IsConnector(link);
  SessionTable::Verdict v;
  v.action = SessionTable::Action::kRefuse;
  const auto t = h.type;
  if (t == FrameType::kSessionRequest) {
    if (connector || h.channel != 0) {
      v.drop = DropReason::kBadFrameForRole;
    } else {
      v.action = SessionTable::Action::kSessionRequest;
    }
    return v;
  }
  const bool allowed = t == FrameType::kSealedStream || t == FrameType::kSealedDatagram || t == FrameType::kError ||
                       t == FrameType::kSessionClose || (t == FrameType::kSessionInit && !connector) ||
                       (t == FrameType::kSessionAccept && connector);
  if (!allowed) {
    v.drop = strait::tunnel::IsKnownFrameType(t) ? DropReason::kBadFrameForRole : DropReason::kUnknownType;
    return v;
  }
  if (t == FrameType::kSessionClose) {
    auto c = strait::tunnel::SessionClose::Decode(payload);
    if (!c) {
      v.drop = DropReason::kMalformed;
      return v;
    }
    v.refused_offer = !connector && c->code == ErrorCode::kBadCredential;
  }
  auto it = legs.find({h.channel, connector});
  if (h.channel == 0 || it == legs.end() || it->second.link != link) {
    v.drop = DropReason::kUnknownChannel;
    v.refused_offer = false;
    return v;
  }
  if (t != FrameType::kSealedDatagram) {
    if (it->second.outstanding + bytes > strait::tunnel::kInitialRelayCredit + strait::tunnel::kRelayCreditSlack) {
      v.action = SessionTable::Action::kCloseLink;
      v.drop = DropReason::kCreditExceeded;
      v.refused_offer = false;
      return v;
    }
    it->second.outstanding += bytes;
  }
  v.action = SessionTable::Action::kForward;
  v.peer = it->second.peer;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  SessionTable table(kReturnBytes);
  std::map<Key, ModelLeg> legs;
  std::size_t off = 0;
  while (off + 5 <= size) {
    const std::uint8_t op = data[off] % 5, a = data[off + 1], b = data[off + 2];
    const std::uint16_t n = static_cast<std::uint16_t>((data[off + 3] << 8) | data[off + 4]);
    off += 5;
    const std::size_t plen = op == 2 ? std::min<std::size_t>({size - off, std::size_t{n} % 301}) : 0;
    const std::span<const std::uint8_t> payload(data + off, plen);
    off += plen;
    const std::uint64_t link = a % 4;
    const bool connector = IsConnector(link);
    const std::uint32_t ch = b % 5;
    const auto type = static_cast<FrameType>((a >> 2) | (b & 0xc0));
    const std::size_t bytes = 12 + std::size_t{n} % 16641;
    switch (op) {
      case 0: {
        const std::uint32_t c = b % 4 + 1;
        const std::uint64_t peer = (a >> 2) % 4;
        Check(table.Contains(c, connector) == legs.contains({c, connector}));
        if (!legs.contains({c, connector})) {
          table.Add(c, connector, link, peer);
          legs[{c, connector}] = ModelLeg{link, peer};
        }
        break;
      }
      case 1: {
        const std::uint32_t c = b % 4 + 1;
        const std::optional<std::uint64_t> got = table.Remove(c, connector, link);
        auto it = legs.find({c, connector});
        if (it != legs.end() && it->second.link == link) {
          Check(got == it->second.peer);
          legs.erase(it);
        } else {
          Check(!got);
        }
        break;
      }
      case 2: {
        const FrameHeader h{1, type, 0, static_cast<std::uint32_t>(payload.size()), ch};
        const SessionTable::Verdict got = table.OnFrame(link, connector, h, payload, bytes);
        const SessionTable::Verdict want = Expect(legs, link, h, payload, bytes);
        Check(got.action == want.action);
        if (got.action == SessionTable::Action::kRefuse || got.action == SessionTable::Action::kCloseLink) {
          Check(got.drop == want.drop);
        }
        if (got.action == SessionTable::Action::kForward) Check(got.peer == want.peer);
        Check(got.refused_offer == want.refused_offer);
        break;
      }
      case 3: {
        const FrameHeader h{1, type, 0, 0, ch};
        const auto got = table.Delivered(link, connector, h, bytes);
        std::optional<SessionTable::CreditReturn> want;
        auto it = legs.find({ch, connector});
        if (ch != 0 && type != FrameType::kSealedDatagram && type != FrameType::kSessionCredit && it != legs.end() &&
            it->second.link == link) {
          it->second.owed += bytes;
          if (it->second.owed >= kReturnBytes) {
            want = SessionTable::CreditReturn{it->second.peer, ch, static_cast<std::uint32_t>(it->second.owed)};
            it->second.owed = 0;
          }
        }
        Check(got.has_value() == want.has_value());
        if (got) Check(got->to == want->to && got->channel == want->channel && got->amount == want->amount);
        break;
      }
      case 4: {
        const std::uint32_t amount = std::uint32_t{n} * 64;
        const bool got = table.Credited(link, connector, ch, amount);
        auto it = legs.find({ch, connector});
        const bool want = it != legs.end() && it->second.link == link;
        if (want) it->second.outstanding -= std::min<std::uint64_t>(it->second.outstanding, amount);
        Check(got == want);
        break;
      }
    }
    Check(table.size() == legs.size());
    for (const auto& [key, leg] : legs) {
      const SessionTable::Leg* l = table.Find(key.first, key.second, leg.link);
      Check(l != nullptr && l->peer == leg.peer && l->outstanding == leg.outstanding && l->owed == leg.owed);
      Check(l->outstanding <= strait::tunnel::kInitialRelayCredit + strait::tunnel::kRelayCreditSlack);
    }
  }
  return 0;
}
