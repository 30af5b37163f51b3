// Why the relay dropped something (style.md item 5: every drop has a name and a counter). One counter per reason
// per shard; the metrics endpoint exports them as strait_relay_drops_total{reason="<name>"}.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strait::relay {

enum class DropReason : std::uint8_t {
  kHandshakeLimit,       // a login closed to make room: its port already ran max_handshakes_per_shard (oldest goes)
  kLinkLimit,            // accepted connection refused: no link slot (max_links) or no loop slot
  kDraining,             // accepted connection refused: the relay is draining
  kHandoffFailed,        // accepted fd could not be posted to its shard (mailbox full)
  kUnknownChannel,       // a frame on a channel the relay did not give this link
  kBadFrameForRole,      // a frame type this role may not send (e.g. SESSION_OFFER from a device)
  kMalformed,            // a control frame (SESSION_REQUEST, SESSION_CLOSE) that does not decode
  kTooManySessions,      // SESSION_REQUEST beyond max_sessions_per_device
  kNoConnector,          // SESSION_REQUEST with no live connector in the device's tenant
  kDatagramQueueFull,    // SEALED_DATAGRAM dropped: the peer link or the cross-shard queue is full
  kPeerGone,             // a frame for a session whose other end has just gone
  kUnknownType,          // a frame type the relay does not forward (non-critical unknowns are skipped by the link)
  kSourceLimit,          // accepted connection refused: its source already runs max_handshakes_per_source logins
  kCreditExceeded,       // a session frame past the sender's relay credit (protocol.md §8): its link is closed
};
inline constexpr std::size_t kDropReasonCount = 14;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
    "handshake_limit", "link_limit",         "draining",  "handoff_failed", "unknown_channel", "bad_frame_for_role",
    "malformed",       "too_many_sessions",  "no_connector", "datagram_queue_full", "peer_gone", "unknown_type",
    "source_limit",    "credit_exceeded"};

inline std::string_view DropReasonName(DropReason r) { return kDropReasonNames[static_cast<std::size_t>(r)]; }

}  // namespace strait::relay
