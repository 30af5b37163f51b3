#include "relay/deny_list.h"

#include <cassert>

namespace strait::relay {

std::string_view DenyVerdictName(DenyVerdict v) {
  switch (v) {
    case DenyVerdict::kAllowed: return "allowed";
    case DenyVerdict::kSubjectDenied: return "subject_denied";
    case DenyVerdict::kTenantSuspended: return "tenant_suspended";
  }
  return "unknown";
}

DenyList::DenyList(DenyListOptions options) : options_(options) {
  assert(options_.max_denials >= 1 && options_.max_suspended_tenants >= 1);
}

void DenyList::RemoveLocked(DenyKey key) {
  auto it = denied_.find(key);
  if (it == denied_.end()) return;
  by_until_.erase({it->second.until, key});
  denied_.erase(it);
}

bool DenyList::DenyLocked(const Denial& d, uint64_t now) {
  if (d.until < now) return false;
  RemoveLocked(d.key);  // a newer event for the same subject replaces the old denial (its until may be later)
  if (denied_.size() >= options_.max_denials) {
    // Over ones first; then the one that ends soonest, if it ends before this one.
    while (!by_until_.empty() && by_until_.begin()->first < now) RemoveLocked(by_until_.begin()->second);
    if (denied_.size() >= options_.max_denials) {
      ++evicted_;
      if (by_until_.begin()->first > d.until) return false;  // this one ends soonest: it is the one left out
      RemoveLocked(by_until_.begin()->second);
    }
  }
  denied_.emplace(d.key, Entry{d.until, d.reason});
  by_until_.emplace(d.until, d.key);
  return true;
}

bool DenyList::Deny(const Denial& d, uint64_t now) {
  std::lock_guard lock(mu_);
  return DenyLocked(d, now);
}

bool DenyList::Lift(const DenyKey& key) {
  std::lock_guard lock(mu_);
  const bool had = denied_.contains(key);
  RemoveLocked(key);
  return had;
}

DenyVerdict DenyList::Check(const DenyKey& key, uint64_t now) const {
  if (key.tenant.empty()) return DenyVerdict::kAllowed;
  std::lock_guard lock(mu_);
  auto it = denied_.find(key);
  if (it != denied_.end() && now <= it->second.until) return DenyVerdict::kSubjectDenied;
  if (suspended_.contains(key.tenant)) return DenyVerdict::kTenantSuspended;
  return DenyVerdict::kAllowed;
}

std::optional<Denial> DenyList::Find(const DenyKey& key, uint64_t now) const {
  std::lock_guard lock(mu_);
  auto it = denied_.find(key);
  if (it == denied_.end() || now > it->second.until) return std::nullopt;
  return Denial{key, it->second.until, it->second.reason};
}

size_t DenyList::Expire(uint64_t now) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  while (!by_until_.empty() && by_until_.begin()->first < now) {
    RemoveLocked(by_until_.begin()->second);
    ++n;
  }
  return n;
}

void DenyList::SuspendTenant(const std::string& tenant) {
  std::lock_guard lock(mu_);
  if (suspended_.contains(tenant)) return;
  if (suspended_.size() >= options_.max_suspended_tenants) {
    ++overflow_;
    return;
  }
  suspended_.insert(tenant);
}

void DenyList::ResumeTenant(const std::string& tenant) {
  std::lock_guard lock(mu_);
  suspended_.erase(tenant);
}

void DenyList::Replace(const std::vector<Denial>& denied, const std::vector<std::string>& suspended_tenants,
                       uint64_t now) {
  // Built apart and swapped in: logins (Check, on the shards) never wait while up to max_denials entries are
  // inserted, and the old containers are freed after the lock is released (fresh's destructor).
  DenyList fresh(options_);
  {
    std::lock_guard fresh_lock(fresh.mu_);
    for (const Denial& d : denied) fresh.DenyLocked(d, now);
    for (const std::string& t : suspended_tenants) {
      if (fresh.suspended_.size() >= options_.max_suspended_tenants && !fresh.suspended_.contains(t)) {
        ++fresh.overflow_;
        continue;
      }
      fresh.suspended_.insert(t);
    }
  }
  std::lock_guard lock(mu_);
  denied_.swap(fresh.denied_);
  by_until_.swap(fresh.by_until_);
  suspended_.swap(fresh.suspended_);
  evicted_ += fresh.evicted_;
  overflow_ += fresh.overflow_;
}

size_t DenyList::denials() const {
  std::lock_guard lock(mu_);
  return denied_.size();
}
size_t DenyList::suspended_tenants() const {
  std::lock_guard lock(mu_);
  return suspended_.size();
}
uint64_t DenyList::evicted() const {
  std::lock_guard lock(mu_);
  return evicted_;
}
uint64_t DenyList::overflow() const {
  std::lock_guard lock(mu_);
  return overflow_;
}

}  // namespace strait::relay
