// Opaque paging cursors (docs/control-plane.md §4.4). A cursor carries the last key of the page it ends, bound to
// the list it came from and to that list's scope (tenant and filter parameters), and MACed so it can be neither
// forged nor moved. It holds no server state: any instance with the key continues it.
//
//   cursor = base64url-no-padding( v | kind | scope | last_key | mac )
//     v         u8    kCursorVersion (1)
//     kind      u8    the list (CursorList), so a users cursor is refused on the devices list
//     scope     8     BLAKE2b-64 over the scope parts, each u32-length-prefixed (ScopeHash)
//     last_key  0..kMaxCursorKeyBytes, the caller's encoding of the last row's key (an id, a big-endian u64)
//     mac       16    BLAKE2b-128 keyed with the cursor key (secretbox subkey 4) over everything before it
//
// Versions: 1, the first.
// Every function here is pure and may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control-plane/api/problem.h"
#include "crypto/result.h"

namespace strait::control {

inline constexpr uint8_t kCursorVersion = 1;
inline constexpr size_t kCursorScopeBytes = 8;
inline constexpr size_t kCursorMacBytes = 16;
inline constexpr size_t kMaxCursorKeyBytes = 256;
inline constexpr size_t kCursorHeaderBytes = 2 + kCursorScopeBytes;
// base64url of the largest cursor; a longer text is refused before decoding.
inline constexpr size_t kMaxCursorTextBytes = ((kCursorHeaderBytes + kMaxCursorKeyBytes + kCursorMacBytes) * 4 + 2) / 3;

// One value per paged list. Stable on the wire: never renumber, only append.
enum class CursorList : uint8_t {
  kTenants = 1,
  kOperatorApiKeys = 2,
  kRelays = 3,
  kOperatorAudit = 4,
  kApiKeys = 5,
  kUsers = 6,
  kGroups = 7,
  kGroupMembers = 8,
  kDevices = 9,
  kActivations = 10,
  kConnectors = 11,
  kPolicies = 12,
  kAssignments = 13,
  kAudit = 14,
};

// The 32-byte MAC key (secretbox subkey 4). Zeroed on destruction; no equality, never printed.
class CursorKey {
 public:
  static constexpr size_t kSize = 32;
  explicit CursorKey(std::span<const uint8_t, kSize> bytes);
  ~CursorKey();
  CursorKey(const CursorKey&) = default;
  CursorKey& operator=(const CursorKey&) = default;
  const uint8_t* data() const { return bytes_.data(); }

 private:
  std::array<uint8_t, kSize> bytes_;
};

using CursorScope = std::array<uint8_t, kCursorScopeBytes>;
// The scope of a list request: e.g. {"acme", "user=u-...", "state=active"}: the tenant ("" for operator lists)
// and each filter that narrows the list, in a fixed order per list. Parts are length-prefixed, so {"ab","c"} and
// {"a","bc"} differ.
CursorScope ScopeHash(std::span<const std::string_view> parts);

enum class CursorError : uint8_t {
  kMalformed,   // too long, not base64url, too short, or an unknown version
  kBadMac,      // not made with this key, or changed
  kOtherList,   // a valid cursor of another list
  kOtherScope,  // a valid cursor of this list with another tenant or filter
};
std::string_view CursorErrorName(CursorError e);

// Asserts last_key.size() <= kMaxCursorKeyBytes.
std::string EncodeCursor(const CursorKey& key, CursorList list, const CursorScope& scope,
                         std::span<const uint8_t> last_key);
// The last key, if `text` is a cursor this key made for this list and scope. The MAC is checked (in constant time)
// before anything it covers is believed.
Result<std::vector<uint8_t>, CursorError> DecodeCursor(const CursorKey& key, CursorList list,
                                                       const CursorScope& scope, std::string_view text);

// 400 invalid-cursor; the detail names no key material, only which check failed.
Problem CursorProblem(CursorError e);

inline constexpr uint32_t kDefaultPageLimit = 50;
inline constexpr uint32_t kMaxPageLimit = 500;
// `?limit=`: absent -> 50; else decimal 1..500 without sign or leading zeros. nullopt: bad (400 invalid-request).
std::optional<uint32_t> ParseLimit(std::optional<std::string_view> text);

}  // namespace strait::control
