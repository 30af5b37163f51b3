// PortSet: the destination ports a rule covers, as sorted, merged, inclusive ranges within 1..65535.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"

namespace strait::connector {

struct PortRange {
  uint16_t first = 1;
  uint16_t last = 65535;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

class PortSet {
 public:
  static PortSet All() { return PortSet({PortRange{1, 65535}}); }
  PortSet() = default;  // empty: covers nothing
  explicit PortSet(std::vector<PortRange> ranges);  // sorts and merges

  // "443", "8000-8100" or "*". The error is a reason for humans.
  static Result<PortRange, std::string> ParseRange(std::string_view text);

  bool Contains(uint16_t port) const;  // O(log ranges), no allocation
  bool empty() const { return ranges_.empty(); }
  const std::vector<PortRange>& ranges() const { return ranges_; }
  void Merge(const PortSet& other);

 private:
  std::vector<PortRange> ranges_;
};

}  // namespace strait::connector
