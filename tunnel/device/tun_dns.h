// TunDns: DNS for the device's IP tunnel (docs/device.md "DNS with --tun"; docs/ip-tunnel.md §5). Names under the
// tenant's private zones (TUNNEL_CONFIG dns_domains) go to its internal resolvers (dns_servers, reached through the
// tunnel's routes); every other name goes where it went before. One of two ways, chosen at start:
//
//   resolved  systemd-resolved runs: per-link DNS on the TUN (ResolvedLink: servers and ~domains with resolvectl),
//             made at the first config; it goes with the link, and is reverted on exit.
//   stub      otherwise: a split-DNS stub on the loop (DnsStub, 127.0.0.53 or .54) whose upstreams are the servers
//             resolv.conf had, and resolv.conf pointed at it (ResolvConf), put back on exit; a copy left by a crash
//             is put back first, at start.
//
// `off` leaves DNS alone. Loop thread only; Start and Apply may block on resolvectl (up to 5 s each), so they run at
// set-up and when a session's config arrives, not per packet.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/device/dns_stub.h"
#include "tunnel/device/resolv_conf.h"
#include "tunnel/device/resolved_link.h"
#include "tunnel/tunnel_control.h"

namespace strait::device {

enum class TunDnsMode : std::uint8_t { kAuto, kResolved, kStub, kOff };
// "auto", "resolved", "stub", "off"; nullopt for anything else.
std::optional<TunDnsMode> ParseTunDnsMode(std::string_view text);
std::string_view TunDnsModeName(TunDnsMode mode);

struct TunDnsOptions {
  TunDnsMode mode = TunDnsMode::kAuto;          // auto: resolved where it runs, else the stub
  std::string ifname;                           // the TUN (resolved mode)
  std::string resolv_conf = "/etc/resolv.conf"; // stub mode: the file pointed at the stub
  std::optional<runtime::SocketAddress> stub_listen;  // stub mode; unset: 127.0.0.53:53, else 127.0.0.54:53
};

class TunDns {
 public:
  // [loop] Decides the mode (auto), and in stub mode starts the stub and takes resolv.conf over. An error says
  // which step failed; nothing is left changed.
  static Result<std::unique_ptr<TunDns>, std::string> Start(runtime::EventLoop& loop, const TunDnsOptions& options);
  ~TunDns();  // puts resolv.conf back first, then stops the stub; reverts the link's DNS
  TunDns(const TunDns&) = delete;
  TunDns& operator=(const TunDns&) = delete;

  // [loop] A session's TUNNEL_CONFIG: its servers and domains take effect.
  Result<void, std::string> Apply(const tunnel::TunnelConfig& config);

  TunDnsMode mode() const { return mode_; }  // never kAuto
  const DnsStub* stub() const { return stub_.get(); }  // stub mode only

 private:
  TunDns(TunDnsMode mode, TunDnsOptions options) : mode_(mode), options_(std::move(options)) {}

  TunDnsMode mode_;
  TunDnsOptions options_;
  std::unique_ptr<DnsStub> stub_;
  std::unique_ptr<ResolvConf> resolv_conf_;
  std::unique_ptr<ResolvedLink> resolved_;
};

}  // namespace strait::device
