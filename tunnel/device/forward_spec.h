// ForwardSpec: the text of one `strait device --forward LOCAL=HOST:PORT` (as `ssh -L`), parsed without I/O.
//
//   LOCAL  PORT            127.0.0.1:PORT
//          IPv4:PORT       must be loopback (127.0.0.0/8)
//          [IPv6]:PORT     must be loopback (::1)
//          PORT may be 0 here: the kernel picks one (the device prints the bound address)
//   HOST   a name (letters, digits, '.', '-', '_'; 1..255 bytes; sent to the connector unresolved, as SOCKS5
//          --socks5-hostname does), an IPv4 literal, or an [IPv6] literal in brackets
//   PORT   1..65535
//
// Examples: "8080=intranet.corp:80", "127.0.0.2:5432=10.1.2.3:5432", "[::1]:2222=[fd00::22]:22".
// Errors name the part that is wrong: "port 0 outside 1..65535", "local 10.0.0.1:8080 is not loopback (...)".
// Names are checked only for their characters: resolving them and the policy are the connector's.
//
// Reuses the project's address text (runtime/address_text.h: SplitHostPort; runtime::ParseSocketAddress for LOCAL,
// which is inet_pton only; MakeTarget for HOST). Setup path only: it allocates for its error text.
#pragma once

#include <string>
#include <string_view>

#include "crypto/result.h"
#include "runtime/net.h"
#include "tunnel/device/target.h"

namespace strait::device {

struct ForwardSpec {
  runtime::SocketAddress local;  // loopback; port 0 = any
  Target target;
};

// Parses `LOCAL=HOST:PORT`. On failure the reason, without the spec itself (the caller prefixes
// "--forward <spec>: ").
[[nodiscard]] Result<ForwardSpec, std::string> ParseForwardSpec(std::string_view text);

// "intranet.corp:80", "10.1.2.3:5432", "[fd00::22]:22": the HOST:PORT form ParseForwardSpec reads back.
std::string TargetText(const Target& target);
// "<local>=<target>", canonical: ParseForwardSpec(FormatForwardSpec(s)) gives `s` back.
std::string FormatForwardSpec(const ForwardSpec& spec);

}  // namespace strait::device
