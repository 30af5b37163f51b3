// Token buckets keyed by a string (docs/control-plane.md §8): per API key (50/s, burst 100), per source IP for
// unauthenticated requests (20/s) and for /v1/activate (10 per minute). The table is bounded: beyond max_entries the
// least recently used bucket is dropped (a dropped key starts again with a full bucket, which costs an attacker who
// rotates keys nothing he did not have: each new key or address gets only its own burst).
// Thread-safety: one mutex; Allow is O(1).
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strait::control {

class RateLimiter {
 public:
  // `rate` tokens per second, at most `burst` saved.
  RateLimiter(double rate, double burst, size_t max_entries = 10'000);

  // Takes one token from `key`'s bucket at time `now` (seconds, monotonic); false when it is empty.
  bool Allow(std::string_view key, double now);
  size_t size() const;

 private:
  struct Bucket {
    double tokens;
    double at;
    std::list<std::string>::iterator lru;
  };
  const double rate_;
  const double burst_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // [mu_] most recent first
  std::unordered_map<std::string, Bucket> buckets_;  // [mu_]
};

}  // namespace strait::control
