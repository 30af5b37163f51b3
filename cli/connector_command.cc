// `strait connector`: the on-prem connector daemon (docs/connector.md). Flags and the optional TOML file are read
// here only; the library takes connector::ConnectorOptions.
//
//   strait connector --identity DIR --relay ADDR [--relay ADDR ...] --policy FILE [--direct-listen ADDR]
//                    [--metrics-listen ADDR] [--config FILE] [--open-timeout-ms N]
//                    [--tunnel-pool CIDR [--tunnel-mtu N] [--tunnel-device NAME [--tunnel-masquerade]]]
//                    [--log-level debug|info|warn|error] [--log-format text|json]
//
// ADDR is IP:PORT, [IPv6]:PORT or NAME:PORT (the relay's certificate must carry the name or IP as given). A relay
// name is resolved by the connector once running, until it resolves: a failure is logged and retried with the dial
// backoff (DNS outages are transient), never an exit. Listen addresses take names too (resolved at start, IPv4).
// --metrics-listen (off unless given) must be loopback, as for the relay; it serves Prometheus text
// (connector::RenderPrometheus) of a copy the loop publishes per scrape (or once a second).
// stdout, flushed per line:
//   connector ready id=<subject> direct=<ip:port or -> metrics=<ip:port or ->   once started
//   connector link up relay=<ip:port>                                            each time a relay link logs in
// stderr: one line per event, text or JSON (docs/logging.md: link_up, link_down, login_failed, logged_in,
// session_up, session_down, direct_refused, ...); failed logins to one relay at most one line a minute, with a
// count, and one line when it logs in again. SIGTERM / SIGINT: exit 0.
//
// TOML keys (flags win; ReadConfig() is the list): identity, relays (array of strings), policy, direct_listen,
// metrics_listen, open_timeout_ms, resolver_threads, tunnel_pool, tunnel_mtu, tunnel_device, tunnel_masquerade
// (true/false), log_level, log_format. An unknown key or a bad value: one line on stderr, exit 1, before anything
// starts. --tunnel-device also turns on net.ipv4.ip_forward (left on at exit); --tunnel-masquerade installs the
// nftables table `ip strait` and removes it on exit, SIGTERM/SIGINT included (docs/connector.md, "Running the IP
// tunnel").
//
// An identity enrolled with strait-control (`strait connector enroll`, DIR/control.json; docs/control-plane.md §6.4):
// --relay defaults to every relays[].connector of control.json, and --policy is a usage error (the control plane
// gives the policy). It follows the control plane's snapshot and event stream (cli/control_subscription.h,
// tunnel/connector/control_apply.h): policies, per-device policies, device denials, tenant suspension, revoked relays;
// stdout says "connector control snapshot as_of=<id>" each time a snapshot is applied. The last snapshot is cached in
// DIR/control-state.json and applied at start; with neither, the connector serves with an empty policy (every
// destination denied) and says so once on stderr (event policy_pending, warn). It renews its credential before it
// expires and logs its relay links in again with it, one at a time (cli/daemon_control.h, Connector::SetCredential).
// Revoked by the control plane, it stops and exits 1.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "crypto/keystore.h"
#include "metrics/http_endpoint.h"
#include "cli/command.h"
#include "cli/config_file.h"
#include "cli/daemon_control.h"
#include "cli/log_flags.h"
#include "metrics/prometheus_text.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/connector/connector.h"
#include "tunnel/connector/connector_metrics.h"
#include "tunnel/connector/control_apply.h"
#include "tunnel/connector/policy_file.h"
#include "tunnel/control/daemon_defaults.h"
#include "tunnel/control/snapshot.h"

