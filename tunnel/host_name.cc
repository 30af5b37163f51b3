#include "tunnel/host_name.h"

#include <algorithm>

namespace strait::tunnel {
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

}  // namespace strait::tunnel
