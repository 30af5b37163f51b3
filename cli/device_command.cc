// `strait device`: the device client with its local SOCKS5 door and port forwards (docs/device.md). Flags and the
// optional TOML file are read here only; the client takes an options struct.
//
//   strait device --identity DIR [--relay ADDR] [--direct ADDR] --socks-listen ADDR [--metrics-listen ADDR]
//                 [--forward LOCAL=HOST:PORT ...] [--forward-max-connections N]
//                 [--tun [--tun-name NAME] [--tun-dns auto|resolved|stub|off] [--dns-resolv-conf PATH]
//                  [--dns-listen IP:PORT]]
//                 [--config FILE] [--log-level debug|info|warn|error] [--log-format text|json]
//
// stdout: "device forward <local ip:port> -> <host:port>" per forward once it listens, then "device ready
// socks=<ip:port>" once every door listens, then "device session up connector=<id> via=<relay|direct>" each time a
// session is established, and with --tun "device tunnel up name=<if> address=<ip> mtu=<n> routes=<cidr,...>" each
// time a session's tunnel configuration is applied, and "device link down via=<relay|direct> error=<name|none>" when
// a link that was up goes down (e.g. error=revoked) (flushed at once; scripts wait for them).
// stderr: one line per event, text or JSON (docs/logging.md: link_up, link_down, login_failed, logged_in,
// session_down, ...); failed logins at most one line a minute per path (see Printer).
// SIGTERM / SIGINT: stop, exit 0.
//
// TOML keys (flags win; ReadConfig() is the list): identity, relay, relay_name, direct, socks_listen, metrics_listen,
// preferred_connector, log_level, log_format (strings), pinned_connectors (array of noise.pub paths), forward (array
// of LOCAL=HOST:PORT), forward_max_connections (integer), tun (boolean), tun_name, tun_dns, dns_resolv_conf,
// dns_listen (strings). An unknown key or a bad value: one line on stderr, exit 1,
// before anything starts.
//
// An identity enrolled with strait-control (`strait device activate`, DIR/control.json; docs/control-plane.md §6.4):
// unless given (flag or file), --relay is control.json's relays[0].device (HOST:PORT, resolved at start), --relay-name
// its HOST, and --pin-connector every DIR/connectors/*.pub. `strait device activate` is cli/control_commands.cc. It
// renews its credential before it expires and logs in with the new one from its next link (cli/daemon_control.h).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "crypto/keystore.h"
#include "cli/command.h"
#include "cli/daemon_control.h"
#include "cli/config_file.h"
#include "cli/log_flags.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/control/daemon_defaults.h"
#include "tunnel/device/client.h"
#include "tunnel/device/device_tun.h"
#include "tunnel/device/tun_dns.h"
#include "tunnel/device/forward_door.h"
#include "tunnel/device/forward_spec.h"
#include "tunnel/device/socks5_door.h"
#include "tunnel/link/dialer.h"
#include "tunnel/link/link_down_fields.h"
#include "tunnel/ip/tunnel_mtu.h"

namespace strait::cli {
namespace {

using device::Path;

// Prints the contract lines on stdout and logs events through `log` (loop thread). Failed logins (links that went
// down before logging in) are rate-limited per path: the first at once, then at most one event a minute with a
// count, and one logged_in event when the path logs in again (link::LoginFailureLog).
class Printer final : public device::ClientObserver {
 public:
  explicit Printer(logging::Sink log) : log_(std::move(log)) {}

