// DenyList: the relay's denial set (docs/control-plane.md §7.3): subjects the control plane revoked or locked, and
// suspended or deleted tenants, checked at login after the credential verifies; a denied login gets ERROR revoked
// and is counted (strait_relay_logins_refused_total{reason="revoked"}). The subscriber thread feeds it from the
// snapshot (Replace) and the event stream (Deny, Lift, SuspendTenant, ResumeTenant), in id order.
//
// Keyed by (role, tenant, subject), not by serial: a renewed credential is the same device or connector. A denial
// holds until `until` (the expiry of the last credential issued to that subject, so afterwards the credential check
// refuses it anyway), inclusive like a credential's validity: denied iff now <= until. Times are passed in; no
// clock, no I/O. Like CredentialLinks it is control state under one mutex: every call is [any], written once per
// event, read once per login; no frame touches it.
//
// Bounds (DenyListOptions). Denials: the control plane keeps one per revoked or locked subject whose credentials
// are still valid (<= 30 days), far below the default max_denials. At the bound, expired denials go first; if it is
// still full, the denial that ends soonest is evicted (counted in evicted()): its credential expires soonest, so
// that is the shortest exposure the bound can cost. Suspended tenants: at most max_suspended_tenants (the
// operator's tenant bound, §8); a suspension beyond it is dropped and counted in overflow(). Both counters should
// stay zero; a non-zero one says the bound, not the control plane, decided.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crypto/credential.h"

namespace strait::relay {

struct DenyKey {
  crypto::Role role = crypto::Role::kDevice;  // device or connector (relays are not logins here)
  std::string tenant;
  std::string subject;
  auto operator<=>(const DenyKey&) const = default;
  bool operator==(const DenyKey&) const = default;
};

struct DenyKeyHash {
  size_t operator()(const DenyKey& k) const {
    const size_t h = std::hash<std::string>{}(k.tenant) * 31 + std::hash<std::string>{}(k.subject);
    return h * 4 + static_cast<size_t>(k.role);
  }
};

struct Denial {
  DenyKey key;
  uint64_t until = 0;  // unix seconds, inclusive
  std::string reason;  // as the control plane gave it (<= 256 bytes), for the log line
};

struct DenyListOptions {
  size_t max_denials = 1'000'000;       // 1..; about 200 bytes each
  size_t max_suspended_tenants = 10'000;  // 1..
};

enum class DenyVerdict : uint8_t {
  kAllowed,
  kSubjectDenied,    // the subject was revoked or locked
  kTenantSuspended,  // its tenant is suspended or deleted
};
std::string_view DenyVerdictName(DenyVerdict v);  // "allowed", "subject_denied", "tenant_suspended"

class DenyList {
 public:
  explicit DenyList(DenyListOptions options = {});

  // [any] Adds or replaces the denial of `d.key`. A denial already over (until < now) is ignored: returns false.
  bool Deny(const Denial& d, uint64_t now);
  // [any] Lifts a denial (device.unlocked). Returns whether there was one.
  bool Lift(const DenyKey& key);
  // [any] The login check: a live denial of the subject, then its tenant's suspension. Relay credentials (empty
  // tenant) are never denied here (relay.revoked concerns the relay itself).
  DenyVerdict Check(const DenyKey& key, uint64_t now) const;
  bool IsDenied(const DenyKey& key, uint64_t now) const { return Check(key, now) != DenyVerdict::kAllowed; }
  // [any] The denial of `key` if one is live at `now` (for the log line's reason).
  std::optional<Denial> Find(const DenyKey& key, uint64_t now) const;
  // [any] Drops denials that are over (until < now). Returns how many. Call it now and then (each snapshot or
  // heartbeat will do); a stale entry costs memory, never a wrong verdict.
  size_t Expire(uint64_t now);
  // [any] tenant.suspended / tenant.deleted, and tenant.resumed.
  void SuspendTenant(const std::string& tenant);
  void ResumeTenant(const std::string& tenant);
  // [any] A snapshot (§7.2) replaces everything, whole: `denied` (over ones dropped; beyond the bound, the ones
  // ending soonest) and `suspended_tenants`.
  void Replace(const std::vector<Denial>& denied, const std::vector<std::string>& suspended_tenants, uint64_t now);

  // [any] Sizes and counters (metrics; tests).
  size_t denials() const;
  size_t suspended_tenants() const;
  uint64_t evicted() const;   // denials pushed out by max_denials
  uint64_t overflow() const;  // suspensions dropped by max_suspended_tenants

 private:
  struct Entry {
    uint64_t until = 0;
    std::string reason;
  };
  // Both with mu_ held.
  void RemoveLocked(DenyKey key);  // by value: callers pass keys held by the containers it erases from
  bool DenyLocked(const Denial& d, uint64_t now);

  // Immutable after construction.
  const DenyListOptions options_;
  mutable std::mutex mu_;
  // Guarded by mu_.
  std::unordered_map<DenyKey, Entry, DenyKeyHash> denied_;
  std::set<std::pair<uint64_t, DenyKey>> by_until_;  // the same denials ordered by end: expiry and eviction
  std::unordered_set<std::string> suspended_;
  uint64_t evicted_ = 0;
  uint64_t overflow_ = 0;
};

}  // namespace strait::relay
