// JsonNestingDepth: the deepest nesting of arrays and objects in a JSON text, found before the text is parsed so
// that a parser never recurses past a bound (nlohmann's parser recurses per level). Header-only, standard library
// only: the control-plane client (json_fields.cc) and `strait bench`'s results reader (bench/suite) both use it.
#pragma once

#include <cstddef>
#include <string_view>

namespace strait::control {

// Stops early once past `limit` (the value returned is then limit + 1). Exact for valid JSON: brackets inside
// strings are skipped, escapes included; for invalid JSON the parser's verdict follows anyway.
inline std::size_t JsonNestingDepth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) deepest = depth;
        if (deepest > limit) return deepest;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

}  // namespace strait::control