  void OnLinkUp(Path path, const runtime::SocketAddress& addr) override {
    if (const std::uint64_t failed = Failures(path).OnLoggedIn(); failed != 0) {
      log_(logging::Event(logging::Level::kInfo, "logged_in")
               .With("via", device::PathName(path))
               .With("after_failures", failed));
    }
    log_(logging::Event(logging::Level::kInfo, "link_up").With("via", device::PathName(path)).With("addr",
                                                                                                   addr.ToString()));
  }
  void OnLinkDown(Path path, const link::LinkDown& down) override {
    if (down.was_up) {
      // The contract line beside "device session up": scripts and the demo time a revocation by it.
      const std::string_view error =
          down.code == 0 ? std::string_view("none") : tunnel::ErrorCodeName(static_cast<tunnel::ErrorCode>(down.code));
      std::printf("device link down via=%.*s error=%.*s\n", static_cast<int>(device::PathName(path).size()),
                  device::PathName(path).data(), static_cast<int>(error.size()), error.data());
      std::fflush(stdout);
      logging::Event e(link::LinkDownLevel(down), "link_down");
      e.With("via", device::PathName(path));
      log_(link::WithLinkDown(e, down));
    } else if (const std::uint64_t n = Failures(path).OnFailure(link::LoginFailureLog::Clock::now()); n != 0) {
      logging::Event e(logging::Level::kWarn, "login_failed");
      e.With("via", device::PathName(path));
      link::WithLinkDown(e, down).With("failures", n);  // failed logins since the last login_failed event
      log_(e);
    }
  }
  void OnSessionUp(std::string_view connector_id, Path path) override {
    std::printf("device session up connector=%.*s via=%.*s\n", static_cast<int>(connector_id.size()),
                connector_id.data(), static_cast<int>(device::PathName(path).size()), device::PathName(path).data());
    std::fflush(stdout);
  }
  void OnSessionDown(tunnel::ErrorCode code, std::string_view reason) override {
    log_(logging::Event(logging::Level::kInfo, "session_down").With("code", tunnel::ErrorCodeName(code)).With("reason",
                                                                                                            reason));
  }
  // --tun: each session's configuration is applied to the interface (DeviceTun::Apply).
  void OnTunnelConfig(const tunnel::TunnelConfig& config) override {
    if (tun_ == nullptr) return;
    auto plan = tun_->Apply(config);
    if (!plan) {
      log_(logging::Event(logging::Level::kError, "tunnel_config_failed").With("reason", plan.error()));
      return;
    }
    if (dns_ != nullptr) {
      if (auto r = dns_->Apply(config); !r) {
        log_(logging::Event(logging::Level::kError, "tunnel_dns_failed").With("reason", r.error()));
      }
    }
    for (const tunnel::Ipv4Prefix& p : plan->skipped) {
      log_(logging::Event(logging::Level::kWarn, "tunnel_route_skipped")
               .With("route", tunnel::Ipv4PrefixText(p))
               .With("reason", "covers the address the link dials"));
    }
    std::string routes;
    for (const tunnel::Ipv4Prefix& p : tun_->state().routes) {
      routes += (routes.empty() ? "" : ",") + tunnel::Ipv4PrefixText(p);
    }
    std::printf("device tunnel up name=%s address=%s mtu=%u routes=%s\n", tun_->name().c_str(),
                tunnel::Ipv4Text(tun_->state().address).c_str(), unsigned{tun_->state().mtu}, routes.c_str());
    std::fflush(stdout);
    log_(logging::Event(logging::Level::kInfo, "tunnel_up")
             .With("address", tunnel::Ipv4Text(config.address))
             .With("changed", !plan->changes_nothing()));
  }
  void OnTunnelRefused(const tunnel::TunnelRefused& refused) override {
    log_(logging::Event(logging::Level::kWarn, "tunnel_refused")
             .With("code", tunnel::ErrorCodeName(refused.code))
             .With("reason", refused.reason));
  }
  void set_tun(device::DeviceTun* tun, device::TunDns* dns) {
    tun_ = tun;
    dns_ = dns;
  }

 private:
  logging::Sink log_;
  link::LoginFailureLog& Failures(Path path) { return path == Path::kDirect ? direct_failures_ : relay_failures_; }

