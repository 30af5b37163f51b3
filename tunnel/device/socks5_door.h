// Socks5Door: the device's local SOCKS5 listener (RFC 1928, CONNECT only, no authentication). Loopback only: a
// non-loopback bind address is refused at Create, because anyone who reaches the door uses the device's tunnel.
//
// Per accepted client connection (one Socks5Conn; its decisions up to kPumping are Socks5Handshake's, in
// socks5_handshake.h, without I/O):
//   kSocks    bytes ─▶ Socks5Server::Feed (tunnel/device/socks5.h): greeting reply, then the request
//   kOpening  DeviceClient::Open(target) (names go to the connector unresolved); reads paused; bytes the client
//             pipelined after the request are held (at most one loop buffer)
//             OPEN_OK ─▶ success reply, then the stream pump takes over (held bytes first)
//             reset / no session in time ─▶ Socks5FailureReply(Socks5ReplyForReset(code)), graceful close
//   kPumping  link::StreamPump joins the socket and the stream (flow control, half-close, resets)
//   the pump's PumpDone (or our own close) ─▶ the connection object is freed on the next loop turn
//
// Bounds: max_connections client connections at once (more are closed at accept, counted; DoorListener, shared
// with the port forwards); a client that does not finish the SOCKS exchange within handshake_timeout is closed
// (counted).
// Threading: [loop], like DeviceClient; the door must live on the client's loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/device/client.h"
#include "tunnel/device/door_listener.h"

namespace strait::device {

struct Socks5DoorOptions {
  runtime::SocketAddress listen;  // must be a loopback address (127.0.0.0/8 or ::1); port 0 picks one
  std::uint32_t max_connections = 1024;
  std::chrono::milliseconds handshake_timeout{10000};  // greeting + request
};

struct Socks5DoorStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_full = 0;         // max_connections reached
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t protocol_errors = 0;      // Socks5Server said kError / kReplyAndClose
  std::uint64_t opens = 0;                // streams requested
  std::uint64_t open_ok = 0;              // success replies sent
  std::uint64_t open_failed = 0;          // failure replies sent
};

using runtime::IsLoopback;  // the door listens only on loopback

class Socks5Conn;

class Socks5Door final : private DoorListenerHost {
 public:
  // [loop] Binds and listens. Fails for a non-loopback address or a bind error.
  static Result<std::unique_ptr<Socks5Door>, std::string> Create(runtime::EventLoop& loop, DeviceClient& client,
                                                                 const Socks5DoorOptions& options);
  ~Socks5Door() override;

  // [loop] The bound address (port filled in).
  const runtime::SocketAddress& address() const { return listener_->address(); }
  Socks5DoorStats stats() const;
  std::size_t connections() const { return listener_->connections(); }
  // [loop] Stops accepting and aborts every client connection.
  void Close();

 private:
  friend class Socks5Conn;
  Socks5Door(runtime::EventLoop& loop, DeviceClient& client, const Socks5DoorOptions& options);
  std::unique_ptr<DoorConnection> NewConnection() override;

  runtime::EventLoop* const loop_;
  DeviceClient* const client_;
  const Socks5DoorOptions options_;
  Socks5DoorStats stats_;  // [loop] accepted and refused_full are the listener's
  std::unique_ptr<DoorListener> listener_;  // last: its connections use the members above until they die
};

}  // namespace strait::device
