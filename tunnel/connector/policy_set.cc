#include "tunnel/connector/policy_set.h"

#include <utility>

namespace strait::connector {

const PolicyPtr& PolicySet::DenyAll() {
  static const PolicyPtr deny_all = std::make_shared<const Policy>();  // no rules: denies everything
  return deny_all;
}

PolicySet::PolicySet(PolicyPtr single_default) {
  if (single_default) {
    policies_.emplace("default", std::move(single_default));
    default_id_ = "default";
  }
}

void PolicySet::Replace(PolicySetState state) {
  std::erase_if(state.policies, [](const auto& kv) { return kv.second == nullptr; });
  policies_ = std::move(state.policies);
  devices_ = std::move(state.devices);
  default_id_ = std::move(state.default_id);
  ++epoch_;
}

void PolicySet::Put(const std::string& id, PolicyPtr policy, bool is_default) {
  if (!policy) return;
  policies_.insert_or_assign(id, std::move(policy));
  if (is_default) {
    default_id_ = id;
  } else if (default_id_ == id) {
    default_id_.reset();
  }
  ++epoch_;
}

bool PolicySet::Remove(const std::string& id) {
  const bool held = policies_.erase(id) != 0;
  if (default_id_ == id) default_id_.reset();
  ++epoch_;
  return held;
}

void PolicySet::SetDevice(const std::string& device, std::optional<std::string> policy) {
  if (policy) {
    devices_.insert_or_assign(device, std::move(*policy));
  } else {
    devices_.erase(device);
  }
  ++epoch_;
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
