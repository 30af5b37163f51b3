// ControlSubscription: an enrolled relay's or connector's link to strait-control (docs/control-plane.md §7.2), as the
// daemon commands use it. It builds the subscriber from the identity directory (control.json, the bundle's CA and
// credential), hands snapshots and events to the daemon's appliers (relay/control_apply.h,
// tunnel/connector/control_apply.h), and turns what the subscriber reports into log lines:
//
//   control_following   after=ID                  the stream is open (info)
//   control_event       id, type                  an event applied, heartbeats excepted (info)
//   control_disconnected reason, retry_ms          a connection, snapshot or stream failed (warn)
//   control_revoked     reason                    403 *-revoked: this daemon is revoked (error)
//   control_stopped     reason                    the applier said stop: revoked by an event, tenant deleted (error)
//
// On control_revoked / control_stopped the daemon must stop and exit 1: ended() turns true and SIGTERM is sent to
// this process, so the command's sigwait wakes, drains, and returns kExitError when ended() says so.
//
// stdout: "<relay|connector> control snapshot as_of=<id>" each time a snapshot is applied (the first one says the
// daemon holds its denials or policies; scripts wait for it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "crypto/keystore.h"
#include "crypto/result.h"
#include "logging/logger.h"
#include "tunnel/control/daemon_defaults.h"
#include "tunnel/control/subscriber.h"

namespace strait::cli {

class ControlSubscription final : public control::SubscriberHandler {
 public:
  // [subscriber thread] Decode and apply a snapshot's body; return its as_of. Set *stop when the snapshot says this
  // daemon is revoked (its id among the revoked relays, its tenant deleted): the daemon then stops as on kStop.
  using SnapshotFn = std::function<Result<uint64_t, std::string>(std::string_view body, bool* stop)>;
  // [subscriber thread] Apply one event (heartbeats included).
  using EventFn = std::function<control::SubscriberVerdict(const control::Event& event)>;

  // Starts the subscriber thread. `log` must outlive this object.
  static Result<std::unique_ptr<ControlSubscription>, std::string> Start(const control::SubscriptionDefaults& where,
                                                                         const crypto::IdentityBundle& bundle,
                                                                         logging::Logger* log, SnapshotFn on_snapshot,
                                                                         EventFn on_event);
  ~ControlSubscription() override;  // stops the subscriber thread

  // True once this daemon was revoked or told to stop by the control plane.
  bool ended() const { return ended_.load(std::memory_order_acquire); }
  control::SubscriberCounters counters() const { return subscriber_->counters(); }
  // [any] A renewed credential (the renewer), used from the next connection on.
  void SetCredential(std::vector<uint8_t> credential, crypto::Ed25519KeyPair key) {
    subscriber_->SetCredential(std::move(credential), std::move(key));
  }

  // SubscriberHandler, on the subscriber thread.
  Result<uint64_t, std::string> OnSnapshot(std::string_view body) override;
  control::SubscriberVerdict OnEvent(const control::Event& event) override;
  void OnStatus(const control::SubscriberStatus& status) override;

 private:
  ControlSubscription(std::string role, logging::Logger* log, SnapshotFn on_snapshot, EventFn on_event)
      : role_(std::move(role)), log_(log), on_snapshot_(std::move(on_snapshot)), on_event_(std::move(on_event)) {}

  void End(control::SubscriberState state, const std::string& reason);

  const std::string role_;  // "relay" or "connector": the stdout line's first word
  logging::Logger* const log_;
  const SnapshotFn on_snapshot_;
  const EventFn on_event_;
  std::unique_ptr<control::Subscriber> subscriber_;
  std::atomic<bool> ended_{false};
};

}  // namespace strait::cli
