#include "relay/control_apply.h"

#include <algorithm>
#include <utility>
#include <variant>
#include <vector>

namespace strait::relay {

RelayControl::RelayControl(Relay& relay, std::string relay_id) : relay_(relay), relay_id_(std::move(relay_id)) {}

control::SubscriberVerdict RelayControl::ApplySnapshot(const control::RelaySnapshot& snapshot, std::uint64_t now) {
  std::vector<Denial> denied;
  denied.reserve(snapshot.denied.size());
  for (const control::SnapshotDenial& d : snapshot.denied) {
    denied.push_back(Denial{DenyKey{d.role, d.tenant, d.subject}, d.until, d.reason});
  }
  relay_.deny_list().Replace(denied, snapshot.suspended_tenants, now);
  last_expire_ = now;  // Replace dropped what was over
  // Whatever the list now denies goes, whether it was denied before or not: a close missed while the stream was
  // down (the reason for this snapshot) is made now. O(live subjects), once per snapshot.
  links_closed_ += relay_.CloseDenied(now);
  const auto& revoked = snapshot.revoked_relays;
  return std::find(revoked.begin(), revoked.end(), relay_id_) != revoked.end() ? control::SubscriberVerdict::kStop
                                                                               : control::SubscriberVerdict::kContinue;
}

void RelayControl::DenyAndClose(crypto::Role role, const std::string& tenant, const std::string& subject,
                                std::uint64_t until, const std::string& reason, std::uint64_t now) {
  Denial d{DenyKey{role, tenant, subject}, until, reason};
  // A denial already over (until < now) is not kept: every credential of the subject has expired, so the
  // credential check refuses it anyway; its links are closed all the same (their expiry timers may lag).
  (void)relay_.deny_list().Deny(d, now);
  links_closed_ += relay_.CloseSubject(d.key, reason);
}

control::SubscriberVerdict RelayControl::ApplyEvent(const control::Event& event, std::uint64_t now) {
  using control::EventType;
  switch (event.type) {
    case EventType::kDeviceLocked:
    case EventType::kDeviceRevoked:
      if (const auto* b = std::get_if<control::DeviceDenied>(&event.body)) {
        DenyAndClose(crypto::Role::kDevice, b->tenant, b->device, b->until, b->reason, now);
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kDeviceUnlocked:
      if (const auto* b = std::get_if<control::DeviceUnlocked>(&event.body)) {
        (void)relay_.deny_list().Lift(DenyKey{crypto::Role::kDevice, b->tenant, b->device});
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kConnectorRevoked:
      // Its links close; the registry drops them as they go down, and its devices' sessions end with
      // connector_gone (they ask again and get another connector of the tenant).
      if (const auto* b = std::get_if<control::ConnectorRevoked>(&event.body)) {
        DenyAndClose(crypto::Role::kConnector, b->tenant, b->connector, b->until, b->reason, now);
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kRelayRevoked:
      if (const auto* b = std::get_if<control::RelayRevoked>(&event.body); b != nullptr && b->relay == relay_id_) {
        return control::SubscriberVerdict::kStop;
      }
      return control::SubscriberVerdict::kContinue;  // another relay: our peers refuse its HELLO_ACK, nothing to do here
    case EventType::kTenantSuspended:
    case EventType::kTenantDeleted:
      if (const auto* b = std::get_if<control::TenantChanged>(&event.body)) {
        relay_.deny_list().SuspendTenant(b->tenant);
        links_closed_ += relay_.CloseTenant(b->tenant);
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kTenantResumed:
      if (const auto* b = std::get_if<control::TenantChanged>(&event.body)) {
        relay_.deny_list().ResumeTenant(b->tenant);
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kResync:
      if (const auto* b = std::get_if<control::Resync>(&event.body); b != nullptr && !b->tenant) {
        return control::SubscriberVerdict::kResync;
      }
      return control::SubscriberVerdict::kContinue;  // one tenant's: a policy change (groups, default), which the relay does not hold
    case EventType::kHeartbeat:
      if (now >= last_expire_ + kExpireEverySeconds) {
        expired_ += relay_.deny_list().Expire(now);
        last_expire_ = now;
      }
      return control::SubscriberVerdict::kContinue;
    case EventType::kPolicyUpdated:
    case EventType::kPolicyDeleted:
    case EventType::kDevicePolicy:
    case EventType::kUnknown:
      return control::SubscriberVerdict::kContinue;
  }
  return control::SubscriberVerdict::kContinue;
}

}  // namespace strait::relay
