// RelayControl: what the relay does with the control plane's snapshot and events (docs/control-plane.md §7.2,
// §7.3, relay column). The subscriber thread (tunnel/control/subscriber.h, wired in cli/relay_command.cc) decodes
// them and calls in here, in id order; this class turns each into changes of the relay's DenyList and closes of the
// links they concern (Relay::CloseSubject / CloseTenant / CloseDenied: ERROR revoked on the link's own shard), and
// tells the subscriber what to do next.
//
//   snapshot            ─▶ DenyList::Replace, close every live link it now denies; own id in revoked_relays?
//   device.locked/revoked, connector.revoked ─▶ Deny (role, tenant, subject) until `until` + close its links
//   device.unlocked     ─▶ Lift
//   tenant.suspended/deleted ─▶ SuspendTenant + close the tenant's links;  tenant.resumed ─▶ ResumeTenant
//   relay.revoked       ─▶ its own id: kSelfRevoked (log, stop accepting, exit 1); another relay's: nothing
//   resync              ─▶ every tenant (tenant null): kResync (snapshot again); one tenant's: nothing (today only
//                          policy changes resync a tenant, and the relay holds no policy)
//   policy.*, device.policy, unknown ─▶ nothing;  heartbeat ─▶ DenyList::Expire, at most once a minute
//
// Threading: [subscriber thread] — one caller at a time (the class keeps a little state); the Relay calls it makes
// are [any]. No I/O of its own and no clock: `now` (unix seconds, the relay's credential clock) is passed in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "relay/relay.h"
#include "tunnel/control/event_line.h"
#include "tunnel/control/snapshot.h"

namespace strait::relay {

class RelayControl {
 public:
  // `relay` must outlive this; `relay_id` is the relay's own id (its credential's subject, HELLO_ACK relay_id).
  RelayControl(Relay& relay, std::string relay_id);

  // [subscriber] Replaces the denial list with the snapshot's (denials already over at `now` dropped) and closes
  // every live link it denies. kSelfRevoked if the relay's own id is in revoked_relays, else kContinue.
  control::SubscriberVerdict ApplySnapshot(const control::RelaySnapshot& snapshot, std::uint64_t now);
  // [subscriber] One event, per the table above.
  control::SubscriberVerdict ApplyEvent(const control::Event& event, std::uint64_t now);

  // [subscriber] Counters (the subscriber's log lines; tests).
  std::uint64_t links_closed() const { return links_closed_; }  // links handed to their shards to close
  std::uint64_t expired() const { return expired_; }            // denials dropped by Expire

  // Heartbeats expire over denials at most this often (a stale entry costs memory, never a wrong verdict).
  static constexpr std::uint64_t kExpireEverySeconds = 60;

 private:
  void DenyAndClose(crypto::Role role, const std::string& tenant, const std::string& subject, std::uint64_t until,
                    const std::string& reason, std::uint64_t now);

  // Immutable after construction.
  Relay& relay_;
  const std::string relay_id_;
  // Subscriber thread only.
  std::uint64_t last_expire_ = 0;
  std::uint64_t links_closed_ = 0;
  std::uint64_t expired_ = 0;
};

}  // namespace strait::relay
