// IP addresses and HOST:PORT as text, written once: splitting "HOST:PORT" / "[V6]:PORT" and the IP literal of a
// socket address. Header-only and free of strait types, so the tools that do not link the runtime (the bench's
// strait-pingpong, the demo client) use it too. Setup paths only: it allocates.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace strait::runtime {

struct HostPortText {
  std::string_view host;  // without the brackets of "[V6]"; may be empty (":80") — the caller decides
  std::uint16_t port = 0;
  bool bracketed = false;  // the host was written "[...]" (the only way an IPv6 host can take a port)
};

// Splits at the last ':' into host and a decimal port in 0..65535 (no sign, no spaces). nullopt when there is no
// colon or the port is not such a number. Views into `text`.
inline std::optional<HostPortText> SplitHostPort(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  HostPortText out;
  out.host = text.substr(0, colon);
  out.port = static_cast<std::uint16_t>(value);
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
    out.bracketed = true;
  }
  return out;
}

// The IP literal of an AF_INET or AF_INET6 socket address, without port or brackets ("10.0.0.1", "::1"); "?" for
// any other family. `address` points at a whole sockaddr_in or sockaddr_in6 (a sockaddr_storage or a
// runtime::SocketAddress holds either).
inline std::string IpLiteral(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
  } else {
    return "?";
  }
  return buf;
}

// "IP:PORT" for IPv4, "[IP]:PORT" for IPv6: the form SplitHostPort reads back.
inline std::string AddressText(const sockaddr* address) {
  std::uint16_t port = 0;
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    port = ntohs(v4.sin_port);
    return IpLiteral(address) + ":" + std::to_string(port);
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    port = ntohs(v6.sin6_port);
    return "[" + IpLiteral(address) + "]:" + std::to_string(port);
  }
  return "?";
}

}  // namespace strait::runtime
