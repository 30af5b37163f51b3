// IPv4 forwarding for the connector's TUN (docs/ip-tunnel.md §6): packets a device sends into the tunnel come out of
// the TUN and must be forwarded by the kernel to corp, in routed and in masquerade mode alike, so opening the TUN
// makes sure `net.ipv4.ip_forward` is 1 in the connector's network namespace.
//
// It is never set back on exit: other services on the host (containers, a VPN, a router role) may rely on it, and
// the connector cannot tell whether one started relying on it while it ran. docs/connector.md says so.
// Setup only (a blocking file write).
#pragma once

#include <string>

#include "crypto/result.h"

namespace strait::connector {

inline constexpr char kIpForwardPath[] = "/proc/sys/net/ipv4/ip_forward";

// Writes 1 to `path` unless it already reads 1. Returns true when it changed it (the caller logs that), false when it
// was on. Errors name the file and the errno text (read-only /proc/sys in a container, no CAP_NET_ADMIN).
Result<bool, std::string> EnableIpForwarding(const std::string& path = kIpForwardPath);

}  // namespace strait::connector
