// Socket helpers for setup paths (not the hot path): address parsing, listening sockets, formatting.
// All functions are thread-safe (no shared state) and return SetupResult on failure.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/setup_error.h"

namespace strait::runtime {

// An IPv4 or IPv6 socket address; small enough to live in a connection slot.
struct SocketAddress {
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u{};
  socklen_t len = 0;

  const sockaddr* get() const { return &u.sa; }
  std::string ToString() const;  // "1.2.3.4:80" or "[::1]:80"
};

// Parses "IPv4:PORT" or "[IPv6]:PORT" (numeric only: no DNS in the runtime).
SetupResult<SocketAddress> ParseSocketAddress(std::string_view text);
// As ParseSocketAddress, and "NAME:PORT" too: a host that is not an IP literal is resolved with getaddrinfo to its
// first IPv4 address ("localhost:4443" -> 127.0.0.1:4443). Blocks on the resolver: configuration time only (the
// daemons' listen addresses), never on a loop thread.
SetupResult<SocketAddress> ResolveSocketAddress(std::string_view text);
// 127.0.0.0/8 or ::1: where the SOCKS5 door and the metrics endpoints may listen (they serve no authentication).
bool IsLoopback(const SocketAddress& address);

struct ListenOptions {
  int backlog = 4096;       // the kernel caps it at net.core.somaxconn
  bool reuse_port = false;  // SO_REUSEPORT, for one listener per loop on the same port
  // TCP_DEFER_ACCEPT: a connection is handed to accept() only once the client has sent data, or after this many
  // seconds (then Linux hands it over anyway). 0 = off. Idle sockets then cost a server nothing until it expires.
  int defer_accept_seconds = 0;
};

// socket + SO_REUSEADDR + bind + listen. The returned fd is blocking, close-on-exec, owned by the caller.
SetupResult<int> ListenTcp(const SocketAddress& addr, const ListenOptions& options);

// getsockname as a SocketAddress (e.g. to learn the port after binding port 0).
SetupResult<SocketAddress> LocalAddress(int fd);
// getpeername as a SocketAddress.
SetupResult<SocketAddress> PeerAddress(int fd);
// A key for "one source" when counting a peer's connections: the IPv4 address, or the /64 prefix of an IPv6 one
// (one host usually holds a whole /64). IPv4-mapped IPv6 addresses count as their IPv4 address.
std::uint64_t SourceKey(const SocketAddress& address);

// TCP_NODELAY on; returns false (errno set) on failure.
bool SetTcpNoDelay(int fd);

}  // namespace strait::runtime
