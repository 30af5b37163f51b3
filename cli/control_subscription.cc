#include "cli/control_subscription.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace strait::cli {

Result<std::unique_ptr<ControlSubscription>, std::string> ControlSubscription::Start(
    const control::SubscriptionDefaults& where, const crypto::IdentityBundle& bundle, logging::Logger* log,
    SnapshotFn on_snapshot, EventFn on_event) {
  std::unique_ptr<ControlSubscription> s(
      new ControlSubscription(std::string(crypto::RoleName(where.role)), log, std::move(on_snapshot),
                              std::move(on_event)));
  control::SubscriberOptions o;
  o.url = where.url;
  o.ca_pem = where.ca_pem;
  o.snapshot_target = where.snapshot_target;
  o.events_target = where.events_target;
  o.role = where.role;
  auto sub = control::Subscriber::Create(std::move(o), bundle.credential,
                                         crypto::Ed25519KeyPair::FromSeed(bundle.signing_key.seed), s.get());
  if (!sub) return Fail("control plane subscriber: " + sub.error());
  s->subscriber_ = std::move(*sub);
  s->subscriber_->Start();
  return s;
}

ControlSubscription::~ControlSubscription() {
  if (subscriber_) subscriber_->Stop();
}

Result<uint64_t, std::string> ControlSubscription::OnSnapshot(std::string_view body) {
  bool stop = false;
  auto as_of = on_snapshot_(body, &stop);
  if (as_of && stop) End(control::SubscriberState::kStopped, fmt::format("the snapshot as of {} revokes this {}",
                                                                         *as_of, role_));
  if (as_of) {
    // The contract line scripts and the demo wait for: the daemon holds the control plane's state from here on.
    std::printf("%s control snapshot as_of=%llu\n", role_.c_str(), static_cast<unsigned long long>(*as_of));
    std::fflush(stdout);
    log_->Log(logging::Event(logging::Level::kInfo, "control_snapshot").With("as_of", *as_of).With("bytes",
                                                                                                   body.size()));
  }
  return as_of;
}

control::SubscriberVerdict ControlSubscription::OnEvent(const control::Event& event) {
  const control::SubscriberVerdict v = on_event_(event);
  if (event.type != control::EventType::kHeartbeat) {
    log_->Log(logging::Event(logging::Level::kInfo, "control_event")
                  .With("id", event.id)
                  .With("type", control::EventTypeName(event.type)));
  }
  return v;
}

void ControlSubscription::OnStatus(const control::SubscriberStatus& status) {
  using control::SubscriberState;
  switch (status.state) {
    case SubscriberState::kFollowing:
      log_->Log(logging::Event(logging::Level::kInfo, "control_following").With("after", status.resume_point));
      return;
    case SubscriberState::kDisconnected:
      log_->Log(logging::Event(logging::Level::kWarn, "control_disconnected")
                    .With("reason", status.reason)
                    .With("retry_ms", status.retry_in.count()));
      return;
    case SubscriberState::kRevoked:
    case SubscriberState::kStopped:
      End(status.state, status.reason);
      return;
  }
}

void ControlSubscription::End(control::SubscriberState state, const std::string& reason) {
  log_->Log(logging::Event(logging::Level::kError,
                           state == control::SubscriberState::kRevoked ? "control_revoked" : "control_stopped")
                .With("reason", reason));
  if (!ended_.exchange(true, std::memory_order_acq_rel)) {
    kill(getpid(), SIGTERM);  // the command's sigwait: drain, then exit 1 (ended())
  }
}

}  // namespace strait::cli