namespace strait::cli {
namespace {

struct Settings {
  std::string identity;
  std::vector<std::string> relays;
  std::string policy;
  std::string direct_listen;
  std::string metrics_listen;
  std::string config;
  std::int64_t open_timeout_ms = 10000;
  std::int64_t resolver_threads = 2;
  std::string tunnel_pool;  // IPv4 CIDR; empty: no IP tunnel served (docs/ip-tunnel.md)
  std::int64_t tunnel_mtu = ip::kDefaultTunnelMtu;
  std::string tunnel_device;  // the TUN; empty: addresses handed out, packets dropped
  bool tunnel_masquerade = false;  // the nftables masquerade table (with tunnel_device); off: routed mode
  std::int64_t loop_recv_buffers = 1024;  // testing only (hidden flag): the loop's receive pool
  LogSettings log;
};

int Usage(const std::string& message) {
  fmt::print(stderr, "strait connector: {}\nRun with --help for more information.\n", message);
  return kExitUsage;
}

// "IP:PORT", "[v6]:PORT" or "name:PORT" -> a numeric address (or, for a name, the port: the connector resolves it)
// and the name the TLS certificate must carry.
std::optional<connector::RelayTarget> ParseRelay(const std::string& text, std::string* error) {
  if (auto a = runtime::ParseSocketAddress(text); a.ok()) {
    std::string host = text.substr(0, text.rfind(':'));
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    return connector::RelayTarget{*a, host};
  }
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    *error = "expected HOST:PORT";
    return std::nullopt;
  }
  const std::string host = text.substr(0, colon);
  unsigned port = 0;
  const char* p = text.data() + colon + 1;
  const auto [end, ec] = std::from_chars(p, text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    *error = "bad port";
    return std::nullopt;
  }
  if (host.find_first_of(":[] ") != std::string::npos) {
    *error = "bad host name";
    return std::nullopt;
  }
  connector::RelayTarget t;
  t.tls_name = host;
  t.port = static_cast<std::uint16_t>(port);
  return t;
}

class ConnectorCommand : public Command {
 public:
  explicit ConnectorCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("connector", "Run the on-prem connector: dials out to relays, ends the Noise tunnel, "
                                           "opens internal TCP per policy (docs/connector.md)");
    cmd_->add_option("--identity", s_.identity, "Connector identity bundle directory (credential, keys, ca.pem)");
    cmd_->add_option("--relay", s_.relays, "Relay connector port, HOST:PORT (repeat for several relays)");
    cmd_->add_option("--policy", s_.policy, "Destination policy TOML file (docs/policy.md)");
    cmd_->add_option("--direct-listen", s_.direct_listen, "Direct Connect port, HOST:PORT (off unless given)");
    cmd_->add_option("--metrics-listen", s_.metrics_listen,
                     "Prometheus endpoint, loopback HOST:PORT (off unless given; port 0 ok)");
    cmd_->add_option("--config", s_.config, "TOML file with the same settings (flags win)");
    cmd_->add_option("--open-timeout-ms", s_.open_timeout_ms, "Stream OPEN to OPEN_OK deadline (10000)");
    cmd_->add_option("--tunnel-pool", s_.tunnel_pool,
                     "IP tunnel addresses, an IPv4 CIDR such as 100.96.0.0/16 (off unless given; docs/ip-tunnel.md)");
    cmd_->add_option("--tunnel-mtu", s_.tunnel_mtu, "IP tunnel MTU, 576..16348 (1420)");
    cmd_->add_option("--tunnel-device", s_.tunnel_device,
                     "TUN that carries the tunnel's packets, e.g. strait-c0 (needs CAP_NET_ADMIN; with --tunnel-pool)");
    cmd_->add_flag("--tunnel-masquerade", s_.tunnel_masquerade,
                   "Masquerade the tunnel pool out of every other interface (nftables table 'ip strait', removed on "
                   "exit; needs nft, Debian package nftables; with --tunnel-device)");
    AddLogFlags(*cmd_, s_.log);
    // Hidden (empty group): for tests that make the receive pool small on purpose, where its bounds bite.
    cmd_->add_option("--loop-recv-buffers", s_.loop_recv_buffers, "Receive buffers in the loop (1024)")->group("");
  }

  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    if (int rc = ReadConfig(); rc != kExitOk) return rc;
    if (s_.identity.empty()) return Usage("--identity is required");
    // An identity enrolled with strait-control (control.json, docs/control-plane.md §6.4): the relays come from it
    // unless given, and the policy only from the control plane (--policy is refused, not silently preferred).
    auto defaults = control::ConnectorDefaultsFromControl(s_.identity);
    if (!defaults) return ReportError(fmt::format("connector: identity {}: {}", s_.identity, defaults.error().reason));
    const bool enrolled = defaults->has_value();
    if (enrolled) {
      if (!s_.policy.empty()) {
        return Usage("--policy: identity " + s_.identity + " is enrolled with strait-control (control.json), "
                     "which gives the policy");
      }
      if (s_.relays.empty()) s_.relays = (*defaults)->relays;
    } else if (s_.policy.empty()) {
      return Usage("--policy is required");
    }
    if (s_.relays.empty() && s_.direct_listen.empty()) return Usage("give --relay (and/or --direct-listen)");
    if (!ip::TunnelMtuValid(static_cast<std::size_t>(std::max<std::int64_t>(s_.tunnel_mtu, 0)))) {
      return Usage(fmt::format("--tunnel-mtu {} outside {}..{}", s_.tunnel_mtu, ip::kMinTunnelMtu, ip::kMaxTunnelMtu));
    }
    if (s_.tunnel_masquerade && s_.tunnel_device.empty()) return Usage("--tunnel-masquerade needs --tunnel-device");
    if (s_.open_timeout_ms <= 0 || s_.resolver_threads <= 0 || s_.resolver_threads > 64) {
      return Usage("open timeout must be > 0 and resolver threads 1..64");
    }
    if (s_.loop_recv_buffers < 32 || s_.loop_recv_buffers > 32768 ||
        (s_.loop_recv_buffers & (s_.loop_recv_buffers - 1)) != 0) {
      return Usage("--loop-recv-buffers must be a power of two in 32..32768");
    }

