// Registry: tenant -> live connector links (id, credential bytes and expiry, session count), shared by every shard.
// It is the relay's control step: read once per SESSION_REQUEST and written once per connector link up/down and per
// session open/close, under one mutex. No frame ever touches it (docs/relay.md "Connector selection").
// A connector whose credential has expired is never offered (its link closes within a second of expiry; Pick checks
// the time too, so there is no window), nor is one the asking device has refused before.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace strait::relay {

class Registry {
 public:
  struct Choice {
    std::uint64_t link = 0;  // packed LinkRef of the connector link
    std::string subject;
    std::shared_ptr<const std::vector<std::uint8_t>> credential;
  };

  // [any] A connector link logged in.
  void Add(const std::string& tenant, const std::string& subject, std::uint64_t link,
           std::vector<std::uint8_t> credential, std::uint64_t not_after) {
    std::lock_guard lock(mu_);
    tenants_[tenant].push_back(
        {link, subject, std::make_shared<const std::vector<std::uint8_t>>(std::move(credential)), not_after, 0});
    tenant_of_[link] = tenant;
  }
  // [any] A connector link went down.
  void Remove(std::uint64_t link) {
    std::lock_guard lock(mu_);
    auto t = tenant_of_.find(link);
    if (t == tenant_of_.end()) return;
    auto& v = tenants_[t->second];
    std::erase_if(v, [link](const Entry& e) { return e.link == link; });
    if (v.empty()) tenants_.erase(t->second);
    tenant_of_.erase(t);
  }
  // [any] Picks a connector of `tenant` for a new session and counts the session on it: the preferred one if it is
  // live (the least loaded of that name), else the least loaded of the tenant. Skipped: links whose credential has
  // expired at `now_unix` and the links in `refused`. nullopt: none left.
  std::optional<Choice> Pick(const std::string& tenant, const std::string& preferred, std::uint64_t now_unix,
                             std::span<const std::uint64_t> refused = {}) {
    std::lock_guard lock(mu_);
    auto t = tenants_.find(tenant);
    if (t == tenants_.end()) return std::nullopt;
    auto usable = [&](const Entry& e) {
      return now_unix <= e.not_after && std::find(refused.begin(), refused.end(), e.link) == refused.end();
    };
    Entry* best = nullptr;
    if (!preferred.empty()) {
      for (Entry& e : t->second) {
        if (e.subject == preferred && usable(e) && (best == nullptr || e.sessions < best->sessions)) best = &e;
      }
    }
    if (best == nullptr) {
      for (Entry& e : t->second) {
        if (usable(e) && (best == nullptr || e.sessions < best->sessions)) best = &e;
      }
    }
    if (best == nullptr) return std::nullopt;
    ++best->sessions;
    return Choice{best->link, best->subject, best->credential};
  }
  // [any] A session counted on `link` ended.
  void Release(std::uint64_t link) {
    std::lock_guard lock(mu_);
    auto t = tenant_of_.find(link);
    if (t == tenant_of_.end()) return;
    for (Entry& e : tenants_[t->second]) {
      if (e.link == link && e.sessions > 0) --e.sessions;
    }
  }

 private:
  struct Entry {
    std::uint64_t link;
    std::string subject;
    std::shared_ptr<const std::vector<std::uint8_t>> credential;
    std::uint64_t not_after;  // the credential's, unix seconds (valid through it)
    std::uint32_t sessions;
  };
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Entry>> tenants_;  // guarded by mu_
  std::unordered_map<std::uint64_t, std::string> tenant_of_;     // guarded by mu_
};

}  // namespace strait::relay
