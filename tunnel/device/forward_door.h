// ForwardDoor: one `strait device --forward LOCAL=HOST:PORT` (as `ssh -L`, `cloudflared access tcp`): a loopback
// listener whose every accepted connection becomes an app stream to one fixed destination, for programs that speak
// no SOCKS. A forward's stream is an app stream like any other (DeviceClient::Open): the connector resolves names and
// applies its policy.
//
// Per accepted connection (one ForwardConn):
//   kOpening  reads paused at accept; DeviceClient::Open(target); bytes the kernel had delivered before the pause
//             (RecvMode::kNoHold) and a half-close are held
//             OPEN_OK ─▶ link::StreamPump takes over (held bytes first, then FIN if the client had half-closed)
//             RESET / no session in time (ClientOptions::open_wait_timeout) / open queue full ─▶ the client's
//             connection is aborted at once (it sees a reset or EOF: a forward has no way to say why), counted by
//             reset code in ForwardDoorStats::open_failed
//             the client closes first ─▶ the open is cancelled (Forget), counted as closed_while_opening
//   kPumping  link::StreamPump joins the socket and the stream: flow control, half-close both ways; a stream RESET
//             aborts the socket, a socket reset RESETs the stream (as the SOCKS5 door)
//   the pump's PumpDone (or our own close) ─▶ the connection object is freed on the next loop turn (DoorListener)
//
// Bounds: max_connections client connections at once per forward (more are closed at accept, counted in
// refused_full; DoorListener). The open's wait is bounded by the client (open_wait_timeout, max_pending_opens) and
// the connector (its connect timeout); per connection the pump holds at most one loop buffer towards the stream
// and one stream window towards the socket (tunnel/link/stream_pump.h).
// Threading: [loop], like DeviceClient; the door must live on the client's loop.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/device/client.h"
#include "tunnel/device/door_listener.h"
#include "tunnel/device/target.h"
#include "tunnel/frame.h"

namespace strait::device {

struct ForwardDoorOptions {
  runtime::SocketAddress listen;  // must be a loopback address (127.0.0.0/8 or ::1); port 0 picks one
  Target target;                  // where every connection goes (ForwardSpec, forward_spec.h)
  std::uint32_t max_connections = 256;  // per forward
};

struct ForwardDoorStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_full = 0;          // max_connections reached
  std::uint64_t opens = 0;                 // streams requested
  std::uint64_t open_ok = 0;               // streams opened (then pumped)
  std::uint64_t closed_while_opening = 0;  // the client went away before the stream opened
  // Opens that failed, by the reset code (refused_by_policy, connect_failed, dns_failed, no_connector,
  // connector_gone, timeout, overloaded for a full open queue, ...); index = the code's value.
  std::array<std::uint64_t, tunnel::kMaxErrorCode + 1> open_failed{};

  std::uint64_t open_failed_total() const;
};

class ForwardConn;

class ForwardDoor final : private DoorListenerHost {
 public:
  // [loop] Binds and listens. Fails for a non-loopback address or a bind error.
  static Result<std::unique_ptr<ForwardDoor>, std::string> Create(runtime::EventLoop& loop, DeviceClient& client,
                                                                  const ForwardDoorOptions& options);
  ~ForwardDoor() override;

  // [loop] The bound address (port filled in).
  const runtime::SocketAddress& address() const { return listener_->address(); }
  const Target& target() const { return options_.target; }
  ForwardDoorStats stats() const;
  std::size_t connections() const { return listener_->connections(); }
  // [loop] Stops accepting and aborts every client connection.
  void Close();

 private:
  friend class ForwardConn;
  ForwardDoor(runtime::EventLoop& loop, DeviceClient& client, const ForwardDoorOptions& options);
  std::unique_ptr<DoorConnection> NewConnection() override;

  runtime::EventLoop* const loop_;
  DeviceClient* const client_;
  const ForwardDoorOptions options_;
  ForwardDoorStats stats_;                  // [loop] accepted and refused_full are the listener's
  std::unique_ptr<DoorListener> listener_;  // last: its connections use the members above until they die
};

}  // namespace strait::device