    connector::ConnectorOptions o;
    for (const std::string& r : s_.relays) {
      std::string err;
      auto t = ParseRelay(r, &err);
      if (!t) return Usage(fmt::format("--relay {}: {}", r, err));
      o.relays.push_back(*t);
    }
    if (!s_.direct_listen.empty()) {
      auto d = runtime::ResolveSocketAddress(s_.direct_listen);
      if (!d.ok()) return Usage("--direct-listen: " + d.error().reason);
      o.direct_listen = *d;
    }
    std::optional<runtime::SocketAddress> metrics_listen;
    if (!s_.metrics_listen.empty()) {
      auto m = runtime::ResolveSocketAddress(s_.metrics_listen);
      if (!m.ok()) return Usage("--metrics-listen: " + m.error().reason);
      if (!metrics::IsLoopback(*m)) return Usage("--metrics-listen must be a loopback address");
      metrics_listen = *m;
    }

    auto bundle = crypto::LoadIdentityBundle(s_.identity);
    if (!bundle) return ReportError(fmt::format("connector: identity {}: {}", s_.identity, bundle.error().reason));
    if (bundle->role != crypto::Role::kConnector || !bundle->noise_key) {
      return ReportError(fmt::format("connector: identity {} is not a connector's", s_.identity));
    }
    if (int rc = CheckOwnCredential(*bundle, crypto::Role::kConnector, "connector", s_.identity); rc != kExitOk) {
      return rc;
    }
    if (!o.relays.empty() && bundle->ca_pem.empty()) {
      return ReportError(fmt::format("connector: identity {} has no ca.pem (the relays' TLS CA)", s_.identity));
    }
    // Enrolled: the policy comes from the control plane (below); until then the empty Policy denies everything, so
    // the connector serves logins but opens nothing.
    connector::Policy policy_value;
    if (!enrolled) {
      auto policy = connector::LoadPolicyFile(s_.policy);
      if (!policy) return ReportError("connector: policy: " + policy.error().reason);
      policy_value = std::move(*policy);
    }

    o.credential = bundle->credential;
    o.signing_key = crypto::Ed25519KeyPair::FromSeed(bundle->signing_key.seed);
    o.noise_key = crypto::X25519KeyPair::FromSecret(bundle->noise_key->secret);
    o.root_key = bundle->root_public_key;
    o.relay_ca_pem = bundle->ca_pem;
    o.policy = std::move(policy_value);
    o.open_timeout = std::chrono::milliseconds(s_.open_timeout_ms);
    o.resolver.threads = static_cast<std::uint32_t>(s_.resolver_threads);
    if (!s_.tunnel_pool.empty()) {
      connector::AddressPoolOptions pool;
      if (auto r = connector::ParsePoolCidr(s_.tunnel_pool, &pool); !r.ok()) {
        return Usage(fmt::format("--tunnel-pool {}: {}", s_.tunnel_pool, r.error()));
      }
      o.tunnel_pool = pool;
    }
    o.tunnel_mtu = static_cast<std::uint16_t>(s_.tunnel_mtu);
    if (!s_.tunnel_device.empty() && s_.tunnel_pool.empty()) return Usage("--tunnel-device needs --tunnel-pool");
    o.tunnel_device = s_.tunnel_device;
    o.tunnel_masquerade = s_.tunnel_masquerade;
    std::unique_ptr<logging::Logger> logger = MakeLogger(s_.log);
    o.log = [lg = logger.get()](const logging::Event& e) {
      // A relay link up is also a contract line on stdout (scripts wait for it); every event is logged.
      if (const auto relay = e.Find("relay"); relay && e.name() == "link_up") {
        fmt::print(stdout, "connector link up relay={}\n", *relay);
        std::fflush(stdout);
      }
      lg->Log(e);
    };
    std::optional<control::SubscriptionDefaults> where;
    if (enrolled) {
      auto w = control::SubscriptionFromControl(s_.identity, *bundle);
      if (!w) return ReportError(fmt::format("connector: identity {}: {}", s_.identity, w.error().reason));
      where = std::move(**w);
    }

