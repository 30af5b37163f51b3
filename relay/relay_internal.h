// Internals of the relay shared by its implementation files (relay.cc, shard.cc, shard_forward.cc): link refs,
// session-table keys, and the shards' message, ring-record, timer and delivery kinds. Not part of the relay's API:
// include it from nowhere else.
#pragma once

#include <cstdint>
#include <memory>

#include "crypto/tls_context.h"
#include "tunnel/frame.h"
#include "tunnel/link/tls_link.h"

namespace strait::relay {

using tunnel::ErrorCode;
using tunnel::FrameType;

// A link anywhere in the relay: shard (8 bits) | slot (24 bits) | generation (32 bits).
constexpr std::uint64_t PackRef(std::uint32_t shard, std::uint32_t slot, std::uint32_t gen) {
  return (static_cast<std::uint64_t>(shard) << 56) | (static_cast<std::uint64_t>(slot & 0xffffffu) << 32) | gen;
}
constexpr std::uint32_t RefShard(std::uint64_t ref) { return static_cast<std::uint32_t>(ref >> 56); }
constexpr std::uint32_t RefSlot(std::uint64_t ref) { return static_cast<std::uint32_t>((ref >> 32) & 0xffffffu); }
constexpr std::uint32_t RefGen(std::uint64_t ref) { return static_cast<std::uint32_t>(ref); }


enum MessageKind : std::uint32_t {
  kAdoptDevice = 1,     // fd: an accepted device-port connection
  kAdoptConnector = 2,  // fd: an accepted connector-port connection
  kDoorbell = 3,        // a: producer shard; its ring to us has records
  kSpace = 4,           // a: consumer shard; the ring to it has room again
  kDrain = 6,           // GOAWAY everyone, close after the drain period
  kCloseDenied = 7,     // the relay has closes queued for us (Relay::CloseSubject / CloseTenant / CloseDenied)
  kIdentity = 8,        // Relay::Renew posted us a new identity (Relay::TakeIdentity)
};

// What a shard's new links are made with: the TLS context of their handshake and each port's login settings (the
// relay's credential in HELLO_ACK). Immutable once made. A link holds the one it was made with for its whole life,
// so a renewal (Relay::Renew) swaps what the next accepted link gets and never touches a link in flight; an old
// identity goes with its last link.
struct ServedIdentity {
  // Shared by the identity's links; at start one context (RelayIdentity::tls, the caller's, not owned) serves every
  // shard, after a renewal each shard has its own.
  std::shared_ptr<const crypto::TlsContext> tls;
  link::LinkConfig device;     // tls points at *tls
  link::LinkConfig connector;  // tls points at *tls
};

enum RecordKind : std::uint8_t {
  kRecordFrame = 1,   // frame bytes for `target`; SESSION_CLOSE also removes target's leg
  kRecordAddLeg = 2,  // a new session `channel`: target = connector link, source = device link
  kRecordCloseLink = 3,  // close `target`: a newer login of its credential replaced it (CredentialLinks)
  kRecordCredit = 4,     // return `source` bytes of relay credit to `target` for its session `channel`
};

enum TimerArg : std::uint64_t { kTimerPublish = 1, kTimerDoorbellRetry = 2, kTimerDrainClose = 3, kTimerFlush = 4 };

enum class Deliver : std::uint8_t { kSent, kDropped, kBlocked };

}  // namespace strait::relay
