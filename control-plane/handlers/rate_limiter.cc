#include "control-plane/handlers/rate_limiter.h"

#include <algorithm>

namespace strait::control {

RateLimiter::RateLimiter(double rate, double burst, size_t max_entries)
    : rate_(rate), burst_(burst), max_entries_(std::max<size_t>(1, max_entries)) {}

bool RateLimiter::Allow(std::string_view key, double now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_entries_) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(key);
    it = buckets_.emplace(std::string(key), Bucket{burst_, now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    Bucket& b = it->second;
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, now - b.at) * rate_);
    b.at = now;
  }
  if (it->second.tokens < 1.0) return false;
  it->second.tokens -= 1.0;
  return true;
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace strait::control