  link::LoginFailureLog relay_failures_;
  link::LoginFailureLog direct_failures_;
  device::DeviceTun* tun_ = nullptr;
  device::TunDns* dns_ = nullptr;
};

// The reset codes a forward's failed opens are exported by (label reason=...); any other code is "other".
constexpr tunnel::ErrorCode kForwardFailureReasons[] = {
    tunnel::ErrorCode::kRefusedByPolicy, tunnel::ErrorCode::kConnectFailed,  tunnel::ErrorCode::kDnsFailed,
    tunnel::ErrorCode::kTimeout,         tunnel::ErrorCode::kNoConnector,    tunnel::ErrorCode::kConnectorGone,
    tunnel::ErrorCode::kOverloaded,      tunnel::ErrorCode::kTooManyStreams,
};

// A loopback-only HTTP endpoint answering every request with the counters in Prometheus text format.
class Metrics final : public runtime::AcceptHandler, public runtime::ConnectionHandler {
 public:
  Metrics(const device::DeviceClient& client, const device::Socks5Door& door,
          const std::vector<std::unique_ptr<device::ForwardDoor>>& forwards, const device::DeviceTun* tun,
          const device::TunDns* dns, const logging::Logger& logger)
      : client_(client), door_(door), forwards_(forwards), tun_(tun), dns_(dns), logger_(logger) {}
  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    if (!loop.Adopt(fd, static_cast<runtime::ConnectionHandler*>(this)).valid()) ::close(fd);
  }
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer /*data*/) override {
    const device::ClientStats& s = client_.stats();
    const device::Socks5DoorStats d = door_.stats();
    std::string body;
    auto add = [&body](std::string_view name, std::uint64_t v) { body += fmt::format("strait_device_{} {}\n", name, v); };
    add("session_up", client_.session_up() ? 1 : 0);
    add("dials_total", s.dials);
    add("links_up_total", s.links_up);
    add("link_downs_total", s.link_downs);
    add("direct_failures_total", s.direct_failures);
    add("relay_fallbacks_total", s.relay_fallbacks);
    add("sessions_up_total", s.sessions_up);
    add("session_downs_total", s.session_downs);
    add("setup_timeouts_total", s.setup_timeouts);
    add("streams_opened_total", s.streams_opened);
    add("streams_lost_total", s.streams_lost);
    add("open_wait_timeouts_total", s.open_wait_timeouts);
    add("open_queue_full_total", s.open_queue_full);
    add("frames_unexpected_total", s.frames_unexpected);
    add("session_drops_total", s.session_drops);
    add("live_streams", client_.live_streams());
    add("socks_accepted_total", d.accepted);
    add("socks_refused_full_total", d.refused_full);
    add("socks_handshake_timeouts_total", d.handshake_timeouts);
    add("socks_protocol_errors_total", d.protocol_errors);
    add("socks_open_failed_total", d.open_failed);
    add("loop_recv_starved_total", loop.stats().recv_enobufs);  // receives that found the ring empty (ENOBUFS)
    add("link_stalls_total", loop.stats().stalls);  // watchdog: link had bytes to move, moved none for a second
    add("log_dropped_total", logger_.dropped());     // log lines dropped because the log queue was full
    if (tun_ != nullptr) AddTunnel(body);
    if (dns_ != nullptr && dns_->stub() != nullptr) AddDnsStub(body, dns_->stub()->stats());
    // Per forward, labelled with its local address (unique: duplicates are refused at start).
    for (const auto& f : forwards_) {
      const device::ForwardDoorStats fs = f->stats();
      const std::string local = f->address().ToString();
      auto addf = [&](std::string_view name, std::uint64_t v) {
        body += fmt::format("strait_device_forward_{}{{forward=\"{}\"}} {}\n", name, local, v);
      };
      addf("accepted_total", fs.accepted);
      addf("refused_full_total", fs.refused_full);
      addf("opens_total", fs.opens);
      addf("open_ok_total", fs.open_ok);
      addf("closed_while_opening_total", fs.closed_while_opening);
      addf("connections", f->connections());
      std::uint64_t listed = 0;
      for (const tunnel::ErrorCode code : kForwardFailureReasons) {
        const std::uint64_t n = fs.open_failed[static_cast<std::size_t>(code)];
        listed += n;
        body += fmt::format("strait_device_forward_open_failed_total{{forward=\"{}\",reason=\"{}\"}} {}\n", local,
                            tunnel::ErrorCodeName(code), n);
      }
      body += fmt::format("strait_device_forward_open_failed_total{{forward=\"{}\",reason=\"other\"}} {}\n", local,
                          fs.open_failed_total() - listed);
    }
    const std::string resp = fmt::format(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{}", body.size(),
        body);
    (void)loop.Send(id, std::span(reinterpret_cast<const std::uint8_t*>(resp.data()), resp.size()));
    loop.Close(id, runtime::CloseMode::kGraceful);
  }
  void OnClose(runtime::EventLoop& /*l*/, runtime::ConnId /*id*/, runtime::CloseReason /*r*/, int /*e*/) override {}

