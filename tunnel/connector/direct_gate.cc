#include "tunnel/connector/direct_gate.h"

#include "tunnel/link_messages.h"

namespace strait::connector {

DirectGate::DirectGate(const DirectGateLimits& limits)
    : limits_(limits), logins_(limits.max_logins, limits.max_logins_per_source) {}

DirectGate::AcceptVerdict DirectGate::OnAccept(std::uint64_t source) {
  if (logins_.SourceFull(link::LoginPort::kDevice, source)) {
    ++stats_.refused_source;
    return AcceptVerdict::kRefuseSource;
  }
  if (counted_links() >= limits_.max_links) {
    ++stats_.refused_full;
    return AcceptVerdict::kRefuseFull;
  }
  return AcceptVerdict::kAccept;
}

std::optional<std::uint64_t> DirectGate::Admit(std::uint64_t link, std::uint64_t source) {
  ++stats_.accepted;
  links_[link] = LinkState{};
  const std::optional<std::uint64_t> oldest = logins_.Admit(link::LoginPort::kDevice, source, link);
  if (!oldest) return std::nullopt;
  ++stats_.logins_evicted;
  auto it = links_.find(*oldest);
  if (it == links_.end() || it->second.evicted) return std::nullopt;
  it->second.evicted = true;
  ++evicted_;
  return oldest;
}

DirectGate::UpVerdict DirectGate::OnLinkUp(std::uint64_t link, bool same_tenant) {
  logins_.Done(link);
  auto it = links_.find(link);
  if (it == links_.end()) return UpVerdict::kUnknown;
  if (!same_tenant) {
    ++stats_.refused_tenant;
    return UpVerdict::kRefuseTenant;
  }
  it->second.admitted = true;
  return UpVerdict::kAdmitted;
}

DirectGate::FrameVerdict DirectGate::OnFrame(std::uint64_t link, const tunnel::FrameHeader& header,
                                             std::span<const std::uint8_t> payload) {
  using Kind = FrameVerdict::Kind;
  auto it = links_.find(link);
  if (it == links_.end() || !it->second.admitted) return {Kind::kIgnore};
  LinkState& state = it->second;
  if (header.channel == 0) {
    if (header.type != tunnel::FrameType::kSessionRequest) return {Kind::kIgnore};
    if (!tunnel::SessionRequest::Decode(payload)) return {Kind::kBadRequest};
    if (state.next_channel > limits_.max_channels_per_link) {
      ++stats_.refused_channels;
      return {Kind::kTooManySessions};
    }
    ++stats_.offers;
    return {Kind::kOffer, state.next_channel++};
  }
  if (header.channel >= state.next_channel) return {Kind::kNeverOffered};
  return {Kind::kForward};
}

bool DirectGate::admitted(std::uint64_t link) const {
  auto it = links_.find(link);
  return it != links_.end() && it->second.admitted;
}

DirectGate::DownVerdict DirectGate::OnLinkDown(std::uint64_t link, bool was_up, bool closed_by_us) {
  logins_.Done(link);
  auto it = links_.find(link);
  if (it == links_.end()) return {};
  DownVerdict v;
  v.known = true;
  v.tell_owner = it->second.admitted;
  v.login_failed = !was_up && !closed_by_us;
  if (v.login_failed) ++stats_.logins_failed;
  if (it->second.evicted) --evicted_;
  links_.erase(it);
  return v;
}

}  // namespace strait::connector
