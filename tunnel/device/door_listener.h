// DoorListener: what the device's local doors (the SOCKS5 door, each port forward) have in common besides their
// protocol: a loopback-only listener, the live client connections bounded by max_connections, and freeing a
// finished connection on the next loop turn (never inside its own callback).
//
//   accept ─▶ at the bound (or closed)?  ─▶ close the fd, refused_full++
//          └▶ host.NewConnection()->Start(fd) ─▶ live until it calls Retire(this) ─▶ freed on the next loop turn
//
// The door (the host) owns the DoorListener; the listener owns the connections. A connection may reach its door
// through a reference for as long as it lives: the door declares its DoorListener last, so the connections die
// first.
// Threading: [loop]; the listener must live on its door's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"

namespace strait::device {

// One accepted client connection of a door.
class DoorConnection {
 public:
  virtual ~DoorConnection() = default;
  // Adopts `fd` on the loop. False when it could not (no connection slot): the listener closes fd.
  virtual bool Start(int fd) = 0;
  // Ends the connection now (reset); it calls DoorListener::Retire once its socket is closed.
  virtual void Abort() = 0;
};

// Implemented by the door.
class DoorListenerHost {
 public:
  virtual ~DoorListenerHost() = default;
  // A new connection object for an accepted socket (Start follows).
  virtual std::unique_ptr<DoorConnection> NewConnection() = 0;
};

struct DoorListenerStats {
  std::uint64_t accepted = 0;
  std::uint64_t refused_full = 0;  // max_connections reached (or no loop slot): closed at accept
};

class DoorListener final : private runtime::AcceptHandler, private runtime::TimerHandler {
 public:
  // [loop] Binds and listens on `listen`. Fails for a non-loopback address (anyone reaching a door uses the
  // device's tunnel and tenant) or a bind error. `what` names the door in errors ("socks", "forward").
  static Result<std::unique_ptr<DoorListener>, std::string> Create(runtime::EventLoop& loop, DoorListenerHost& host,
                                                                   const runtime::SocketAddress& listen,
                                                                   std::uint32_t max_connections,
                                                                   std::string_view what);
  ~DoorListener() override;
  DoorListener(const DoorListener&) = delete;
  DoorListener& operator=(const DoorListener&) = delete;

  // [loop] The bound address (port filled in).
  const runtime::SocketAddress& address() const { return address_; }
  const DoorListenerStats& stats() const { return stats_; }
  std::size_t connections() const { return conns_.size(); }
  // [loop] The connection is finished: it is freed on the next loop turn. Unknown or repeated calls do nothing.
  void Retire(DoorConnection* conn);
  // [loop] Stops accepting and aborts every connection.
  void Close();

 private:
  DoorListener(runtime::EventLoop& loop, DoorListenerHost& host, std::uint32_t max_connections);
  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId id, int fd) override;
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;

  // Immutable after Create.
  runtime::EventLoop* const loop_;
  DoorListenerHost* const host_;
  const std::uint32_t max_connections_;
  runtime::SocketAddress address_;
  runtime::ListenerId listener_;
  // Loop thread only.
  bool closed_ = false;
  std::unordered_map<DoorConnection*, std::unique_ptr<DoorConnection>> conns_;
  std::vector<std::unique_ptr<DoorConnection>> retired_;
  runtime::TimerId reap_timer_;
  DoorListenerStats stats_;
};

}  // namespace strait::device
