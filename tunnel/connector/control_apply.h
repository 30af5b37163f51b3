// ConnectorControl: what a connector does with the control plane's snapshot and events (docs/control-plane.md
// §7.2, §7.3). The subscriber thread (tunnel/control/subscriber.h) fetches and decodes; this compiles and decides,
// then hands plain values to a ControlTarget (the Connector, which applies them on its loop):
//
//   ConnectorSnapshot ──▶ ApplySnapshot: ParsePolicy each policy's TOML here (a policy that fails is logged and
//                         left out: its devices fall to the default; a default that fails leaves deny-all), our
//                         tenant's device denials, the tenant's state, revoked relays ──▶ ReplaceControlState
//   Event ──▶ ApplyEvent ──▶ one ControlTarget call, or nothing (another tenant's event, a heartbeat), and a verdict:
//
//     type                                 ControlTarget                 verdict
//     device.locked / device.revoked       DenyDevice                    continue
//     device.unlocked                      LiftDevice                    continue
//     connector.revoked                    (ours) -                      self_revoked (log, stop, exit 1)
//     relay.revoked                        RevokeRelay                   continue
//     tenant.suspended / .resumed          SuspendTenant / ResumeTenant  continue
//     tenant.deleted                       -                             self_revoked
//     policy.updated                       PutPolicy (compiled here)     continue; a TOML that fails: DeletePolicy
//     policy.deleted                       DeletePolicy                  continue
//     device.policy                        SetDevicePolicy               continue
//     resync (ours or every tenant)        -                             resync (snapshot again)
//   Only events of our own tenant apply (relay.revoked has none: it applies to every connector). A ControlTarget
//   call that was refused (its queue full) turns the verdict into resync: a snapshot replaces everything.
//
// The cache (§7.2): the last snapshot's JSON as the control plane sent it, in DIR/control-state.json (0600, atomic
// replace), so a restarted connector starts with its policies while the control plane is unreachable. It is
// decoded with control::DecodeConnectorSnapshot like a fresh one (the same bounds; its fuzzer covers it).
//
// Threading: ConnectorControl is [subscriber thread] (one thread; not thread-safe); the target is [any].
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "logging/event.h"
#include "tunnel/connector/control_target.h"
#include "tunnel/control/event_line.h"
#include "tunnel/control/snapshot.h"

namespace strait::connector {

inline constexpr std::string_view kControlStateFile = "control-state.json";


struct ConnectorControlOptions {
  std::string tenant;     // ours (the credential's)
  std::string connector;  // our subject id
  // policy_rejected (a TOML that ParsePolicy refused), self_revoked, resync. Called on the subscriber thread.
  logging::Sink log;
};

struct ConnectorControlStats {
  std::uint64_t snapshots = 0;           // ApplySnapshot calls handed to the target
  std::uint64_t events_applied = 0;      // events that made a ControlTarget call
  std::uint64_t events_other_tenant = 0; // skipped: another tenant's
  std::uint64_t policies_rejected = 0;   // TOML that failed ParsePolicy (snapshot or policy.updated)
  std::uint64_t target_refused = 0;      // ControlTarget calls refused (queue full): each turned into a resync
};

class ConnectorControl {
 public:
  ConnectorControl(ControlTarget& target, ConnectorControlOptions options);

  // A snapshot (fresh or from the cache). kContinue, kResync (the target refused it), or kSelfRevoked (the
  // snapshot denies this connector itself). `now`: unix seconds (denials already over are dropped).
  control::SubscriberVerdict ApplySnapshot(const control::ConnectorSnapshot& snapshot, std::uint64_t now);
  // One event, in id order.
  control::SubscriberVerdict ApplyEvent(const control::Event& event, std::uint64_t now);

  const ConnectorControlStats& stats() const { return stats_; }

 private:
  bool Ours(std::string_view tenant);  // counts events_other_tenant when not
  // ParsePolicy on this thread; nullptr (logged, counted) when it fails.
  PolicyPtr Compile(std::string_view id, std::uint64_t version, std::string_view toml);
  control::SubscriberVerdict Applied(bool queued);
  void Log(const logging::Event& e) const;

  // Immutable after construction.
  ControlTarget& target_;
  const ConnectorControlOptions options_;
  // Subscriber thread only.
  ConnectorControlStats stats_;
};

// The snapshot cache. Save writes `snapshot_json` (the text the control plane sent, already decoded once) to
// dir/control-state.json atomically, mode 0600. Load reads it back and decodes it; an error line when there is
// none, it is unreadable, too large (wire::kMaxSnapshotBytes) or does not decode (then the connector starts with
// no policy, as without a cache).
Result<void, std::string> SaveSnapshotCache(const std::filesystem::path& dir, std::string_view snapshot_json);
Result<control::ConnectorSnapshot, std::string> LoadSnapshotCache(const std::filesystem::path& dir);

}  // namespace strait::connector
