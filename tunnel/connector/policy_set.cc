#include "tunnel/connector/policy_set.h"

#include <utility>

namespace strait::connector {

const PolicyPtr& PolicySet::DenyAll() {
  static const PolicyPtr deny_all = std::make_shared<const Policy>();  // no rules: denies everything
  return deny_all;
}

PolicySet::PolicySet(PolicyPtr single_default, PolicySetLimits limits) : limits_(limits) {
  if (single_default) {
    policies_.emplace("default", std::move(single_default));
    default_id_ = "default";
  }
}

// Drops entries of `map` beyond `limit` (which ones: the map's order, arbitrary but harmless: only a broken control
// plane gets here), keeping `keep` if it is there. Returns how many went.
template <typename Map>
static std::size_t Trim(Map& map, std::size_t limit, const std::optional<std::string>& keep) {
  std::size_t dropped = 0;
  for (auto it = map.begin(); map.size() > limit && it != map.end();) {
    if (keep && it->first == *keep) {
      ++it;
      continue;
    }
    it = map.erase(it);
    ++dropped;
  }
  return dropped;
}

void PolicySet::Replace(PolicySetState state) {
  std::erase_if(state.policies, [](const auto& kv) { return kv.second == nullptr; });
  over_bound_ += Trim(state.policies, limits_.max_policies, state.default_id);
  over_bound_ += Trim(state.devices, limits_.max_devices, std::nullopt);
  policies_ = std::move(state.policies);
  devices_ = std::move(state.devices);
  default_id_ = std::move(state.default_id);
  ++epoch_;
}

bool PolicySet::Put(const std::string& id, PolicyPtr policy, bool is_default) {
  if (!policy) return false;
  if (policies_.size() >= limits_.max_policies && !policies_.contains(id)) {
    ++over_bound_;
    return false;
  }
  policies_.insert_or_assign(id, std::move(policy));
  if (is_default) {
    default_id_ = id;
  } else if (default_id_ == id) {
    default_id_.reset();
  }
  ++epoch_;
  return true;
}

bool PolicySet::Remove(const std::string& id) {
  const bool held = policies_.erase(id) != 0;
  if (default_id_ == id) default_id_.reset();
  ++epoch_;
  return held;
}

bool PolicySet::SetDevice(const std::string& device, std::optional<std::string> policy) {
  if (policy) {
    if (devices_.size() >= limits_.max_devices && !devices_.contains(device)) {
      ++over_bound_;
      return false;
    }
    devices_.insert_or_assign(device, std::move(*policy));
  } else {
    devices_.erase(device);
  }
  ++epoch_;
  return true;
}

const PolicyPtr& PolicySet::Default() const {
  if (default_id_) {
    if (auto it = policies_.find(*default_id_); it != policies_.end()) return it->second;
  }
  return DenyAll();
}

const PolicyPtr& PolicySet::For(std::string_view device) const {
  if (!devices_.empty()) {
    // Heterogeneous lookup needs a transparent hash; one std::string per lookup is fine: For() runs once per
    // epoch change per session, not per OPEN.
    if (auto d = devices_.find(std::string(device)); d != devices_.end()) {
      if (auto p = policies_.find(d->second); p != policies_.end()) return p->second;
    }
  }
  return Default();
}

}  // namespace strait::connector
