#include "tunnel/connector/host_table.h"

#include <algorithm>

namespace strait::connector {
namespace {

bool IsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool CanonicalHostName(std::string_view name, std::array<char, kMaxHostNameSize + 1>& buf,
                       std::string_view* out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxHostNameSize) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      size_t len = i - label_start;
      if (len == 0 || len > 63) return false;
      if (buf[label_start] == '-' || buf[i - 1] == '-') return false;
      if (i == name.size() && std::all_of(buf.begin() + static_cast<ptrdiff_t>(label_start),
                                          buf.begin() + static_cast<ptrdiff_t>(i), IsDigit)) {
        return false;  // an all-numeric last label: an address in disguise
      }
      if (i < name.size()) buf[i] = '.';
      label_start = i + 1;
      continue;
    }
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!IsLabelChar(c)) return false;
    buf[i] = c;
  }
  *out = std::string_view(buf.data(), name.size());
  return true;
}

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