    // The loop thread (this one) and the resolver threads inherit this mask: only the signal thread sees them.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    runtime::LoopOptions lo;
    lo.max_connections = 16384;
    lo.max_timers = 32768;
    lo.plain_buffer_count = 4096;
    lo.recv_buffer_count = static_cast<std::uint32_t>(s_.loop_recv_buffers);
    auto loop_or = runtime::EventLoop::Create(lo);
    if (!loop_or.ok()) return ReportError("connector: event loop: " + loop_or.error().reason);
    std::unique_ptr<runtime::EventLoop> loop = std::move(loop_or).value();

    auto c = connector::Connector::Create(*loop, std::move(o));
    if (!c) return ReportError("connector: " + c.error());
    std::unique_ptr<connector::Connector> conn = std::move(*c);
    // Metrics: the loop publishes a copy of the counters once a second and when a scrape asks (waiting at most
    // 250 ms for it); the endpoint's thread renders only that copy. The port is bound before anything starts, so a
    // taken port fails cleanly.
    std::unique_ptr<connector::MetricsPublisher> publisher;
    std::unique_ptr<metrics::HttpEndpoint> endpoint;
    if (metrics_listen) {
      publisher = std::make_unique<connector::MetricsPublisher>(*loop, *conn);
      auto e = metrics::HttpEndpoint::Start(
          *metrics_listen,
          [p = publisher.get(), lg = logger.get()] {
            metrics::PrometheusText log;
            log.Counter("strait_connector_log_dropped_total",
                        "Log lines dropped because the log queue was full (docs/logging.md).", lg->dropped());
            return connector::RenderPrometheus(p->Fresh(std::chrono::milliseconds(250))) + log.Take();
          });
      if (!e.ok()) return ReportError("connector: metrics: " + e.error().reason);
      endpoint = std::move(e).value();
    }
    // Enrolled: the policies and denials come from strait-control (docs/control-plane.md §7.2): the cached snapshot
    // first (so a restart serves while the control plane is unreachable), then the subscriber's.
    std::unique_ptr<connector::ConnectorControl> control;
    std::unique_ptr<DaemonControl> daemon_control;
    if (where) {
      control = std::make_unique<connector::ConnectorControl>(
          *conn, connector::ConnectorControlOptions{.tenant = where->tenant, .connector = where->subject,
                                                    .log = [lg = logger.get()](const logging::Event& e) { lg->Log(e); }});
      if (auto cached = connector::LoadSnapshotCache(s_.identity); cached) {
        if (control->ApplySnapshot(*cached, UnixNow()) == control::SubscriberVerdict::kStop) {
          return ReportError(fmt::format("connector: {}/{} says this connector is revoked", s_.identity,
                                         connector::kControlStateFile));
        }
        logger->Log(logging::Event(logging::Level::kInfo, "control_cache").With("as_of", cached->as_of));
      } else {
        logger->Log(logging::Event(logging::Level::kWarn, "policy_pending")
                        .With("reason", "no policy until the control plane's snapshot; every destination is denied "
                                        "meanwhile")
                        .With("cache", cached.error()));
      }
    }
    if (std::string err = conn->Start(); !err.empty()) return ReportError("connector: " + err);
    if (publisher) publisher->Start();
    if (where) {
      connector::ConnectorControl* cc = control.get();
      const std::string dir = s_.identity;
      logging::Logger* lgp = logger.get();
      DaemonControl::Subscribe subscribe{
          *where,
          [cc, dir, lgp](std::string_view body, bool* stop) -> Result<uint64_t, std::string> {
            auto snap = control::DecodeConnectorSnapshot(body);
            if (!snap) return Fail(snap.error().reason);
            const control::SubscriberVerdict v = cc->ApplySnapshot(*snap, UnixNow());
            if (v == control::SubscriberVerdict::kResync) return Fail(std::string("the connector's queue refused it"));
            *stop = v == control::SubscriberVerdict::kStop;
            if (*stop) return snap->as_of;  // not cached: a restart must not start from it
            if (auto saved = connector::SaveSnapshotCache(dir, body); !saved) {
              lgp->Log(logging::Event(logging::Level::kWarn, "control_cache_failed").With("reason", saved.error()));
            }
            return snap->as_of;
          },
          [cc](const control::Event& e) { return cc->ApplyEvent(e, UnixNow()); }};
      // A renewal: the new credential for the relay logins (one relay link at a time logs in again), new sessions
      // and Direct Connect (Connector::SetCredential).
      connector::Connector* cp = conn.get();
      auto dc = DaemonControl::Start(
          s_.identity, crypto::Role::kConnector, *bundle, logger.get(), std::move(subscribe),
          [cp](const crypto::IdentityBundle& renewed) { return cp->SetCredential(renewed.credential); });
      if (!dc) return ReportError("connector: " + dc.error());
      daemon_control = std::move(*dc);
    }