 private:
  // --tun: docs/ip-tunnel.md §5. direction="out" is apps -> corp (read from the TUN, sealed), "in" the reverse.
  void AddTunnel(std::string& body) const {
    const device::DeviceTunStats& t = tun_->stats();
    body += fmt::format("strait_device_tunnel_up {}\n", tun_->live() ? 1 : 0);
    body += fmt::format("strait_device_tunnel_packets_total{{direction=\"out\"}} {}\n", t.packets_out);
    body += fmt::format("strait_device_tunnel_packets_total{{direction=\"in\"}} {}\n", t.packets_in);
    body += fmt::format("strait_device_tunnel_bytes_total{{direction=\"out\"}} {}\n", t.bytes_out);
    body += fmt::format("strait_device_tunnel_bytes_total{{direction=\"in\"}} {}\n", t.bytes_in);
    for (std::size_t i = 0; i < device::kTunDropCount; ++i) {
      body += fmt::format("strait_device_tunnel_drops_total{{reason=\"{}\"}} {}\n",
                          device::TunDropName(static_cast<device::TunDrop>(i)), t.drops[i]);
    }
    for (std::size_t i = 0; i < ip::kVnetDropCount; ++i) {
      body += fmt::format("strait_device_tunnel_vnet_drops_total{{reason=\"{}\"}} {}\n",
                          ip::VnetDropName(static_cast<ip::VnetDrop>(i)), t.vnet_drops[i]);
    }
    body += fmt::format("strait_device_tunnel_super_segments_total {}\n", t.super_segments);
    body += fmt::format("strait_device_tunnel_read_pauses_total {}\n", t.pauses);
    body += fmt::format("strait_device_tunnel_configs_applied_total {}\n", t.configs_applied);
    body += fmt::format("strait_device_tunnel_config_errors_total {}\n", t.config_errors);
    body += fmt::format("strait_device_tunnel_readdressed_total {}\n", t.readdressed);
  }

  const device::DeviceClient& client_;
  const device::Socks5Door& door_;
  const std::vector<std::unique_ptr<device::ForwardDoor>>& forwards_;
  // --tun with the DNS stub: docs/device.md "DNS with --tun".
  static void AddDnsStub(std::string& body, const device::DnsStubStats& d) {
    auto add = [&body](std::string_view name, std::uint64_t v) {
      body += fmt::format("strait_device_dns_{} {}\n", name, v);
    };
    add("queries_total", d.queries);
    add("internal_total", d.internal);
    add("external_total", d.external);
    add("answers_total", d.answers);
    add("timeouts_total", d.timeouts);
    add("malformed_total", d.malformed);
    add("not_query_total", d.not_query);
    add("no_upstream_total", d.no_upstream);
    add("spoofed_total", d.spoofed);
    add("answers_malformed_total", d.answers_malformed);
    add("pending_full_total", d.full);
    add("send_failed_total", d.send_failed);
    add("oversized_total", d.oversized);
  }

  const device::DeviceTun* tun_;  // nullptr without --tun
  const device::TunDns* dns_;     // nullptr without --tun or with --tun-dns off
  const logging::Logger& logger_;
};

struct Settings {
  std::string identity;
  std::string relay;
  std::string relay_name;
  std::string direct;
  std::string socks_listen = "127.0.0.1:1080";
  std::string metrics_listen;
  std::string config;
  std::string preferred_connector;
  std::vector<std::string> pinned_connectors;  // noise.pub files
  std::vector<std::string> forwards;           // LOCAL=HOST:PORT (device/forward_spec.h)
  std::uint32_t forward_max_connections = 256;  // per forward (ForwardDoorOptions::max_connections)
  bool tun = false;                             // the IP tunnel (docs/ip-tunnel.md §5)
  std::string tun_name = "strait0";
  std::string tun_dns = "auto";                     // device::TunDnsMode
  std::string dns_resolv_conf = "/etc/resolv.conf";  // stub mode
  std::string dns_listen;                           // stub mode; empty: 127.0.0.53:53, else 127.0.0.54:53
  LogSettings log;
};

