#include "runtime/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/address_text.h"

namespace strait::runtime {

std::string SocketAddress::ToString() const { return AddressText(get()); }

SetupResult<SocketAddress> ParseSocketAddress(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return SetupError{EINVAL, "address needs HOST:PORT: " + std::string(text)};
  }
  const auto hp = SplitHostPort(text);
  if (!hp) return SetupError{EINVAL, "bad port in " + std::string(text)};
  const std::string host(hp->host);
  SocketAddress a;
  if (hp->bracketed) {
    a.u.v6.sin6_family = AF_INET6;
    a.u.v6.sin6_port = htons(hp->port);
    if (inet_pton(AF_INET6, host.c_str(), &a.u.v6.sin6_addr) != 1) {
      return SetupError{EINVAL, "bad IPv6 address in " + std::string(text)};
    }
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  a.u.v4.sin_family = AF_INET;
  a.u.v4.sin_port = htons(hp->port);
  if (inet_pton(AF_INET, host.c_str(), &a.u.v4.sin_addr) != 1) {
    return SetupError{EINVAL, "bad IPv4 address in " + std::string(text)};
  }
  a.len = sizeof(sockaddr_in);
  return a;
}

SetupResult<SocketAddress> ResolveSocketAddress(std::string_view text) {
  auto numeric = ParseSocketAddress(text);
  if (numeric.ok()) return numeric;
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || text.front() == '[') return numeric;
  auto port_only = ParseSocketAddress("0.0.0.0" + std::string(text.substr(colon)));
  if (!port_only.ok()) return SetupError{EINVAL, "bad port in " + std::string(text)};
  const std::string host(text.substr(0, colon));
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list); rc != 0 || list == nullptr) {
    return SetupError{EINVAL, "cannot resolve " + host + " (IPv4) in " + std::string(text) + ": " +
                                  (rc != 0 ? gai_strerror(rc) : "no address")};
  }
  SocketAddress a = *port_only;
  std::memcpy(&a.u.v4.sin_addr, &reinterpret_cast<const sockaddr_in*>(list->ai_addr)->sin_addr, sizeof(in_addr));
  freeaddrinfo(list);
  return a;
}

SetupResult<int> ListenTcp(const SocketAddress& addr, const ListenOptions& options) {
  const int fd = socket(addr.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SetupError{errno, "socket failed"};
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
    const int e = errno;
    close(fd);
    return SetupError{e, "setsockopt SO_REUSEADDR/SO_REUSEPORT failed"};
  }
  if (bind(fd, addr.get(), addr.len) != 0) {
    const int e = errno;
    close(fd);
    return SetupError{e, "bind " + addr.ToString() + " failed: " + std::strerror(e)};
  }
  if (options.defer_accept_seconds > 0 && (addr.u.sa.sa_family == AF_INET || addr.u.sa.sa_family == AF_INET6) &&
      setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &options.defer_accept_seconds,
                 sizeof options.defer_accept_seconds) != 0) {
    const int e = errno;
    close(fd);
    return SetupError{e, "setsockopt TCP_DEFER_ACCEPT failed"};
  }
  if (listen(fd, options.backlog) != 0) {
    const int e = errno;
    close(fd);
    return SetupError{e, "listen failed"};
  }
  return fd;
}

SetupResult<SocketAddress> LocalAddress(int fd) {
  SocketAddress a;
  a.len = sizeof(a.u);
  if (getsockname(fd, &a.u.sa, &a.len) != 0) return SetupError{errno, "getsockname failed"};
  return a;
}

SetupResult<SocketAddress> PeerAddress(int fd) {
  SocketAddress a;
  a.len = sizeof(a.u);
  if (getpeername(fd, &a.u.sa, &a.len) != 0) return SetupError{errno, "getpeername failed"};
  return a;
}

std::uint64_t SourceKey(const SocketAddress& a) {
  constexpr std::uint64_t kV4 = 0xffff'ffff'0000'0000ull;  // not a prefix any IPv6 host is given
  if (a.u.sa.sa_family == AF_INET) return kV4 | ntohl(a.u.v4.sin_addr.s_addr);
  if (a.u.sa.sa_family != AF_INET6) return 0;
  const std::uint8_t* b = a.u.v6.sin6_addr.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a.u.v6.sin6_addr)) {
    return kV4 | (std::uint64_t{b[12]} << 24) | (std::uint64_t{b[13]} << 16) | (std::uint64_t{b[14]} << 8) | b[15];
  }
  std::uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | b[i];
  return prefix;
}

bool IsLoopback(const SocketAddress& a) {
  if (a.u.sa.sa_family == AF_INET) return (ntohl(a.u.v4.sin_addr.s_addr) >> 24) == 127;
  if (a.u.sa.sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&a.u.v6.sin6_addr);
  return false;
}

bool SetTcpNoDelay(int fd) {
  const int one = 1;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0;
}

}  // namespace strait::runtime
