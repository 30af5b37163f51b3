#include "tunnel/connector/address_pool.h"

#include <algorithm>

#include <fmt/format.h>

#include "tunnel/connector/cidr_table.h"
#include "tunnel/ip/ipv4.h"

namespace strait::connector {

Result<void, std::string> ParsePoolCidr(std::string_view text, AddressPoolOptions* options) {
  auto cidr = Cidr::Parse(text);
  if (!cidr) return Fail(cidr.error());
  if (cidr->network.family != IpAddress::Family::kV4) return Fail(std::string("the tunnel pool is IPv4 only"));
  const auto& b = cidr->network.bytes;
  options->network = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  options->prefix_length = cidr->prefix;
  return {};
}

Result<AddressPool, std::string> AddressPool::Create(const AddressPoolOptions& options) {
  if (options.prefix_length < 8 || options.prefix_length > 30) {
    return Fail(fmt::format("pool prefix length /{} outside /8../30", options.prefix_length));
  }
  const uint32_t mask = ip::PrefixMask(options.prefix_length);
  if ((options.network & ~mask) != 0) return Fail(std::string("pool network has host bits set"));
  if (options.max_leases == 0) return Fail(std::string("max_leases must be at least 1"));
  return AddressPool(options);
}

AddressPool::AddressPool(const AddressPoolOptions& options)
    : options_(options),
      network_(options.network),
      mask_(ip::PrefixMask(options.prefix_length)),
      first_device_(network_ + 2),
      last_device_((network_ | ~mask_) - 1),
      next_unused_(first_device_) {}

size_t AddressPool::free() const {
  const size_t unused = next_unused_ <= last_device_ ? size_t{last_device_} - next_unused_ + 1 : 0;
  const size_t room = options_.max_leases - leases_.size();
  return std::min(unused + released_.size(), room);
}

std::optional<uint32_t> AddressPool::TakeFree() {
  if (leases_.size() >= options_.max_leases) return std::nullopt;
  if (next_unused_ <= last_device_ && next_unused_ >= first_device_) return next_unused_++;
  if (released_.empty()) return std::nullopt;
  const uint32_t a = released_.front();
  released_.pop_front();
  return a;
}

std::optional<uint32_t> AddressPool::Acquire(const Key& key, uint64_t now_s) {
  Expire(now_s);
  if (auto it = leases_.find(key); it != leases_.end()) {
    if (it->second.sessions++ == 0) ++live_;  // out of grace: its grace_ entry goes stale (seq no longer matches)
    it->second.grace_seq = 0;
    ++stats_.acquired;
    ++stats_.reused_lease;
    return it->second.address;
  }
  const std::optional<uint32_t> a = TakeFree();
  if (!a) {
    ++stats_.refused_full;
    return std::nullopt;
  }
  leases_.emplace(key, Lease{*a, 1, 0});
  by_address_.emplace(*a, key);
  ++live_;
  ++stats_.acquired;
  return a;
}

void AddressPool::Release(const Key& key, uint64_t now_s) {
  Expire(now_s);
  auto it = leases_.find(key);
  if (it == leases_.end() || it->second.sessions == 0) return;  // not held: nothing to release (idempotent)
  if (--it->second.sessions > 0) return;
  --live_;
  it->second.grace_seq = next_grace_seq_++;
  grace_.push_back({now_s + options_.grace_s, it->second.grace_seq, key});
  Expire(now_s);  // a grace of 0 s ends at once
}

void AddressPool::Expire(uint64_t now_s) {
  while (!grace_.empty() && grace_.front().expires_s <= now_s) {
    const GraceEntry e = grace_.front();
    grace_.pop_front();
    auto it = leases_.find(e.key);
    if (it == leases_.end() || it->second.sessions != 0 || it->second.grace_seq != e.seq) continue;  // stale
    released_.push_back(it->second.address);
    by_address_.erase(it->second.address);
    leases_.erase(it);
    ++stats_.expired;
  }
}

const AddressPool::Key* AddressPool::Holder(uint32_t address) const {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : &it->second;
}

std::optional<uint32_t> AddressPool::AddressOf(const Key& key) const {
  auto it = leases_.find(key);
  if (it == leases_.end()) return std::nullopt;
  return it->second.address;
}

bool AddressPool::CheckInvariants() const {
  if (leases_.size() != by_address_.size() || leases_.size() > options_.max_leases) return false;
  size_t live = 0;
  for (const auto& [key, lease] : leases_) {
    if (lease.address < first_device_ || lease.address > last_device_) return false;
    auto b = by_address_.find(lease.address);
    if (b == by_address_.end() || b->second != key) return false;
    if (lease.sessions > 0) ++live;
    if (lease.sessions == 0 && lease.grace_seq == 0) return false;  // every lease in grace has its entry
  }
  for (uint32_t a : released_) {
    if (by_address_.count(a) != 0 || a >= next_unused_) return false;
  }
  return live == live_;
}

}  // namespace strait::connector
