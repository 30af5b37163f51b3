// `strait relay`: the relay daemon (docs/relay.md). Flags and the optional TOML file are read here only; the
// relay library takes relay::RelayOptions.
//
//   strait relay --identity DIR --device-listen ADDR --connector-listen ADDR [--metrics-listen ADDR] [--threads N]
//                [--config FILE] [--drain-ms N] [--handshake-timeout-ms N] [--max-sessions-per-device N]
//                [--log-level debug|info|warn|error] [--log-format text|json]
//
// ADDR is IP:PORT, [IPv6]:PORT or NAME:PORT (a name is resolved at start to its first IPv4 address).
// stdout: one line once both ports and the metrics port listen:
//   relay ready device=<ip:port> connector=<ip:port> metrics=<ip:port>
// stderr: one line per event (link or session up/down, refused login, drain), text or JSON (docs/logging.md), through
// a logging::Logger that never blocks a shard. SIGTERM / SIGINT: drain (GOAWAY, close after --drain-ms), exit 0.
//
// An identity enrolled with strait-control (`strait relay enroll`; DIR/control.json) also follows the control
// plane's snapshot and event stream (cli/control_subscription.h, relay/control_apply.h): revoked and locked subjects
// and suspended tenants are refused at login and their live links closed with ERROR revoked. stdout then also says
// "relay control snapshot as_of=<id>" each time a snapshot is applied. It renews its credential and tls.crt before
// they expire and serves new logins with them (cli/daemon_control.h, Relay::Renew). A relay revoked by the control
// plane drains and exits 1.
//
// TOML keys (flags win; ReadConfig() is the list): identity, device_listen, connector_listen, metrics_listen, threads,
// drain_ms, handshake_timeout_ms, client_hello_timeout_ms, keepalive_ms, idle_timeout_ms, max_sessions_per_device,
// max_handshakes_per_shard, max_handshakes_per_source, max_links_per_shard, max_links_per_credential, log_level,
// log_format. An unknown key or a bad value: one line on stderr, exit 1, before anything starts.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "crypto/credential.h"
#include "crypto/keystore.h"
#include "crypto/tls_context.h"
#include "cli/command.h"
#include "cli/config_file.h"
#include "cli/daemon_control.h"
#include "cli/log_flags.h"
#include "relay/control_apply.h"
#include "relay/metrics.h"
#include "relay/relay.h"
#include "runtime/net.h"
#include "tunnel/control/daemon_defaults.h"
#include "tunnel/control/snapshot.h"

namespace strait::cli {
namespace {

struct Settings {
  std::string identity;
  std::string device_listen = "0.0.0.0:443";
  std::string connector_listen = "0.0.0.0:3101";
  std::string metrics_listen = "127.0.0.1:9100";
  std::string config;
  std::size_t threads = 0;  // 0: one per core
  std::int64_t drain_ms = 5000;
  std::int64_t handshake_timeout_ms = 10000;
  std::int64_t client_hello_timeout_ms = 3000;
  std::int64_t keepalive_ms = 15000;
  std::int64_t idle_timeout_ms = 60000;
  std::int64_t max_sessions_per_device = 4;
  std::int64_t max_handshakes_per_shard = 256;
  std::int64_t max_handshakes_per_source = 64;
  std::int64_t max_links_per_shard = 20000;
  std::int64_t max_links_per_credential = 8;
  LogSettings log;
};

int Usage(const std::string& message) {
  fmt::print(stderr, "strait relay: {}\nRun with --help for more information.\n", message);
  return kExitUsage;
}

class RelayCommand : public Command {
 public:
  explicit RelayCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("relay", "Run the relay daemon: terminates TLS from devices and connectors and routes "
                                       "sealed frames (docs/relay.md)");
    cmd_->add_option("--identity", s_.identity, "Relay identity bundle directory (tls.crt, tls.key, root.pub)");
    cmd_->add_option("--device-listen", s_.device_listen, "Device port, HOST:PORT (default 0.0.0.0:443; port 0 ok)");
    cmd_->add_option("--connector-listen", s_.connector_listen,
                     "Connector port, HOST:PORT (default 0.0.0.0:3101; port 0 ok)");
    cmd_->add_option("--metrics-listen", s_.metrics_listen,
                     "Prometheus endpoint, loopback HOST:PORT (default 127.0.0.1:9100)");
    cmd_->add_option("--threads", s_.threads, "Shards (event loop threads); default one per core");
    cmd_->add_option("--config", s_.config, "TOML file with the same settings (flags win)");
    cmd_->add_option("--drain-ms", s_.drain_ms, "On SIGTERM: GOAWAY, then close links after this many ms (5000)");
    cmd_->add_option("--handshake-timeout-ms", s_.handshake_timeout_ms, "TLS + HELLO deadline (10000)");
    cmd_->add_option("--max-sessions-per-device", s_.max_sessions_per_device, "Sessions per device link (4)");
    cmd_->add_option("--max-links-per-credential", s_.max_links_per_credential,
                     "Live links per credential subject; a newer login closes the oldest (8)");
    AddLogFlags(*cmd_, s_.log);
  }

  bool Selected() const override { return cmd_->parsed(); }

