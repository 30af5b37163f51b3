// AddressPool: the connector's tunnel addresses and who holds them (docs/ip-tunnel.md §2-§3). Sans-I/O: the
// caller passes `now` (seconds on any monotonic clock).
//
//   pool 100.96.0.0/16:  .0.0 network (never leased)  .0.1 gateway (the connector's TUN)  .0.2 .. .255.254 devices
//                        .255.255 broadcast (never leased)
//
//   Acquire(key, now)  -> the key's address: its live or grace lease, else a free address (the least recently
//                         released first; never-used addresses count as released longest ago), else nullopt (full)
//   Release(key, now)  -> one session of `key` ended; with none left the lease enters its grace period
//   Expire(now)        -> leases whose grace ended give their address back (call it from a timer; Acquire and
//                         Release call it first)
//
// A key may hold its lease from several sessions at once (two processes sharing a credential): the lease counts
// them and its grace starts when the last one ends. Keys are the Noise static keys the handshakes authenticated,
// chosen by whoever holds a credential, so the tables are ordered (no hashing an attacker could aim at).
//
// Bounds: at most `max_leases` leases (live and in grace together; default 65,536): beyond that, or when every
// address is taken, Acquire returns nullopt. Memory is O(leases + released addresses), never O(pool size).
// Not thread-safe: the connector's loop thread owns it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace strait::connector {

struct AddressPoolOptions {
  uint32_t network = 0x64600000;  // 100.96.0.0, host order
  int prefix_length = 16;         // 8..30: at least two device addresses besides the gateway
  uint64_t grace_s = 300;         // how long a released address stays with its device
  size_t max_leases = 65'536;
};

struct AddressPoolStats {
  uint64_t acquired = 0;      // Acquire calls that returned an address
  uint64_t reused_lease = 0;  // ... of which found the key's own live or grace lease
  uint64_t refused_full = 0;  // Acquire calls that returned nullopt
  uint64_t expired = 0;       // grace periods that ended
};

class AddressPool {
 public:
  using Key = std::array<uint8_t, 32>;

  // Refuses a prefix length outside 8..30 or a network with host bits set, naming the problem.
  static Result<AddressPool, std::string> Create(const AddressPoolOptions& options);

  uint32_t gateway() const { return network_ + 1; }
  uint32_t network() const { return network_; }
  int prefix_length() const { return options_.prefix_length; }
  uint64_t grace_s() const { return options_.grace_s; }
  bool Contains(uint32_t address) const { return (address & mask_) == network_; }

  std::optional<uint32_t> Acquire(const Key& key, uint64_t now_s);
  void Release(const Key& key, uint64_t now_s);
  void Expire(uint64_t now_s);

  // Who holds `address` (live or in grace); nullptr for none.
  const Key* Holder(uint32_t address) const;
  // The key's address if it holds one (live or in grace).
  std::optional<uint32_t> AddressOf(const Key& key) const;

  size_t leases() const { return leases_.size(); }
  size_t live_leases() const { return live_; }
  // Addresses Acquire could still hand out (bounded by max_leases too).
  size_t free() const;
  const AddressPoolStats& stats() const { return stats_; }

  // Tests and the fuzzer: every table agrees with every other.
  bool CheckInvariants() const;

 private:
  struct Lease {
    uint32_t address = 0;
    uint32_t sessions = 0;    // live sessions holding it; 0 = in grace
    uint64_t grace_seq = 0;   // matches its entry in grace_ while in grace (stale entries are skipped)
  };
  struct GraceEntry {
    uint64_t expires_s;
    uint64_t seq;
    Key key;
  };

  explicit AddressPool(const AddressPoolOptions& options);
  std::optional<uint32_t> TakeFree();

  AddressPoolOptions options_;
  uint32_t network_ = 0;
  uint32_t mask_ = 0;
  uint32_t first_device_ = 0;  // gateway + 1
  uint32_t last_device_ = 0;   // broadcast - 1
  uint32_t next_unused_ = 0;   // addresses from here to last_device_ were never leased
  std::deque<uint32_t> released_;  // returned addresses, oldest release first
  std::map<Key, Lease> leases_;
  std::map<uint32_t, Key> by_address_;
  std::deque<GraceEntry> grace_;  // by expiry (grace is one fixed length, so release order is expiry order)
  uint64_t next_grace_seq_ = 1;
  size_t live_ = 0;
  AddressPoolStats stats_;
};

// Sets options->network and ->prefix_length from "100.96.0.0/16" (IPv4 only, Cidr::Parse's rules); an error says
// what is wrong.
Result<void, std::string> ParsePoolCidr(std::string_view text, AddressPoolOptions* options);

}  // namespace strait::connector
