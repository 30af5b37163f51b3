// control_cursor_fuzzer: paging cursors (control-plane/api/cursor.h). Never crashes, and:
//   - arbitrary text is never accepted unless it is exactly the cursor the key makes for what it decodes to (so
//     nothing is accepted without the MAC, and there is one text per cursor);
//   - the input as a last key round-trips through encode and decode, and the encoded cursor with any one byte
//     changed, or cut short, is refused;
//   - `?limit=` parsing accepts only 1..500.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "control-plane/api/cursor.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

CursorKey Key() {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + 1);
  return CursorKey(k);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const CursorKey key = Key();
  std::array<std::string_view, 2> parts = {"acme", "state=active"};
  static const CursorScope scope = ScopeHash(parts);
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // As a cursor text.
  for (CursorList list : {CursorList::kUsers, CursorList::kAudit}) {
    auto d = DecodeCursor(key, list, scope, text);
    if (d.ok()) Check(EncodeCursor(key, list, scope, *d) == text);
  }

  // As a last key.
  std::vector<uint8_t> last(data, data + std::min(size, kMaxCursorKeyBytes));
  std::string c = EncodeCursor(key, CursorList::kDevices, scope, last);
  auto d = DecodeCursor(key, CursorList::kDevices, scope, c);
  Check(d.ok() && *d == last);
  Check(!DecodeCursor(key, CursorList::kUsers, scope, c).ok());
  if (size > 0) {
    std::string t = c;
    size_t at = data[0] % t.size();
    t[at] = t[at] == 'A' ? 'B' : 'A';
    Check(!DecodeCursor(key, CursorList::kDevices, scope, t).ok());
    Check(!DecodeCursor(key, CursorList::kDevices, scope, c.substr(0, at)).ok());
  }

  auto limit = ParseLimit(text);
  if (limit) Check(*limit >= 1 && *limit <= kMaxPageLimit && std::to_string(*limit) == text);
  return 0;
}
