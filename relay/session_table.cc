#include "relay/session_table.h"

#include <algorithm>

#include "tunnel/link_messages.h"

namespace strait::relay {

using tunnel::ErrorCode;
using tunnel::FrameType;

const SessionTable::Leg* SessionTable::Find(std::uint32_t ch, bool connector, std::uint64_t link) const {
  auto it = legs_.find(Key(ch, connector));
  return it == legs_.end() || it->second.link != link ? nullptr : &it->second;
}

SessionTable::Leg* SessionTable::FindMut(std::uint32_t ch, bool connector, std::uint64_t link) {
  auto it = legs_.find(Key(ch, connector));
  return it == legs_.end() || it->second.link != link ? nullptr : &it->second;
}

std::optional<std::uint64_t> SessionTable::Remove(std::uint32_t ch, bool connector, std::uint64_t link) {
  auto it = legs_.find(Key(ch, connector));
  if (it == legs_.end() || it->second.link != link) return std::nullopt;
  const std::uint64_t peer = it->second.peer;
  legs_.erase(it);
  return peer;
}

namespace {

SessionTable::Verdict Refuse(DropReason why) {
  SessionTable::Verdict v;
  v.action = SessionTable::Action::kRefuse;
  v.drop = why;
  return v;
}

}  // namespace

SessionTable::Verdict SessionTable::OnFrame(std::uint64_t link, bool connector, const tunnel::FrameHeader& h,
                                            std::span<const std::uint8_t> payload, std::size_t frame_bytes) {
  const FrameType t = h.type;
  Verdict v;
  // Which types each role may send (docs/relay.md "Routing rules").
  switch (t) {
    case FrameType::kSessionRequest:
      if (connector || h.channel != 0) return Refuse(DropReason::kBadFrameForRole);
      v.action = Action::kSessionRequest;
      return v;
    case FrameType::kSessionInit:
      if (connector) return Refuse(DropReason::kBadFrameForRole);
      break;
    case FrameType::kSessionAccept:
      if (!connector) return Refuse(DropReason::kBadFrameForRole);
      break;
    case FrameType::kSessionClose: {
      auto close = tunnel::SessionClose::Decode(payload);
      if (!close) return Refuse(DropReason::kMalformed);
      v.refused_offer = !connector && close->code == ErrorCode::kBadCredential;
      break;
    }
    case FrameType::kSealedStream:
    case FrameType::kSealedDatagram:
    case FrameType::kError:
      break;
    default:
      return Refuse(tunnel::IsKnownFrameType(t) ? DropReason::kBadFrameForRole : DropReason::kUnknownType);
  }
  Leg* leg = h.channel == 0 ? nullptr : FindMut(h.channel, connector, link);
  if (leg == nullptr) return Refuse(DropReason::kUnknownChannel);
  if (t != FrameType::kSealedDatagram) {
    // Every session frame but a datagram uses the sender's relay credit until the other link takes it.
    const std::uint64_t sum = std::uint64_t{leg->outstanding} + frame_bytes;
    if (sum > tunnel::kInitialRelayCredit + tunnel::kRelayCreditSlack) {
      Verdict close = Refuse(DropReason::kCreditExceeded);
      close.action = Action::kCloseLink;
      return close;
    }
    leg->outstanding = static_cast<std::uint32_t>(sum);
  }
  v.action = Action::kForward;
  v.peer = leg->peer;
  return v;
}

std::optional<SessionTable::CreditReturn> SessionTable::Delivered(std::uint64_t link, bool connector,
                                                                  const tunnel::FrameHeader& h,
                                                                  std::size_t frame_bytes) {
  if (h.channel == 0 || h.type == FrameType::kSealedDatagram || h.type == FrameType::kSessionCredit) {
    return std::nullopt;
  }
  Leg* leg = FindMut(h.channel, connector, link);
  if (leg == nullptr) return std::nullopt;
  // At most one frame (header + kMaxPayload) above credit_return_bytes_ (<= 512 KiB): no overflow.
  leg->owed += static_cast<std::uint32_t>(std::min<std::size_t>(frame_bytes, tunnel::kHeaderSize + tunnel::kMaxPayload));
  if (leg->owed < credit_return_bytes_) return std::nullopt;
  CreditReturn r;
  r.to = leg->peer;
  r.channel = h.channel;
  r.amount = leg->owed;
  leg->owed = 0;
  return r;
}

bool SessionTable::Credited(std::uint64_t link, bool connector, std::uint32_t ch, std::uint32_t amount) {
  Leg* leg = FindMut(ch, connector, link);
  if (leg == nullptr) return false;
  leg->outstanding -= std::min(leg->outstanding, amount);
  return true;
}

}  // namespace strait::relay
