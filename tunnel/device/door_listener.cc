#include "tunnel/device/door_listener.h"

#include <unistd.h>

#include <utility>

namespace strait::device {

DoorListener::DoorListener(runtime::EventLoop& loop, DoorListenerHost& host, std::uint32_t max_connections)
    : loop_(&loop), host_(&host), max_connections_(max_connections) {}

Result<std::unique_ptr<DoorListener>, std::string> DoorListener::Create(runtime::EventLoop& loop,
                                                                       DoorListenerHost& host,
                                                                       const runtime::SocketAddress& listen,
                                                                       std::uint32_t max_connections,
                                                                       std::string_view what) {
  const std::string name(what);
  if (!runtime::IsLoopback(listen)) {
    return Fail("the " + name + " door listens on loopback only, not " + listen.ToString());
  }
  auto fd = runtime::ListenTcp(listen, {});
  if (!fd) return Fail(name + " listen " + listen.ToString() + ": " + fd.error().reason);
  auto local = runtime::LocalAddress(*fd);
  if (!local) {
    ::close(*fd);
    return Fail(name + " listen: " + local.error().reason);
  }
  std::unique_ptr<DoorListener> d(new DoorListener(loop, host, max_connections));
  d->address_ = *local;
  auto id = loop.Listen(*fd, static_cast<runtime::AcceptHandler*>(d.get()));
  if (!id) {
    ::close(*fd);
    return Fail(name + " listen: " + id.error().reason);
  }
  d->listener_ = *id;
  return d;
}

DoorListener::~DoorListener() {
  if (reap_timer_.valid()) loop_->CancelTimer(reap_timer_);
}

void DoorListener::Close() {
  if (closed_) return;
  closed_ = true;
  loop_->CloseListener(listener_);
  std::vector<DoorConnection*> all;
  for (auto& [p, c] : conns_) all.push_back(p);
  for (DoorConnection* c : all) c->Abort();
}

void DoorListener::OnAccept(runtime::EventLoop& /*loop*/, runtime::ListenerId /*id*/, int fd) {
  if (closed_ || conns_.size() >= max_connections_) {
    ++stats_.refused_full;
    ::close(fd);
    return;
  }
  std::unique_ptr<DoorConnection> c = host_->NewConnection();
  DoorConnection* p = c.get();
  if (!p->Start(fd)) {
    ++stats_.refused_full;
    ::close(fd);
    return;
  }
  ++stats_.accepted;
  conns_.emplace(p, std::move(c));
}

void DoorListener::Retire(DoorConnection* conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  retired_.push_back(std::move(it->second));
  conns_.erase(it);
  if (!reap_timer_.valid()) {
    reap_timer_ = loop_->AddTimer(std::chrono::nanoseconds(0), static_cast<runtime::TimerHandler*>(this));
  }
}

void DoorListener::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  reap_timer_ = {};
  retired_.clear();
}

}  // namespace strait::device
