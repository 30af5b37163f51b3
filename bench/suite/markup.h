// Escaping text for HTML and SVG (text content and quoted attribute values alike). Sans-I/O.
#pragma once

#include <string>
#include <string_view>

namespace strait::bench {

// & < > " ' become character references, so no input can open a tag, close an attribute or start an entity; other
// control characters than tab and newline (not allowed in XML, and a way to hide text) become '?'. Bytes >= 0x80
// pass unchanged: the page declares UTF-8 and a browser shows an invalid sequence as U+FFFD.
std::string EscapeMarkup(std::string_view text);

}  // namespace strait::bench