  int Run() override {
    if (int rc = ReadConfig(); rc != kExitOk) return rc;
    if (s_.identity.empty()) return Usage("--identity is required");
    auto device = runtime::ResolveSocketAddress(s_.device_listen);
    if (!device.ok()) return Usage("--device-listen: " + device.error().reason);
    auto connector = runtime::ResolveSocketAddress(s_.connector_listen);
    if (!connector.ok()) return Usage("--connector-listen: " + connector.error().reason);
    auto metrics = runtime::ResolveSocketAddress(s_.metrics_listen);
    if (!metrics.ok()) return Usage("--metrics-listen: " + metrics.error().reason);
    if (!runtime::IsLoopback(*metrics)) return Usage("--metrics-listen must be a loopback address");
    if (s_.drain_ms < 0 || s_.handshake_timeout_ms <= 0 || s_.keepalive_ms < 0 || s_.idle_timeout_ms < 0 ||
        s_.client_hello_timeout_ms <= 0 || s_.max_sessions_per_device <= 0 || s_.max_handshakes_per_shard <= 0 ||
        s_.max_handshakes_per_source <= 0 || s_.max_links_per_shard <= 0 || s_.max_links_per_credential <= 0) {
      return Usage("timeouts must be >= 0 (handshake > 0) and limits > 0");
    }

    auto bundle = crypto::LoadIdentityBundle(s_.identity);
    if (!bundle) return ReportError(fmt::format("relay: identity {}: {}", s_.identity, bundle.error().reason));
    if (bundle->tls_cert_pem.empty() || bundle->tls_key_pem.empty()) {
      return ReportError(fmt::format("relay: identity {} has no tls.crt / tls.key", s_.identity));
    }
    if (int rc = CheckOwnCredential(*bundle, crypto::Role::kRelay, "relay", s_.identity); rc != kExitOk) return rc;
    auto tls = crypto::TlsContext::CreateServer({bundle->tls_cert_pem, bundle->tls_key_pem.view()});
    if (!tls) return ReportError("relay: TLS: " + tls.error().reason);
    std::string relay_id = "relay";
    if (auto cred = crypto::ParseCredential(bundle->credential)) relay_id = cred->subject_id;
    auto where = control::SubscriptionFromControl(s_.identity, *bundle);
    if (!where) return ReportError("relay: " + where.error().reason);

    std::unique_ptr<logging::Logger> logger = MakeLogger(s_.log);
    relay::RelayOptions o;
    o.log = logger->sink();
    o.device_listen = *device;
    o.connector_listen = *connector;
    o.threads = s_.threads != 0 ? s_.threads : std::max(1u, std::thread::hardware_concurrency());
    if (o.threads > 64) o.threads = 64;
    o.drain_period = std::chrono::milliseconds(s_.drain_ms);
    o.link.handshake_timeout = std::chrono::milliseconds(s_.handshake_timeout_ms);
    o.link.client_hello_timeout = std::chrono::milliseconds(s_.client_hello_timeout_ms);
    o.link.keepalive = std::chrono::milliseconds(s_.keepalive_ms);
    o.link.idle_timeout = std::chrono::milliseconds(s_.idle_timeout_ms);
    o.max_sessions_per_device = static_cast<std::uint32_t>(s_.max_sessions_per_device);
    o.max_handshakes_per_shard = static_cast<std::uint32_t>(s_.max_handshakes_per_shard);
    o.max_handshakes_per_source = static_cast<std::uint32_t>(s_.max_handshakes_per_source);
    o.max_links_per_shard = static_cast<std::uint32_t>(s_.max_links_per_shard);
    o.max_links_per_credential = static_cast<std::uint32_t>(s_.max_links_per_credential);
    o.loop.max_connections = std::max<std::uint32_t>(o.loop.max_connections, o.max_links_per_shard + 64);
    relay::RelayIdentity id;
    id.tls = &*tls;
    id.root_key = bundle->root_public_key;
    id.relay_id = relay_id;
    id.credential = bundle->credential;
    id.signing_key = crypto::Ed25519KeyPair::FromSeed(bundle->signing_key.seed);

    // Shard threads inherit this mask: only sigwait below sees SIGTERM / SIGINT.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    auto r = relay::Relay::Start(o, id);
    if (!r.ok()) return ReportError("relay: " + r.error().reason);
    std::unique_ptr<relay::Relay> relay = std::move(r).value();
    relay::Relay* rp = relay.get();
    logging::Logger* lg = logger.get();
    auto m = relay::MetricsServer::Start(*metrics, [rp, lg] {
      relay::MetricsSnapshot s = rp->Snapshot();
      s.log_dropped = lg->dropped();
      return s;
    });
    if (!m.ok()) return ReportError("relay: metrics: " + m.error().reason);
    std::unique_ptr<relay::MetricsServer> metrics_server = std::move(m).value();

    std::printf("relay ready device=%s connector=%s metrics=%s\n", relay->device_address().ToString().c_str(),
                relay->connector_address().ToString().c_str(), metrics_server->address().ToString().c_str());
    std::fflush(stdout);
    logger->Log(logging::Event(logging::Level::kInfo, "listening").With("relay", relay_id).With("shards", o.threads));

    // Enrolled with strait-control (control.json): follow its denials (docs/control-plane.md §7). Logins are served
    // from the start; a denial that arrives with the first snapshot closes any link it concerns.
    std::unique_ptr<relay::RelayControl> control;
    std::unique_ptr<DaemonControl> daemon_control;
    if (!where->has_value()) {
      logger->Log(logging::Event(logging::Level::kInfo, "control_plane").With("state", "none (no control.json)"));
    } else {
      control = std::make_unique<relay::RelayControl>(*relay, relay_id);
      relay::RelayControl* rc = control.get();
      DaemonControl::Subscribe subscribe{
          **where,
          [rc](std::string_view body, bool* stop) -> Result<uint64_t, std::string> {
            auto snap = control::DecodeRelaySnapshot(body);
            if (!snap) return Fail(snap.error().reason);
            *stop = rc->ApplySnapshot(*snap, UnixNow()) == control::SubscriberVerdict::kStop;
            return snap->as_of;
          },
          [rc](const control::Event& e) { return rc->ApplyEvent(e, UnixNow()); }};
      // A renewal: the new credential in new HELLO_ACKs, the new tls.crt in new TLS handshakes (Relay::Renew).
      auto dc = DaemonControl::Start(s_.identity, crypto::Role::kRelay, *bundle, logger.get(), std::move(subscribe),
                                     [rp](const crypto::IdentityBundle& renewed) {
                                       return rp->Renew({{renewed.tls_cert_pem, renewed.tls_key_pem.view()},
                                                         renewed.credential});
                                     });
      if (!dc) {
        relay->Stop();
        return ReportError("relay: " + dc.error());
      }
      daemon_control = std::move(*dc);
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    logger->Log(logging::Event(logging::Level::kInfo, "signal").With("signal", sig).With("drain_ms", s_.drain_ms));
    relay->Drain();
    // Links close after the drain period; give their close handshakes a bounded grace beyond it. A second signal
    // cuts the wait short.
    const auto deadline = std::chrono::steady_clock::now() + o.drain_period + std::chrono::seconds(3);
    while (!relay->Drained() && std::chrono::steady_clock::now() < deadline) {
      timespec ts{0, 20'000'000};
      siginfo_t info;
      if (sigtimedwait(&sigs, &info, &ts) > 0) break;
    }
    const bool revoked = daemon_control && daemon_control->ended();
    daemon_control.reset();  // its threads call into the relay: they go first
    control.reset();
    relay->Stop();
    metrics_server.reset();
    logger->Log(logging::Event(logging::Level::kInfo, "stopped").With("log_dropped", logger->dropped()));
    // Revoked by the control plane: exit 1, so a supervisor does not take it for a clean stop.
    return revoked ? kExitError : kExitOk;
  }

 private:
  // Every accepted key, with its type and range; flags win. The ranges match the checks in Run().
  int ReadConfig() {
    if (s_.config.empty()) return kExitOk;
    std::optional<std::string> error = ConfigFile::Read(s_.config, *cmd_, [this](ConfigFile& cfg) {
      using Text = ConfigFile::Text;
      constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
      cfg.Str("identity", "--identity", s_.identity);
      cfg.Str("device_listen", "--device-listen", s_.device_listen, Text::kAddress);
      cfg.Str("connector_listen", "--connector-listen", s_.connector_listen, Text::kAddress);
      cfg.Str("metrics_listen", "--metrics-listen", s_.metrics_listen, Text::kAddress);
      cfg.Int("threads", "--threads", s_.threads, 0, 64);
      cfg.Int("drain_ms", "--drain-ms", s_.drain_ms, 0, kMax);
      cfg.Int("handshake_timeout_ms", "--handshake-timeout-ms", s_.handshake_timeout_ms, 1, kMax);
      cfg.Int("client_hello_timeout_ms", nullptr, s_.client_hello_timeout_ms, 1, kMax);
      cfg.Int("keepalive_ms", nullptr, s_.keepalive_ms, 0, kMax);
      cfg.Int("idle_timeout_ms", nullptr, s_.idle_timeout_ms, 0, kMax);
      cfg.Int("max_sessions_per_device", "--max-sessions-per-device", s_.max_sessions_per_device, 1, kMax);
      cfg.Int("max_handshakes_per_shard", nullptr, s_.max_handshakes_per_shard, 1, kMax);
      cfg.Int("max_handshakes_per_source", nullptr, s_.max_handshakes_per_source, 1, kMax);
      cfg.Int("max_links_per_shard", nullptr, s_.max_links_per_shard, 1, kMax);
      cfg.Int("max_links_per_credential", "--max-links-per-credential", s_.max_links_per_credential, 1, kMax);
      ReadLogConfig(cfg, s_.log);
    });
    return error ? ReportError("relay: " + *error) : kExitOk;
  }

  CLI::App* cmd_ = nullptr;
  Settings s_;
};

}  // namespace

std::unique_ptr<Command> MakeRelayCommand(CLI::App& app) { return std::make_unique<RelayCommand>(app); }

}  // namespace strait::cli