class DeviceCommand : public Command {
 public:
  explicit DeviceCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("device", "Run the device client: app sessions through a relay or Direct Connect, "
                                        "and a local SOCKS5 listener (docs/device.md)");
    cmd_->add_option("--identity", s_.identity, "Device identity bundle directory (strait keys issue --role device)");
    cmd_->add_option("--relay", s_.relay, "Relay device port, IP:PORT");
    cmd_->add_option("--relay-name", s_.relay_name,
                     "Name the relay's TLS certificate must carry (default: the relay's IP)");
    cmd_->add_option("--direct", s_.direct, "A connector's Direct Connect listener, IP:PORT (preferred when set)");
    cmd_->add_option("--socks-listen", s_.socks_listen, "SOCKS5 listener, loopback only")
        ->default_val("127.0.0.1:1080");
    cmd_->add_option("--metrics-listen", s_.metrics_listen, "Prometheus metrics endpoint, loopback only (off if unset)");
    cmd_->add_option("--prefer", s_.preferred_connector, "Connector id to ask for first (sticky afterwards)");
    cmd_->add_option("--pin-connector", s_.pinned_connectors,
                     "noise.pub of an allowed connector (repeatable); unset = any connector of the tenant");
    cmd_->add_option("--forward", s_.forwards,
                     "Port forward LOCAL=HOST:PORT (repeatable): connections to LOCAL (PORT = 127.0.0.1:PORT, or a "
                     "loopback IP:PORT) go to HOST:PORT through the connector");
    cmd_->add_option("--forward-max-connections", s_.forward_max_connections,
                     "Client connections at once per forward (more are refused)")
        ->default_val(256)
        ->check(CLI::Range(1, 65535));
    cmd_->add_flag("--tun", s_.tun,
                   "IP tunnel: a TUN interface with the address, MTU and routes the connector assigns (root or "
                   "CAP_NET_ADMIN)");
    cmd_->add_option("--tun-name", s_.tun_name, "The TUN interface's name")->default_val("strait0");
    cmd_->add_option("--tun-dns", s_.tun_dns,
                     "DNS for the tunnel's private zones: resolved (per-link), stub (a local split-DNS stub and "
                     "resolv.conf pointed at it), off, or auto (resolved where it runs, else stub)")
        ->default_val("auto");
    cmd_->add_option("--dns-resolv-conf", s_.dns_resolv_conf, "The resolv.conf the stub takes over and puts back")
        ->default_val("/etc/resolv.conf");
    cmd_->add_option("--dns-listen", s_.dns_listen,
                     "The stub's loopback IP:PORT (default 127.0.0.53:53, or 127.0.0.54:53 when taken)");
    cmd_->add_option("--config", s_.config, "TOML file with the same settings (flags win)");
    AddLogFlags(*cmd_, s_.log);
  }
  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    if (int rc = ReadConfig(); rc != kExitOk) return rc;
    if (s_.identity.empty()) return Usage("--identity is required");
    // An identity enrolled with strait-control (control.json, docs/control-plane.md §6.4): the first relay, its
    // name and the pinned connector set come from it unless given. Its relay is HOST:PORT, resolved here.
    auto enrolled = control::DeviceDefaultsFromControl(s_.identity);
    if (!enrolled) return ReportError("identity: " + s_.identity + ": " + enrolled.error().reason);
    bool relay_by_name = false;
    if (*enrolled) {
      if (s_.relay.empty() && !(*enrolled)->relay.empty()) {
        s_.relay = (*enrolled)->relay;
        relay_by_name = true;
        if (s_.relay_name.empty()) s_.relay_name = (*enrolled)->relay_name;
      }
      if (s_.pinned_connectors.empty()) s_.pinned_connectors = (*enrolled)->pinned_connectors;
    }
    if (s_.relay.empty() && s_.direct.empty()) return Usage("give --relay, --direct or both");

    auto bundle = crypto::LoadIdentityBundle(s_.identity);
    if (!bundle) return ReportError("identity: " + bundle.error().reason);
    if (bundle->role != crypto::Role::kDevice || !bundle->noise_key) {
      return ReportError("identity: " + s_.identity + " is not a device bundle");
    }
    if (int rc = CheckOwnCredential(*bundle, crypto::Role::kDevice, "device", s_.identity); rc != kExitOk) return rc;
    device::ClientOptions o;
    o.identity.credential = bundle->credential;
    o.identity.signing_key = crypto::Ed25519KeyPair::FromSeed(bundle->signing_key.seed);
    o.identity.noise_key = *bundle->noise_key;
    o.identity.root_key = bundle->root_public_key;
    o.identity.ca_pem = bundle->ca_pem;
    o.relay_server_name = s_.relay_name;
    o.preferred_connector = s_.preferred_connector;
    if (!s_.relay.empty()) {
      auto a = relay_by_name ? runtime::ResolveSocketAddress(s_.relay) : runtime::ParseSocketAddress(s_.relay);
      if (!a) return ReportError("--relay " + s_.relay + ": " + a.error().reason);
      o.relay = *a;
    }
    if (!s_.direct.empty()) {
      auto a = runtime::ParseSocketAddress(s_.direct);
      if (!a) return ReportError("--direct " + s_.direct + ": " + a.error().reason);
      o.direct = *a;
    }
    if (!s_.pinned_connectors.empty()) {
      std::vector<crypto::X25519PublicKey> pins;
      for (const std::string& p : s_.pinned_connectors) {
        auto k = crypto::LoadX25519PublicKey(p);
        if (!k) return ReportError("--pin-connector: " + k.error().reason);
        pins.push_back(*k);
      }
      o.pinned_connectors = std::move(pins);
    }
    auto socks = runtime::ResolveSocketAddress(s_.socks_listen);
    if (!socks) return ReportError("--socks-listen " + s_.socks_listen + ": " + socks.error().reason);
    if (!device::IsLoopback(*socks)) {
      return ReportError("--socks-listen " + s_.socks_listen + ": the SOCKS5 door listens on loopback only");
    }
    std::optional<runtime::SocketAddress> metrics;
    if (!s_.metrics_listen.empty()) {
      auto m = runtime::ResolveSocketAddress(s_.metrics_listen);
      if (!m) return ReportError("--metrics-listen " + s_.metrics_listen + ": " + m.error().reason);
      if (!device::IsLoopback(*m)) return ReportError("--metrics-listen: loopback only");
      metrics = *m;
    }
    std::vector<device::ForwardDoorOptions> forwards;
    if (int rc = ParseForwards(*socks, &forwards); rc != kExitOk) return rc;
    std::optional<device::DeviceTunOptions> tun;
    if (s_.tun) {
      if (s_.tun_name.empty() || s_.tun_name.size() > 15) return ReportError("--tun-name: 1 to 15 bytes");
      tun.emplace();
      tun->name = s_.tun_name;
      // The link's own addresses never go into the tunnel it carries.
      for (const std::optional<runtime::SocketAddress>* a : {&o.relay, &o.direct}) {
        if (a->has_value() && (*a)->u.sa.sa_family == AF_INET) tun->avoid.push_back(ntohl((*a)->u.v4.sin_addr.s_addr));
      }
      o.tunnel_mtu_max = static_cast<std::uint16_t>(ip::kMaxTunnelMtu);
    }
    std::optional<device::TunDnsOptions> dns;
    const std::optional<device::TunDnsMode> dns_mode = device::ParseTunDnsMode(s_.tun_dns);
    if (!dns_mode) return ReportError("--tun-dns " + s_.tun_dns + ": one of auto, resolved, stub, off");
    if (s_.tun && *dns_mode != device::TunDnsMode::kOff) {
      dns.emplace();
      dns->mode = *dns_mode;
      dns->ifname = s_.tun_name;
      dns->resolv_conf = s_.dns_resolv_conf;
      if (!s_.dns_listen.empty()) {
        auto a = runtime::ParseSocketAddress(s_.dns_listen);
        if (!a) return ReportError("--dns-listen " + s_.dns_listen + ": " + a.error().reason);
        if (!device::IsLoopback(*a) || a->u.sa.sa_family != AF_INET) {
          return ReportError("--dns-listen " + s_.dns_listen + ": an IPv4 loopback address");
        }
        dns->stub_listen = *a;
      }
    }
    return Serve(std::move(o), *socks, forwards, tun, dns, metrics, s_.log, *enrolled ? s_.identity : std::string());
  }

 private:
  // Every accepted key, with its type; flags win.
  int ReadConfig() {
    if (s_.config.empty()) return kExitOk;
    std::optional<std::string> error = ConfigFile::Read(s_.config, *cmd_, [this](ConfigFile& cfg) {
      using Text = ConfigFile::Text;
      cfg.Str("identity", "--identity", s_.identity);
      cfg.Str("relay", "--relay", s_.relay, Text::kAddress);
      cfg.Str("relay_name", "--relay-name", s_.relay_name);
      cfg.Str("direct", "--direct", s_.direct, Text::kAddress);
      cfg.Str("socks_listen", "--socks-listen", s_.socks_listen, Text::kAddress);
      cfg.Str("metrics_listen", "--metrics-listen", s_.metrics_listen, Text::kAddress);
      cfg.Str("preferred_connector", "--prefer", s_.preferred_connector);
      cfg.Strs("pinned_connectors", "--pin-connector", s_.pinned_connectors);
      cfg.Strs("forward", "--forward", s_.forwards);
      cfg.Int("forward_max_connections", "--forward-max-connections", s_.forward_max_connections, 1, 65535);
      cfg.Bool("tun", "--tun", s_.tun);
      cfg.Str("tun_name", "--tun-name", s_.tun_name);
      cfg.OneOf("tun_dns", "--tun-dns", s_.tun_dns, {"auto", "resolved", "stub", "off"});
      cfg.Str("dns_resolv_conf", "--dns-resolv-conf", s_.dns_resolv_conf);
      cfg.Str("dns_listen", "--dns-listen", s_.dns_listen, Text::kAddress);
      ReadLogConfig(cfg, s_.log);
    });
    return error ? ReportError("device: " + *error) : kExitOk;
  }

  // Each --forward (or `forward` entry) parsed and checked: a bad spec, or a LOCAL address given twice (or equal to
  // the SOCKS5 door's), is bad input (exit 1) before anything listens. Port 0 (any) never collides.
  int ParseForwards(const runtime::SocketAddress& socks, std::vector<device::ForwardDoorOptions>* out) const {
    // The specs came from the flags or, when none was given, from the config file's `forward` array.
    const std::string from = cmd_->count("--forward") != 0 ? "--forward " : "config forward ";
    std::vector<std::string> locals;
    if (!socks.ToString().ends_with(":0")) locals.push_back(socks.ToString());
    for (const std::string& text : s_.forwards) {
      auto spec = device::ParseForwardSpec(text);
      if (!spec) return ReportError(from + text + ": " + spec.error());
      const std::string local = spec->local.ToString();
      if (!local.ends_with(":0")) {
        if (std::find(locals.begin(), locals.end(), local) != locals.end()) {
          return ReportError(from + text + ": local " + local + " is already taken by another forward or "
                             "--socks-listen");
        }
        locals.push_back(local);
      }
      device::ForwardDoorOptions f;
      f.listen = spec->local;
      f.target = spec->target;
      f.max_connections = s_.forward_max_connections;
      out->push_back(f);
    }
    return kExitOk;
  }

  static int Usage(std::string_view message) {
    fmt::print(stderr, "strait device: {}\nRun with --help for more information.\n", message);
    return kExitUsage;
  }

  static int Serve(device::ClientOptions options, const runtime::SocketAddress& socks,
                   const std::vector<device::ForwardDoorOptions>& forward_options,
                   const std::optional<device::DeviceTunOptions>& tun_options,
                   const std::optional<device::TunDnsOptions>& dns_options,
                   const std::optional<runtime::SocketAddress>& metrics_addr, const LogSettings& log,
                   const std::string& renew_dir) {
    std::unique_ptr<logging::Logger> logger = MakeLogger(log);
    // SIGTERM / SIGINT go to one waiting thread, which stops the loop; every other thread has them blocked.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    runtime::LoopOptions lo;
    lo.max_connections = 4096;
    auto loop = runtime::EventLoop::Create(lo);
    if (!loop) return ReportError("event loop: " + loop.error().reason);
    Printer printer(logger->sink());
    auto client = device::DeviceClient::Create(**loop, std::move(options), &printer);
    if (!client) return ReportError(client.error().reason);
    device::Socks5DoorOptions door_options;
    door_options.listen = socks;
    auto door = device::Socks5Door::Create(**loop, **client, door_options);
    if (!door) return ReportError(door.error());
    std::vector<std::unique_ptr<device::ForwardDoor>> forwards;
    for (const device::ForwardDoorOptions& f : forward_options) {
      auto fd = device::ForwardDoor::Create(**loop, **client, f);
      if (!fd) return ReportError("--forward " + f.listen.ToString() + "=" + device::TargetText(f.target) + ": " +
                                  fd.error());
      forwards.push_back(std::move(*fd));
    }
    // The TUN exists from here until this function returns: the kernel removes it (address, routes) with its fd.
    std::unique_ptr<device::DeviceTun> tun;
    if (tun_options) {
      auto t = device::DeviceTun::Open(**loop, **client, *tun_options);
      if (!t) return ReportError("--tun: " + t.error());
      tun = std::move(*t);
      if (!tun->offload_error().empty()) {
        logger->Log(logging::Event(logging::Level::kWarn, "tun_offloads_off").With("reason", tun->offload_error()));
      }
    }
    // DNS before the loop runs: a resolv.conf left by a crash is put back, then taken over; put back on return.
    std::unique_ptr<device::TunDns> dns;
    if (tun && dns_options) {
      auto d = device::TunDns::Start(**loop, *dns_options);
      if (!d) return ReportError("--tun-dns: " + d.error());
      dns = std::move(*d);
      logger->Log(logging::Event(logging::Level::kInfo, "tunnel_dns")
                      .With("mode", device::TunDnsModeName(dns->mode()))
                      .With("stub", dns->stub() ? dns->stub()->address().ToString() : std::string("-")));
    }
    printer.set_tun(tun.get(), dns.get());
    std::unique_ptr<Metrics> metrics;
    runtime::SocketAddress metrics_bound;
    if (metrics_addr) {
      metrics = std::make_unique<Metrics>(**client, **door, forwards, tun.get(), dns.get(), *logger);
      auto fd = runtime::ListenTcp(*metrics_addr, {});
      if (!fd) return ReportError("--metrics-listen: " + fd.error().reason);
      metrics_bound = runtime::LocalAddress(*fd).value();
      if (auto id = (*loop)->Listen(*fd, static_cast<runtime::AcceptHandler*>(metrics.get())); !id) {
        ::close(*fd);
        return ReportError("--metrics-listen: " + id.error().reason);
      }
    }
    (*client)->Start();
    // Enrolled: the renewer keeps the credential files fresh (cli/daemon_control.h) and hands each renewal to the
    // client for its next login; revoked, the device stops, exit 1.
    std::unique_ptr<DaemonControl> daemon_control;
    if (!renew_dir.empty()) {
      auto bundle = crypto::LoadIdentityBundle(renew_dir);
      if (!bundle) return ReportError("identity: " + bundle.error().reason);
      device::DeviceClient* cp = client->get();
      auto dc = DaemonControl::Start(
          renew_dir, crypto::Role::kDevice, *bundle, logger.get(), std::nullopt,
          [cp](const crypto::IdentityBundle& renewed) { return cp->PostCredential(renewed.credential); });
      if (!dc) return ReportError(dc.error());
      daemon_control = std::move(*dc);
    }
    for (const auto& f : forwards) {
      std::printf("device forward %s -> %s\n", f->address().ToString().c_str(),
                  device::TargetText(f->target()).c_str());
    }
    std::printf("device ready socks=%s\n", (*door)->address().ToString().c_str());
    std::fflush(stdout);
    if (metrics) logger->Log(logging::Event(logging::Level::kInfo, "metrics").With("listen", metrics_bound.ToString()));

    // The signal thread posts a stop; the loop thread stops the door and the client (no redial after that),
    // then the loop.
    struct Stopper final : runtime::MessageHandler {
      device::Socks5Door* door;
      std::vector<std::unique_ptr<device::ForwardDoor>>* forwards;
      device::DeviceClient* client;
      void OnMessage(runtime::EventLoop& loop, const runtime::Message& /*msg*/) override {
        door->Close();
        for (auto& f : *forwards) f->Close();
        client->Stop();
        loop.RequestStop();
      }
    } stopper;
    stopper.door = door->get();
    stopper.forwards = &forwards;
    stopper.client = client->get();
    (*loop)->SetMessageHandler(&stopper);
    runtime::EventLoop* l = loop->get();
    std::thread waiter([l, sigs] {
      int sig = 0;
      sigwait(&sigs, &sig);
      if (!l->Post({1, -1, 0, 0})) l->RequestStop();
    });
    (*loop)->Run();
    waiter.join();
    const bool revoked = daemon_control && daemon_control->ended();
    daemon_control.reset();
    logger->Log(logging::Event(logging::Level::kInfo, "stopped").With("log_dropped", logger->dropped()));
    // Run() closed every connection: the door, client and metrics die on this thread before the loop.
    (*loop)->SetMessageHandler(nullptr);
    metrics.reset();
    door->reset();
    forwards.clear();
    printer.set_tun(nullptr, nullptr);
    dns.reset();  // resolv.conf back first
    tun.reset();
    client->reset();
    loop->reset();
    return revoked ? kExitError : kExitOk;
  }

  CLI::App* cmd_ = nullptr;
  Settings s_;
};

}  // namespace

std::unique_ptr<Command> MakeDeviceCommand(CLI::App& app) { return std::make_unique<DeviceCommand>(app); }

}  // namespace strait::cli
