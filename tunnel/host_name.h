// DNS host names as every part of Strait checks them: the connector's policy (docs/policy.md, "Format") and the
// IP tunnel's DNS domains (docs/ip-tunnel.md §1). 1-253 characters of dot-separated labels, each 1-63 letters,
// digits, '-' and '_', not starting or ending with '-'; the last label not all digits (that is an address to a
// resolver); case-insensitive, one trailing dot ignored.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace strait::tunnel {

inline constexpr size_t kMaxHostNameSize = 253;

// Canonical (lower-case, no trailing dot) name written into `buf`; the view points into it. False if `name` is
// not a valid name. No allocation.
bool CanonicalHostName(std::string_view name, std::array<char, kMaxHostNameSize + 1>& buf, std::string_view* out);

}  // namespace strait::tunnel
