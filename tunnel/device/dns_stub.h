// DnsStub: the device's split-DNS stub for `strait device --tun` where systemd-resolved does not run (docs/device.md,
// "DNS with --tun"; docs/ip-tunnel.md §5). A UDP listener on a loopback address, which resolv.conf is pointed at
// (ResolvConf, resolv_conf.h), and one upstream socket. Names under the tunnel's DNS domains go to its internal
// servers (reached through the tunnel: its routes cover them), every other name to the resolvers resolv.conf listed
// before. The decisions are DnsForwarder's (dns_forwarder.h); this class only moves datagrams and keeps the timer.
//
//   asker ──UDP──▶ listen socket (127.0.0.53:53) ─ DnsForwarder::OnQuery ─▶ upstream socket ──▶ internal server /
//   asker ◀─UDP── listen socket ◀─ OnAnswer (original ID) ◀──────────────── upstream socket ◀── system resolver
//
// - UDP only. An answer with TC set (too big for UDP) is passed through like any other; the asker then retries
//   over TCP to the stub's address, where nothing listens, so the connection is refused at once and glibc's
//   resolver returns what it has (the truncated answer, or a failure). Names under the internal zones with answers
//   above ~1,200 bytes (EDNS) do not resolve through the stub; systemd-resolved's per-link DNS (ResolvedLink) has
//   no such limit.
// - One upstream socket, bound to an ephemeral port the kernel picks at Start; a query's fresh random ID, the
//   server's address and port, and the question must all match for an answer to be taken (DnsForwarder).
// - IPv4 only: the listen address, the upstreams and the internal servers (TUNNEL_CONFIG carries IPv4 servers).
// - Reads are batched: at most `batch` datagrams per socket per readiness, then the loop asks again.
// Threading: [loop], on the device's runtime::EventLoop; it uses two readiness watches (LoopOptions::max_watches)
// and one timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/device/dns_forwarder.h"

namespace strait::device {

struct DnsStubOptions {
  // Where the stub listens (IPv4 loopback). Unset: 127.0.0.53:53, or 127.0.0.54:53 when that is taken
  // (EADDRINUSE). Set (tests: 127.0.0.1:0): that address only.
  std::optional<runtime::SocketAddress> listen;
  // The system's resolvers: the nameservers the original resolv.conf listed (ResolvConf::upstreams()). Any that is
  // the stub's own address is left out (a loop).
  std::vector<UdpEndpoint> upstreams;
  uint16_t internal_port = 53;  // of TUNNEL_CONFIG's dns_servers; 53 but in tests
  size_t max_pending = 1024;    // queries waiting for an answer; when full the oldest is dropped (dns_forwarder.h)
  std::chrono::milliseconds timeout{5000};  // then SERVFAIL to the asker
  uint32_t batch = 64;          // datagrams read per socket per readiness
};

// "127.0.0.53:53" -> UdpEndpoint; nullopt for anything but IPv4.
std::optional<UdpEndpoint> ToUdpEndpoint(const runtime::SocketAddress& address);
runtime::SocketAddress ToSocketAddress(UdpEndpoint endpoint);

class DnsStub final : private runtime::ReadableHandler, private runtime::TimerHandler {
 public:
  // [loop] Binds the listen and upstream sockets and starts serving. Fails (with the reason) when a socket cannot
  // be made or bound, the listen address is not IPv4 loopback, or the loop has no free watch.
  static Result<std::unique_ptr<DnsStub>, std::string> Start(runtime::EventLoop& loop, DnsStubOptions options);
  // [loop] Stop().
  ~DnsStub() override;
  DnsStub(const DnsStub&) = delete;
  DnsStub& operator=(const DnsStub&) = delete;

  // [loop] A new TUNNEL_CONFIG's dns_servers (IPv4, host order) and dns_domains; queries already forwarded keep
  // waiting for the server they went to. Update({}, {}) when the tunnel goes away: every name goes to the system.
  void Update(std::span<const uint32_t> servers, std::span<const std::string> domains);
  // [loop] Stops serving: the watches and the timer end, both sockets are closed, pending queries are forgotten.
  // Idempotent.
  void Stop();

  // [loop] The bound listen address (what resolv.conf must name).
  const runtime::SocketAddress& address() const { return address_; }
  const DnsStubStats& stats() const { return forwarder_.stats(); }
  size_t pending() const { return forwarder_.pending(); }

 private:
  DnsStub(runtime::EventLoop& loop, const DnsStubOptions& options, DnsForwarderOptions forwarder_options);
  void OnReadable(runtime::EventLoop& loop, runtime::WatchId id) override;
  void OnWatchError(runtime::EventLoop& loop, runtime::WatchId id, int err) override;
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;
  void ReadQueries();
  void ReadAnswers();
  void SendTo(int fd, UdpEndpoint to, std::span<const uint8_t> bytes);
  void ArmTimer();
  void ExpireNow();
  static int64_t NowNs();

  runtime::EventLoop* const loop_;
  const uint32_t batch_;
  // Loop thread only.
  DnsForwarder forwarder_;
  runtime::SocketAddress address_;
  int listen_fd_ = -1;
  int upstream_fd_ = -1;
  runtime::WatchId listen_watch_;
  runtime::WatchId upstream_watch_;
  runtime::TimerId timer_;
  bool timer_armed_ = false;
  std::vector<uint8_t> buffer_;  // one datagram at a time, 64 KiB
};

}  // namespace strait::device