    const auto direct = conn->direct_address();
    std::printf("connector ready id=%s direct=%s metrics=%s\n", conn->id().c_str(),
                direct ? direct->ToString().c_str() : "-", endpoint ? endpoint->address().ToString().c_str() : "-");
    std::fflush(stdout);

    std::atomic<bool> done{false};
    runtime::EventLoop* lp = loop.get();
    logging::Logger* lg = logger.get();
    std::thread waiter([&sigs, &done, lp, lg] {
      while (!done.load()) {
        timespec ts{0, 100'000'000};
        siginfo_t info;
        if (sigtimedwait(&sigs, &info, &ts) > 0) {
          lg->Log(logging::Event(logging::Level::kInfo, "signal").With("signal", info.si_signo));
          lp->RequestStop();
          return;
        }
      }
    });
    loop->Run();
    done.store(true);
    waiter.join();
    const bool revoked = daemon_control && daemon_control->ended();
    daemon_control.reset();  // its threads call into the connector: they go first
    control.reset();
    endpoint.reset();  // joins the metrics thread: nothing reads the publisher after this
    publisher.reset();
    conn.reset();  // after Run(): every link and socket is closed
    loop.reset();
    logger->Log(logging::Event(logging::Level::kInfo, "stopped").With("log_dropped", logger->dropped()));
    return revoked ? kExitError : kExitOk;  // revoked by the control plane: not a clean stop
  }

 private:
  // Every accepted key, with its type and range; flags win. The ranges match the checks in Run().
  int ReadConfig() {
    if (s_.config.empty()) return kExitOk;
    std::optional<std::string> error = ConfigFile::Read(s_.config, *cmd_, [this](ConfigFile& cfg) {
      using Text = ConfigFile::Text;
      cfg.Str("identity", "--identity", s_.identity);
      cfg.Strs("relays", "--relay", s_.relays, Text::kAddress);
      cfg.Str("policy", "--policy", s_.policy);
      cfg.Str("direct_listen", "--direct-listen", s_.direct_listen, Text::kAddress);
      cfg.Str("metrics_listen", "--metrics-listen", s_.metrics_listen, Text::kAddress);
      cfg.Int("open_timeout_ms", "--open-timeout-ms", s_.open_timeout_ms, 1, std::numeric_limits<std::int32_t>::max());
      cfg.Int("resolver_threads", nullptr, s_.resolver_threads, 1, 64);
      cfg.Str("tunnel_pool", "--tunnel-pool", s_.tunnel_pool);
      cfg.Int("tunnel_mtu", "--tunnel-mtu", s_.tunnel_mtu, ip::kMinTunnelMtu, ip::kMaxTunnelMtu);
      cfg.Str("tunnel_device", "--tunnel-device", s_.tunnel_device);
      cfg.Bool("tunnel_masquerade", "--tunnel-masquerade", s_.tunnel_masquerade);
      ReadLogConfig(cfg, s_.log);
    });
    return error ? ReportError("connector: " + *error) : kExitOk;
  }

  CLI::App* cmd_;
  Settings s_;
};

}  // namespace

std::unique_ptr<Command> MakeConnectorCommand(CLI::App& app) { return std::make_unique<ConnectorCommand>(app); }

}  // namespace strait::cli
