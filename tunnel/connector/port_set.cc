#include "tunnel/connector/port_set.h"

#include <algorithm>
#include <charconv>

namespace strait::connector {
namespace {

// A decimal port 1..65535, digits only.
Result<uint16_t, std::string> ParsePort(std::string_view text) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec == std::errc::invalid_argument || end != text.data() + text.size()) {
    return Fail("\"" + std::string(text) + "\" is not a port number");
  }
  if (ec == std::errc::result_out_of_range || v < 1 || v > 65535) {
    return Fail("port " + std::string(text) + " outside 1..65535");
  }
  return static_cast<uint16_t>(v);
}

}  // namespace

PortSet::PortSet(std::vector<PortRange> ranges) : ranges_(std::move(ranges)) {
  std::sort(ranges_.begin(), ranges_.end(), [](const PortRange& a, const PortRange& b) {
    return a.first < b.first;
  });
  std::vector<PortRange> merged;
  for (const PortRange& r : ranges_) {
    if (!merged.empty() && uint32_t{r.first} <= uint32_t{merged.back().last} + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

Result<PortRange, std::string> PortSet::ParseRange(std::string_view text) {
  if (text == "*") return PortRange{1, 65535};
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    auto p = ParsePort(text);
    if (!p) return Fail(p.error());
    return PortRange{*p, *p};
  }
  auto first = ParsePort(text.substr(0, dash));
  if (!first) return Fail(first.error());
  auto last = ParsePort(text.substr(dash + 1));
  if (!last) return Fail(last.error());
  if (*first > *last) return Fail("port range " + std::string(text) + " is reversed");
  return PortRange{*first, *last};
}

bool PortSet::Contains(uint16_t port) const {
  // The first range starting after `port`; the one before it is the only candidate.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), port,
                             [](uint16_t p, const PortRange& r) { return p < r.first; });
  if (it == ranges_.begin()) return false;
  return port <= std::prev(it)->last;
}

void PortSet::Merge(const PortSet& other) {
  std::vector<PortRange> all = ranges_;
  all.insert(all.end(), other.ranges_.begin(), other.ranges_.end());
  *this = PortSet(std::move(all));
}

}  // namespace strait::connector
