// DeviceDenials: the devices the control plane revoked or locked (docs/control-plane.md §7.3), as the connector
// holds them: device id -> {until, reason}. A denied device's sessions are closed with SESSION_CLOSE revoked and
// its SESSION_INIT and Direct Connect login refused (counted) while now <= until (inclusive, like a credential's
// validity; `until` is the expiry of the last credential issued to the device, so afterwards the credential check
// refuses it anyway). The connector serves one tenant, so the key is the device id alone (relay/deny_list.h keys
// by role, tenant and subject and takes a mutex; this one is loop-thread only, so it is a separate small class
// rather than a dependency of strait_connector on the relay).
//
// Bound: max_denials (the control plane holds one per revoked or locked device of the tenant whose credentials
// are still valid, far below it). At the bound, expired denials go first; if still full, the one that ends
// soonest is evicted (counted in evicted()): the shortest exposure the bound can cost. Times are passed in.
// Threading: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace strait::connector {

struct DeviceDenial {
  std::string device;
  std::uint64_t until = 0;  // unix seconds, inclusive
  std::string reason;       // as the control plane gave it, for the log line ("" when none)
};

class DeviceDenials {
 public:
  explicit DeviceDenials(std::size_t max_denials = 100'000) : max_(max_denials == 0 ? 1 : max_denials) {}

  // Adds or replaces the denial of d.device. One already over (until < now) is ignored: returns false.
  bool Deny(const DeviceDenial& d, std::uint64_t now);
  // device.unlocked. Returns whether there was one.
  bool Lift(std::string_view device);
  // A snapshot: replaces everything (over ones dropped; beyond the bound, the ones ending soonest).
  void Replace(const std::vector<DeviceDenial>& denied, std::uint64_t now);
  // Is `device` denied at `now`?
  bool IsDenied(std::string_view device, std::uint64_t now) const;
  // Drops the denials that are over. Returns how many.
  std::size_t Expire(std::uint64_t now);

  std::size_t size() const { return denied_.size(); }
  std::uint64_t evicted() const { return evicted_; }

 private:
  struct Entry {
    std::uint64_t until = 0;
    std::string reason;
  };
  void Remove(const std::string& device);

  // Immutable after construction.
  const std::size_t max_;
  // Loop thread only.
  std::unordered_map<std::string, Entry> denied_;
  std::set<std::pair<std::uint64_t, std::string>> by_until_;  // the same denials ordered by end
  std::uint64_t evicted_ = 0;
};

}  // namespace strait::connector
