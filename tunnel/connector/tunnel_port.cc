#include "tunnel/connector/tunnel_port.h"

#include <algorithm>
#include <chrono>

#include "runtime/netlink.h"
#include "tunnel/connector/device_session.h"
#include "tunnel/ip/ipv4.h"
#include "tunnel/ip/tunnel_mtu.h"
#include "tunnel/session.h"

namespace strait::connector {
namespace {

std::uint64_t NowMs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}


}  // namespace

TunnelPort::TunnelPort(runtime::EventLoop& loop, const TunnelPortOptions& options)
    : loop_(loop), options_(options), filter_(options.filter), frame_(tunnel::kMaxLinkFrameSize) {}

Result<std::unique_ptr<TunnelPort>, std::string> TunnelPort::Open(runtime::EventLoop& loop,
                                                                 const TunnelPortOptions& options) {
  std::unique_ptr<TunnelPort> p(new TunnelPort(loop, options));
  auto tun = runtime::TunDevice::Open({.name = options.device});
  if (!tun) return Fail("tunnel device: " + tun.error().reason);
  p->tun_ = std::move(*tun);
  auto nl = runtime::RtNetlink::Open();
  if (!nl) return Fail("tunnel device: " + nl.error().reason);
  const int ifindex = p->tun_.ifindex();
  const PacketFilterOptions& f = options.filter;
  if (auto r = nl->SetMtu(ifindex, f.mtu); !r) return Fail("tunnel device: " + r.error().reason);
  // The gateway with the pool's prefix: the kernel's connected route sends the whole pool into the TUN.
  if (auto r = nl->AddAddress(ifindex, f.gateway, static_cast<std::uint8_t>(f.pool_prefix)); !r) {
    return Fail("tunnel device: " + r.error().reason);
  }
  if (auto r = nl->SetLinkUp(ifindex); !r) return Fail("tunnel device: " + r.error().reason);
  p->watch_ = loop.WatchReadable(p->tun_.fd(), p.get());
  if (!p->watch_.valid()) return Fail(std::string("tunnel device: no free readiness watch in the loop"));
  return p;
}

TunnelPort::~TunnelPort() { loop_.Unwatch(watch_); }

void TunnelPort::Unbind(std::uint32_t address, const DeviceSession* session) {
  auto it = routes_.find(address);
  if (it != routes_.end() && it->second == session) routes_.erase(it);
}

std::span<const std::uint8_t> TunnelPort::FromDevice(std::span<std::uint8_t> p, std::uint32_t device_address,
                                                     const TunnelPolicy* policy) {
  const FilterResult r = filter_.FromDevice(p, device_address, NowMs(), answer_, policy);
  if (r.forward) {
    if (tun_.Write(p) == static_cast<long>(p.size())) {
      ++stats_.packets_from_devices;
      stats_.bytes_from_devices += p.size();
    } else {
      ++stats_.tun_write_errors;
    }
  }
  return std::span<const std::uint8_t>(answer_).first(r.answer_size);
}

void TunnelPort::OnReadable(runtime::EventLoop& /*loop*/, runtime::WatchId /*id*/) {
  for (std::uint32_t i = 0; i < options_.read_batch; ++i) {
    const std::span<std::uint8_t> room =
        std::span(frame_).subspan(tunnel::kSealedPlaintextOffset, tunnel::kMaxDatagramSize);
    const long n = tun_.Read(room);
    if (n <= 0) break;  // EAGAIN (drained) or an error; the watch asks again when there is more
    const std::span<std::uint8_t> p = room.first(static_cast<std::size_t>(n));
    if (!filter_.ToDevice(p).forward) continue;
    auto it = routes_.find(ip::LoadAddress(p, ip::kIpv4DestinationOffset));
    if (it == routes_.end()) {
      ++stats_.no_session;
      continue;
    }
    // SendPacket may end the session (its send counter exhausted), which unbinds it: keep the pointer, not `it`.
    // The session object lives on until the connector reaps it after this callback.
    DeviceSession* session = it->second;
    if (session->SendFrame(frame_, p.size())) {
      ++stats_.packets_to_devices;
      stats_.bytes_to_devices += p.size();
      if (std::find(touched_.begin(), touched_.end(), session) == touched_.end()) touched_.push_back(session);
    }
  }
  // One flush per link per batch: the batch's datagrams to a device share its TLS records.
  for (DeviceSession* s : touched_) s->FlushLink();
  touched_.clear();
}

}  // namespace strait::connector
