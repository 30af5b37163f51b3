// TunnelPort: the connector's end of the IP tunnel's packet path (docs/ip-tunnel.md §2, §6). It owns the connector's
// TUN (the gateway address, the pool's prefix, the tunnel MTU), watches it from the loop and moves packets:
//
//   device -> corp   DeviceSession::OnDatagram ─▶ FromDevice: PacketFilter (anti-spoofing, rules, MSS clamp)
//                    ─▶ written to the TUN (the kernel forwards it); an ICMP answer goes back to the device
//   corp -> device   TUN readable ─▶ a batch of reads ─▶ PacketFilter::ToDevice (clamp) ─▶ the session that holds
//                    the destination address (Bind) ─▶ DeviceSession::SendPacket (dropped when its link is full)
//
// The TUN is not persistent: if the connector dies, the interface and its routes go with it. A write the TUN refuses
// (its queue full) drops the packet, counted. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/tun_device.h"
#include "tunnel/connector/packet_filter.h"

namespace strait::connector {

class DeviceSession;

struct TunnelPortOptions {
  std::string device = "strait-c0";  // the TUN's name
  PacketFilterOptions filter;         // pool, gateway, MTU, ICMP rate
  std::uint32_t read_batch = 64;      // packets read per readiness call (fairness with the loop's sockets)
};

struct TunnelPortStats {
  std::uint64_t packets_from_devices = 0;  // written to the TUN
  std::uint64_t bytes_from_devices = 0;
  std::uint64_t packets_to_devices = 0;    // read from the TUN and handed to a session
  std::uint64_t bytes_to_devices = 0;
  std::uint64_t no_session = 0;            // read from the TUN for an address no live session holds
  std::uint64_t tun_write_errors = 0;      // the TUN refused a write (queue full, or an error)
};

class TunnelPort final : private runtime::ReadableHandler {
 public:
  // [loop] Opens and configures the TUN (address gateway/prefix, MTU, up) and starts watching it. Errors name the
  // step (no /dev/net/tun, no CAP_NET_ADMIN, a name in use).
  static Result<std::unique_ptr<TunnelPort>, std::string> Open(runtime::EventLoop& loop,
                                                               const TunnelPortOptions& options);
  ~TunnelPort() override;
  TunnelPort(const TunnelPort&) = delete;
  TunnelPort& operator=(const TunnelPort&) = delete;

  // device -> corp, edited in place (MSS clamp). Returns the ICMP answer to send back to the device (empty: none);
  // valid until the next call.
  // `policy`: the sending device's policy's [tunnel] table (policy_set.h; PacketFilter::FromDevice).
  std::span<const std::uint8_t> FromDevice(std::span<std::uint8_t> packet, std::uint32_t device_address,
                                           const TunnelPolicy* policy);
  // Which session receives packets for `address` (the latest Bind wins; Unbind only undoes its own).
  void Bind(std::uint32_t address, DeviceSession* session) { routes_[address] = session; }
  void Unbind(std::uint32_t address, const DeviceSession* session);

  const std::string& name() const { return tun_.name(); }
  const TunnelPortStats& stats() const { return stats_; }
  const PacketFilterStats& filter_stats() const { return filter_.stats(); }

 private:
  TunnelPort(runtime::EventLoop& loop, const TunnelPortOptions& options);
  void OnReadable(runtime::EventLoop& loop, runtime::WatchId id) override;

  runtime::EventLoop& loop_;
  TunnelPortOptions options_;
  PacketFilter filter_;
  runtime::TunDevice tun_;
  runtime::WatchId watch_;
  std::unordered_map<std::uint32_t, DeviceSession*> routes_;
  // One SEALED_DATAGRAM frame: a packet is read from the TUN straight to its plaintext offset, judged and clamped
  // there, and sealed in place (DeviceSession::SendFrame), so corp -> device costs no copy.
  std::vector<std::uint8_t> frame_;
  std::vector<DeviceSession*> touched_;  // sessions sent to during one read batch: their links flush once at its end
  std::array<std::uint8_t, ip::kIcmpErrorMaxSize> answer_{};
  TunnelPortStats stats_;
};

}  // namespace strait::connector
