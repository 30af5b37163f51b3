// Cidr and CidrTable: which rules' address ranges contain an address.
//
// CidrTable keeps one hash bucket per (family, prefix length, masked network) and the list of distinct prefix
// lengths present per family. A lookup masks the address once per distinct length (at most 33 for IPv4, 129 for
// IPv6; a handful in real policies) and probes one bucket each, so its cost does not grow with the number of
// rules. A bucket lists the rules that named that exact network, so several rules (say with different ports) can
// share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "tunnel/connector/ip_address.h"

namespace strait::connector {

struct Cidr {
  IpAddress network;  // host bits are zero
  uint8_t prefix = 0;

  // "10.20.0.0/16", "2001:db8::/32", or a bare address (a /32 or /128). Host bits set is an error (so a typo
  // such as 10.20.1.0/16 is caught), as is an IPv6 range inside ::ffff:0:0/96 (write IPv4-mapped ranges as IPv4:
  // the connector matches a mapped address as the IPv4 address it reaches). The error is a reason for humans.
  static Result<Cidr, std::string> Parse(std::string_view text);

  bool Contains(const IpAddress& a) const;  // a naive check, for tests and differential fuzzing
  std::string ToString() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

class CidrTable {
 public:
  static constexpr uint32_t kNoRule = std::numeric_limits<uint32_t>::max();

  void Add(const Cidr& cidr, uint32_t rule);

  // The first rule (longest prefix first, then in the order added) whose CIDR contains `a` and for which
  // accept(rule) is true; kNoRule if none. `a` should already be Unmapped(). No allocation.
  template <class Accept>
  uint32_t Find(const IpAddress& a, Accept&& accept) const;

  bool empty() const { return buckets_.empty(); }

 private:
  struct Key {
    uint64_t hi = 0;
    uint64_t lo = 0;
    uint8_t prefix = 0;
    IpAddress::Family family = IpAddress::Family::kV4;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  // IPv4 sits in the top 32 bits of `hi`, so one masking rule serves both families.
  static Key MakeKey(const IpAddress& a, uint8_t prefix);
  const std::vector<uint8_t>& Lengths(IpAddress::Family f) const {
    return f == IpAddress::Family::kV4 ? v4_lengths_ : v6_lengths_;
  }

  std::unordered_map<Key, std::vector<uint32_t>, KeyHash> buckets_;
  std::vector<uint8_t> v4_lengths_;  // distinct prefix lengths present, longest first
  std::vector<uint8_t> v6_lengths_;
};

template <class Accept>
uint32_t CidrTable::Find(const IpAddress& a, Accept&& accept) const {
  for (uint8_t len : Lengths(a.family)) {
    auto it = buckets_.find(MakeKey(a, len));
    if (it == buckets_.end()) continue;
    for (uint32_t rule : it->second) {
      if (accept(rule)) return rule;
    }
  }
  return kNoRule;
}

}  // namespace strait::connector
