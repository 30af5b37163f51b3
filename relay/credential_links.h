// CredentialLinks: the live links of each credential subject, relay-wide, so that one credential cannot open links
// without bound (issue 7: a device credential could open any number of links, four sessions each, and use up its
// connector's session cap). Keyed by role, tenant and subject, not by serial: a renewed credential is the same
// device or connector. Like the Registry it is control state, written once per link up and down under one mutex;
// no frame touches it.
//
// Over the limit the OLDEST link of the subject goes, not the new login: a device that changed networks logs in
// again before the relay sees its old link die (that takes the idle timeout), and it must get in. A credential used
// in two places at once therefore makes its own links replace each other, visibly (strait_relay_links_replaced_total
// and a log line); it cannot cost another subject anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace strait::relay {

class CredentialLinks {
 public:
  // [any] `link` of subject `key` is up. Returns the subject's oldest link if it now holds more than `limit`
  // (limit >= 1): the caller closes it. That link is forgotten here at once, so each login replaces at most one.
  std::optional<std::uint64_t> Add(const std::string& key, std::uint64_t link, std::uint32_t limit) {
    std::lock_guard lock(mu_);
    std::vector<std::uint64_t>& v = links_[key];
    v.push_back(link);  // in login order: the front is the oldest
    if (v.size() <= limit) return std::nullopt;
    const std::uint64_t oldest = v.front();
    v.erase(v.begin());
    return oldest;
  }
  // [any] `link` went down (a no-op if Add already handed it out to be closed).
  void Remove(const std::string& key, std::uint64_t link) {
    std::lock_guard lock(mu_);
    auto it = links_.find(key);
    if (it == links_.end()) return;
    std::erase(it->second, link);
    if (it->second.empty()) links_.erase(it);
  }
  // [any] Subjects with a live link (tests: the table shrinks back to empty).
  std::size_t subjects() {
    std::lock_guard lock(mu_);
    return links_.size();
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<std::uint64_t>> links_;  // guarded by mu_
};

}  // namespace strait::relay
