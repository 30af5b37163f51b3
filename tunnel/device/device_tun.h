// DeviceTun: the device's end of the IP tunnel (`strait device --tun`; docs/ip-tunnel.md §5). It owns the TUN
// interface (strait0), configures it from TUNNEL_CONFIG (TunPlan, rtnetlink) and moves packets:
//
//   apps -> corp   TUN readable ─▶ a batch of reads, each straight to a frame's plaintext offset ─▶ (vnet header:
//                  a TSO super-segment is cut into MSS-sized packets, a partial checksum completed) ─▶
//                  DeviceClient::SendDatagramFrame (sealed in place; dropped when no tunnel or the link is full)
//                  ─▶ one link flush per batch
//   corp -> apps   DeviceClient ─▶ OnTunnelPacket (opened in place) ─▶ destination checked ─▶ TUN write
//
// The interface lives as long as this object, across sessions and links: when the session goes, packets are
// dropped (no_tunnel) and the kernel's TCP retransmits; a new session's TUNNEL_CONFIG with the same address
// touches nothing. The TUN is not persistent, so the kernel removes the interface, its address and its routes
// when the fd closes: on exit, after SIGTERM, and after a crash. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/tun_device.h"
#include "tunnel/device/client.h"
#include "tunnel/device/tun_plan.h"

namespace strait::device {

struct DeviceTunOptions {
  std::string name = "strait0";
  // TUNSETOFFLOAD(csum, tso4): the kernel hands over TCP super-segments up to 64 KiB, cut here into tunnel-MTU
  // packets. Off (or refused by the kernel): one MTU-sized packet per read.
  bool offloads = false;
  std::uint32_t read_batch = 64;     // reads per readiness call (fairness with the loop's sockets)
  std::vector<std::uint32_t> avoid;  // addresses the link dials (relay, Direct Connect): never routed into the TUN
};

// Why a packet did not cross; TunDropName gives the counter label.
enum class TunDrop : std::uint8_t {
  kNoTunnel,           // apps -> corp with no tunnel configured on a live session
  kLinkFull,           // the link above its pending bound (datagrams never queue)
  kMalformed,          // not an IPv4 packet (too short, version, lengths)
  kNotOurSource,       // apps -> corp from a source other than the tunnel address
  kTooBig,             // above the tunnel MTU and not a TSO super-segment
  kBadVnetHeader,      // a virtio_net_hdr (or super-segment) that can't be cut into packets
  kNotOurDestination,  // corp -> apps for another address than ours
  kTunWriteError,      // the TUN refused a write
};
inline constexpr std::size_t kTunDropCount = 8;
std::string_view TunDropName(TunDrop d);

struct DeviceTunStats {
  std::uint64_t packets_out = 0;  // apps -> corp, sealed and queued
  std::uint64_t bytes_out = 0;
  std::uint64_t packets_in = 0;   // corp -> apps, written to the TUN
  std::uint64_t bytes_in = 0;
  std::array<std::uint64_t, kTunDropCount> drops{};
  std::uint64_t super_segments = 0;  // TSO reads cut into packets
  std::uint64_t configs_applied = 0;
  std::uint64_t config_errors = 0;
  std::uint64_t readdressed = 0;     // a config with a new address (flows inside broke)
};

class DeviceTun final : private runtime::ReadableHandler, public TunnelPacketSink {
 public:
  // [loop] Creates the interface (down, no address) and watches it; sets itself as `client`'s tunnel sink.
  // Errors name the step (no /dev/net/tun, no CAP_NET_ADMIN, the name in use).
  static Result<std::unique_ptr<DeviceTun>, std::string> Open(runtime::EventLoop& loop, DeviceClient& client,
                                                              const DeviceTunOptions& options);
  ~DeviceTun() override;
  DeviceTun(const DeviceTun&) = delete;
  DeviceTun& operator=(const DeviceTun&) = delete;

  // [loop] The current session's TUNNEL_CONFIG: brings the interface to it (see tun_plan.h). On success packets
  // flow until the session ends; on an error (the step and the kernel's reason) the interface keeps the steps that
  // were done, and no packets flow until a config applies.
  Result<TunPlan, std::string> Apply(const tunnel::TunnelConfig& config);

  // [loop] Packets cross: a config applied on the session that is up now.
  bool live() const;
  const TunState& state() const { return state_; }
  const std::string& name() const { return tun_.name(); }
  runtime::TunOffloads offloads() const { return tun_.offloads(); }
  const std::string& offload_error() const { return tun_.offload_error(); }
  const DeviceTunStats& stats() const { return stats_; }

 private:
  DeviceTun(runtime::EventLoop& loop, DeviceClient& client, const DeviceTunOptions& options);
  void OnReadable(runtime::EventLoop& loop, runtime::WatchId id) override;
  void OnTunnelPacket(std::span<std::uint8_t> packet) override;
  // One read (at read_'s plaintext offset, behind its vnet header when there is one) to packets on the link.
  void Forward(std::size_t read_size);
  // The packet at frame[kSealedPlaintextOffset, +size): checked, sealed in place, queued.
  void SendPacket(std::span<std::uint8_t> frame, std::size_t size);
  void Drop(TunDrop d) { ++stats_.drops[static_cast<std::size_t>(d)]; }

  runtime::EventLoop& loop_;
  DeviceClient& client_;
  DeviceTunOptions options_;
  runtime::TunDevice tun_;
  runtime::WatchId watch_;
  TunState state_;
  std::uint64_t live_session_ = 0;  // ClientStats::sessions_up when the last config applied; 0: none yet
  // Reads land here: the vnet header right before the plaintext offset, so a plain packet is sealed where it was
  // read. A TSO super-segment is cut into seg_, one packet at a time, and each sealed there.
  std::vector<std::uint8_t> read_;
  std::vector<std::uint8_t> seg_;
  DeviceTunStats stats_;
};

}  // namespace strait::device
