#include "tunnel/connector/host_table.h"

#include <algorithm>

namespace strait::connector {
Result<HostPattern, std::string> HostPattern::Parse(std::string_view text) {
  HostPattern p;
  std::string_view rest = text;
  if (rest.starts_with("*.")) {
    p.wildcard = true;
    rest.remove_prefix(2);
  }
  if (rest.find('*') != std::string_view::npos) {
    return Fail(std::string("'*' is allowed only as a whole leftmost label (\"*.example.com\")"));
  }
  std::array<char, kMaxHostNameSize + 1> buf{};
  std::string_view canonical;
  if (!CanonicalHostName(rest, buf, &canonical)) {
    return Fail(std::string("not a valid DNS name (addresses go in cidrs)"));
  }
  p.name = std::string(canonical);
  return p;
}

bool HostPattern::Matches(std::string_view canonical_name) const {
  if (!wildcard) return canonical_name == name;
  return canonical_name.size() > name.size() + 1 && canonical_name.ends_with(name) &&
         canonical_name[canonical_name.size() - name.size() - 1] == '.';
}

void HostTable::Add(const HostPattern& p, uint32_t rule) {
  Map& m = p.wildcard ? suffix_ : exact_;
  m[p.name].push_back(rule);
}

}  // namespace strait::connector
