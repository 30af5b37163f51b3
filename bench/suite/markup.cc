#include "bench/suite/markup.h"

namespace strait::bench {

std::string EscapeMarkup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n': out += c; break;
      default: out += ((c >= 0 && c < 0x20) || c == 0x7f) ? '?' : c; break;
    }
  }
  return out;
}

}  // namespace strait::bench
