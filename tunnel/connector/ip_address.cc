#include "tunnel/connector/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace strait::connector {

runtime::SocketAddress ToSocketAddress(const IpAddress& a, std::uint16_t port) {
  runtime::SocketAddress s;
  if (a.family == IpAddress::Family::kV4) {
    s.u.v4.sin_family = AF_INET;
    s.u.v4.sin_port = htons(port);
    std::memcpy(&s.u.v4.sin_addr, a.bytes.data(), 4);
    s.len = sizeof(sockaddr_in);
  } else {
    s.u.v6.sin6_family = AF_INET6;
    s.u.v6.sin6_port = htons(port);
    std::memcpy(&s.u.v6.sin6_addr, a.bytes.data(), 16);
    s.len = sizeof(sockaddr_in6);
  }
  return s;
}

IpAddress IpAddress::V4(std::array<uint8_t, 4> b) {
  IpAddress a;
  a.family = Family::kV4;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

IpAddress IpAddress::V6(std::array<uint8_t, 16> b) {
  IpAddress a;
  a.family = Family::kV6;
  a.bytes = b;
  return a;
}

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  // inet_pton needs a C string; the longest valid text form is INET6_ADDRSTRLEN - 1 characters.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  std::copy(text.begin(), text.end(), buf);
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    a.family = Family::kV4;
    if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) return a;
    return std::nullopt;
  }
  a.family = Family::kV6;
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
  return std::nullopt;
}

IpAddress IpAddress::Unmapped() const {
  static constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (family != Family::kV6 || !std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), bytes.begin())) {
    return *this;
  }
  return V4({bytes[12], bytes[13], bytes[14], bytes[15]});
}

bool IpAddress::IsUnspecified() const {
  if (family == Family::kV4) return bytes[0] == 0;
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == Family::kV4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

}  // namespace strait::connector
