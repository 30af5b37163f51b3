// CredentialLinks: the live links of each credential subject, relay-wide, so that one credential cannot open links
// without bound (issue 7: a device credential could open any number of links, four sessions each, and use up its
// connector's session cap), and so that a denial from the control plane finds the links it must close
// (docs/control-plane.md §7.3: a subject's, or a suspended tenant's). Keyed by role, tenant and subject (DenyKey),
// not by serial: a renewed credential is the same device or connector. Like the Registry it is control state,
// written once per link up and down under one mutex; no frame touches it.
//
// Over the limit the OLDEST link of the subject goes, not the new login: a device that changed networks logs in
// again before the relay sees its old link die (that takes the idle timeout), and it must get in. A credential used
// in two places at once therefore makes its own links replace each other, visibly (strait_relay_links_replaced_total
// and a log line); it cannot cost another subject anything.
//
// Memory: one entry per subject with a live link, grouped by tenant; nothing outlives the subject's last link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "relay/deny_list.h"

namespace strait::relay {

class CredentialLinks {
 public:
  // [any] `link` of subject `key` is up. Returns the subject's oldest link if it now holds more than `limit`
  // (limit >= 1): the caller closes it. That link is forgotten here at once, so each login replaces at most one.
  std::optional<std::uint64_t> Add(const DenyKey& key, std::uint64_t link, std::uint32_t limit) {
    std::lock_guard lock(mu_);
    auto [it, added] = links_.try_emplace(key);
    if (added) ++tenants_[key.tenant];
    std::vector<std::uint64_t>& v = it->second;
    v.push_back(link);  // in login order: the front is the oldest
    if (v.size() <= limit) return std::nullopt;
    const std::uint64_t oldest = v.front();
    v.erase(v.begin());
    return oldest;
  }
  // [any] `link` went down (a no-op if Add already handed it out to be closed).
  void Remove(const DenyKey& key, std::uint64_t link) {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    if (it == links_.end()) return;
    std::erase(it->second, link);
    if (!it->second.empty()) return;
    links_.erase(it);
    auto t = tenants_.find(key.tenant);
    if (t != tenants_.end() && --t->second == 0) tenants_.erase(t);
  }
  // [any] The live links of `key` (at most the per-credential limit), oldest first.
  std::vector<std::uint64_t> LinksOf(const DenyKey& key) {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    return it == links_.end() ? std::vector<std::uint64_t>{} : it->second;
  }
  // [any] Every live subject with its links (a snapshot's sweep; O(live links), once per snapshot).
  std::vector<std::pair<DenyKey, std::vector<std::uint64_t>>> All() {
    std::lock_guard lock(mu_);
    return {links_.begin(), links_.end()};
  }
  // [any] Every live link of `tenant`'s subjects (a tenant suspension). O(live subjects) under the mutex, and only
  // when the tenant has any: a suspension is rare, a sweep of what exists is cheaper than a second index kept on
  // every login.
  std::vector<std::uint64_t> LinksOfTenant(const std::string& tenant) {
    std::lock_guard lock(mu_);
    std::vector<std::uint64_t> out;
    if (!tenants_.contains(tenant)) return out;
    for (const auto& [key, v] : links_) {
      if (key.tenant == tenant) out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }
  // [any] Subjects with a live link (tests: the table shrinks back to empty).
  std::size_t subjects() {
    std::lock_guard lock(mu_);
    return links_.size();
  }

 private:
  std::mutex mu_;
  // Guarded by mu_.
  std::unordered_map<DenyKey, std::vector<std::uint64_t>, DenyKeyHash> links_;
  std::unordered_map<std::string, std::size_t> tenants_;  // tenant -> its subjects in links_
};

}  // namespace strait::relay
