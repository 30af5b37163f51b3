#include "tunnel/connector/device_denials.h"

namespace strait::connector {

void DeviceDenials::Remove(const std::string& device) {
  auto it = denied_.find(device);
  if (it == denied_.end()) return;
  by_until_.erase({it->second.until, device});
  denied_.erase(it);
}

bool DeviceDenials::Deny(const DeviceDenial& d, std::uint64_t now) {
  if (d.until < now) return false;
  Remove(d.device);
  if (denied_.size() >= max_) {
    Expire(now);
    if (denied_.size() >= max_) {
      // Full of live denials: the one ending soonest goes (its credential expires soonest), unless this one ends
      // sooner still.
      const auto& first = *by_until_.begin();
      if (first.first > d.until) {
        ++evicted_;
        return false;
      }
      denied_.erase(first.second);
      by_until_.erase(by_until_.begin());
      ++evicted_;
    }
  }
  denied_.emplace(d.device, Entry{d.until, d.reason});
  by_until_.emplace(d.until, d.device);
  return true;
}

bool DeviceDenials::Lift(std::string_view device) {
  const std::string key(device);
  if (!denied_.contains(key)) return false;
  Remove(key);
  return true;
}

void DeviceDenials::Replace(const std::vector<DeviceDenial>& denied, std::uint64_t now) {
  denied_.clear();
  by_until_.clear();
  for (const DeviceDenial& d : denied) (void)Deny(d, now);
}

bool DeviceDenials::IsDenied(std::string_view device, std::uint64_t now) const {
  if (denied_.empty()) return false;
  auto it = denied_.find(std::string(device));
  return it != denied_.end() && now <= it->second.until;
}

std::size_t DeviceDenials::Expire(std::uint64_t now) {
  std::size_t n = 0;
  while (!by_until_.empty() && by_until_.begin()->first < now) {
    denied_.erase(by_until_.begin()->second);
    by_until_.erase(by_until_.begin());
    ++n;
  }
  return n;
}

}  // namespace strait::connector
