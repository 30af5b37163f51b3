// Registry: tenant -> live connector links (id, credential bytes, session count), shared by every shard. It is
// the relay's control step: read once per SESSION_REQUEST and written once per connector link up/down and per
// session open/close, under one mutex. No frame ever touches it (docs/relay.md "Connector selection").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
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
           std::vector<std::uint8_t> credential) {
    std::lock_guard lock(mu_);
    tenants_[tenant].push_back(
        {link, subject, std::make_shared<const std::vector<std::uint8_t>>(std::move(credential)), 0});
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
  // live (the least loaded of that name), else the least loaded of the tenant. nullopt: none live.
  std::optional<Choice> Pick(const std::string& tenant, const std::string& preferred) {
    std::lock_guard lock(mu_);
    auto t = tenants_.find(tenant);
    if (t == tenants_.end() || t->second.empty()) return std::nullopt;
    Entry* best = nullptr;
    if (!preferred.empty()) {
      for (Entry& e : t->second) {
        if (e.subject == preferred && (best == nullptr || e.sessions < best->sessions)) best = &e;
      }
    }
    if (best == nullptr) {
      for (Entry& e : t->second) {
        if (best == nullptr || e.sessions < best->sessions) best = &e;
      }
    }
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
    std::uint32_t sessions;
  };
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Entry>> tenants_;  // guarded by mu_
  std::unordered_map<std::uint64_t, std::string> tenant_of_;     // guarded by mu_
};

}  // namespace strait::relay
