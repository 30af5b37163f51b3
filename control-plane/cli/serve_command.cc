// `strait-control serve` (docs/control-plane.md §2): checks the data directory, runs pending migrations, loads the
// keys and the TLS pair, then serves /v1 until SIGTERM or SIGINT, which stop accepting, let in-flight requests finish
// (5 s) and exit 0. stdout once listening: `control ready listen=<ip:port> metrics=<ip:port or ->` (--metrics-listen:
// Prometheus /metrics on loopback, control_metrics.h).
#include <signal.h>

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "cli/config_file.h"
#include "cli/log_flags.h"
#include "control-plane/api/cursor.h"
#include "control-plane/cli/commands.h"
#include "control-plane/cli/control_metrics.h"
#include "control-plane/cli/data_dir.h"
#include "control-plane/events/hub.h"
#include "control-plane/handlers/dispatcher.h"
#include "control-plane/handlers/maintenance.h"
#include "control-plane/handlers/routes.h"
#include "control-plane/http/server.h"
#include "control-plane/pki/key_pem.h"
#include "control-plane/store/sealed.h"
#include "control-plane/store/sqlite_store.h"
#include "metrics/http_endpoint.h"

namespace strait::control::cli {
namespace {

using strait::cli::ConfigFile;

struct ServeSettings {
  std::string data;
  std::string config;
  std::string listen = "0.0.0.0:8443";
  std::string metrics_listen;  // empty: no /metrics (loopback only when set)
  int threads = 2;
  int store_threads = 4;
  int store_queue = 1024;
  int max_connections = 1024;
  int rate_per_key = 50;
  int burst_per_key = 100;
  int rate_unauthenticated = 20;  // per source IP and second
  int activate_per_minute = 10;   // POST /v1/activate per source IP
  int maintenance_interval_s = 60;
  int event_retention_hours = 168;
  int audit_retention_days = 365;
  ServiceConfig service;
  strait::cli::LogSettings log;
};

class SystemClock : public Clock {
 public:
  int64_t Now() const override { return static_cast<int64_t>(std::time(nullptr)); }
};

class ServeCommand : public Command {
 public:
  explicit ServeCommand(CLI::App& app) {
    cmd_ = app.add_subcommand("serve", "Serve the /v1 API over HTTPS");
    cmd_->add_option("--data", s_.data, "The data directory `init` made")->required();
    cmd_->add_option("--listen", s_.listen, "Address to listen on (0.0.0.0:8443)");
    cmd_->add_option("--config", s_.config, "A TOML file with any of the keys of docs/examples/control.toml");
    cmd_->add_option("--threads", s_.threads, "I/O threads (2)")->check(CLI::Range(1, 64));
    cmd_->add_option("--metrics-listen", s_.metrics_listen,
                     "Serve Prometheus /metrics over plain HTTP here (a loopback address; default: none)");
    strait::cli::AddLogFlags(*cmd_, s_.log);
  }
  bool Selected() const override { return cmd_->parsed(); }
  int Run() override;

 private:
  int Fail(const std::string& why) { return ReportError("serve: " + why); }
  CLI::App* cmd_;
  ServeSettings s_;
};

int ServeCommand::Run() {
  if (!s_.config.empty()) {
    auto error = ConfigFile::Read(s_.config, *cmd_, [&](ConfigFile& cfg) {
      cfg.Str("listen", "--listen", s_.listen, ConfigFile::Text::kAddress);
      cfg.Str("metrics_listen", "--metrics-listen", s_.metrics_listen, ConfigFile::Text::kAddress);
      cfg.Int("threads", "--threads", s_.threads, 1, 64);
      cfg.Int("store_threads", nullptr, s_.store_threads, 1, 64);
      cfg.Int("store_queue", nullptr, s_.store_queue, 1, 65536);
      cfg.Int("max_connections", nullptr, s_.max_connections, 1, 65536);
      cfg.Int("device_credential_hours", nullptr, s_.service.device_credential_hours, 1, 720);
      cfg.Int("connector_credential_hours", nullptr, s_.service.connector_credential_hours, 1, 720);
      cfg.Int("relay_credential_hours", nullptr, s_.service.relay_credential_hours, 1, 720);
      cfg.Int("tenant_cert_days", nullptr, s_.service.tenant_cert_days, 7, 400);
      cfg.Int("renew_grace_hours", nullptr, s_.service.renew_grace_hours, 0, 720);
      cfg.Int("min_renew_interval_s", nullptr, s_.service.min_renew_interval_s, 0, 3600);
      cfg.Int("rate_per_key", nullptr, s_.rate_per_key, 1, 100000);
      cfg.Int("burst_per_key", nullptr, s_.burst_per_key, 1, 100000);
      cfg.Int("rate_unauthenticated", nullptr, s_.rate_unauthenticated, 1, 100000);
      cfg.Int("activate_per_minute", nullptr, s_.activate_per_minute, 1, 1000000);
      cfg.Int("maintenance_interval_s", nullptr, s_.maintenance_interval_s, 1, 3600);
      cfg.Int("event_retention_hours", nullptr, s_.event_retention_hours, 1, 8760);
      cfg.Int("audit_retention_days", nullptr, s_.audit_retention_days, 1, 3650);
      strait::cli::ReadLogConfig(cfg, s_.log);
    });
    if (error) return Fail(*error);
  }
  std::optional<runtime::SocketAddress> metrics_listen;
  if (!s_.metrics_listen.empty()) {
    auto m = runtime::ResolveSocketAddress(s_.metrics_listen);
    if (!m.ok()) return Fail("--metrics-listen: " + m.error().reason);
    if (!metrics::IsLoopback(*m)) return Fail("--metrics-listen must be a loopback address");
    metrics_listen = *m;
  }
  DataDir d(s_.data);
  auto lock = DirLock::Take(d);
  if (!lock) return Fail(lock.error());

  auto master_text = ReadTextFile(d.secretbox_key, true);
  if (!master_text) return Fail(master_text.error());
  auto master = store::MasterKey::FromText(*master_text);
  if (!master) return Fail(fmt::format("{}: {}", d.secretbox_key, store::ToString(master.error())));
  auto root_text = ReadTextFile(d.root_key, true);
  if (!root_text) return Fail(root_text.error());
  auto seed = pki::DecodeEd25519PrivatePem(*root_text);
  if (!seed) return Fail(fmt::format("{}: {}", d.root_key, seed.error().reason));
  crypto::Ed25519Seed root_seed;
  crypto::Ed25519Seed::FromSpan(*seed, &root_seed);
  const crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::FromSeed(root_seed);
  auto cert = ReadTextFile(d.tls_cert, false);
  auto key = ReadTextFile(d.tls_key, true);
  if (!cert) return Fail(cert.error());
  if (!key) return Fail(key.error());
  // The operator TLS CA: every bundle's ca_pem, and the issuer of relays' TLS certificates.
  auto ca_cert = ReadTextFile(d.ca_pem, false);
  auto ca_key = ReadTextFile(d.ca_key, true);
  if (!ca_cert) return Fail(ca_cert.error());
  if (!ca_key) return Fail(ca_key.error());
  const pki::PemPair tls_ca{std::move(*ca_cert), std::move(*ca_key)};

  store::SqliteOptions so;
  so.readers = static_cast<size_t>(s_.store_threads);
  auto opened = store::OpenSqliteStore(d.db, so);
  if (!opened) return Fail(fmt::format("{}: {}", d.db, opened.error().reason));
  std::unique_ptr<store::Store> db = std::move(*opened);
  {
    auto tx = db->Read();
    if (!tx) return Fail(tx.error().reason);
    auto meta = (*tx)->GetMeta();
    if (!meta) return Fail(meta.error().reason);
    if (!meta->initialised_at) return Fail(fmt::format("incomplete init: remove {} and run init again", d.dir));
    if (meta->root_fingerprint != fmt::format("{}", root.public_key)) {
      return Fail(fmt::format("{} is not the root this store was made with", d.root_key));
    }
    s_.service.public_url = meta->public_url.value_or("");
  }

  std::unique_ptr<logging::Logger> logger = strait::cli::MakeLogger(s_.log);
  const store::Sealer sealer(*master);
  const store::ApiKeyHasher hasher(*master);
  store::SecretBytes cursor_bytes = master->Derive(store::Subkey::kCursorMac);
  const CursorKey cursor_key(std::span<const uint8_t, CursorKey::kSize>(cursor_bytes.data(), CursorKey::kSize));
  SystemClock clock;
  Services services;
  services.store = db.get();
  services.sealer = &sealer;
  services.hasher = &hasher;
  services.cursor_key = &cursor_key;
  services.clock = &clock;
  services.root = &root;
  services.tls_ca = &tls_ca;
  services.config = s_.service;
  events::Hub hub(db.get());
  services.hub = &hub;
  DispatcherOptions dopt;
  dopt.rate_per_key = s_.rate_per_key;
  dopt.burst_per_key = s_.burst_per_key;
  dopt.rate_unauthenticated = s_.rate_unauthenticated;
  dopt.activate_per_minute = s_.activate_per_minute;
  logging::Logger* lg = logger.get();
  Dispatcher dispatcher(ApiRoutes(), &services, dopt, [lg](std::string_view line) {
    lg->Log(logging::Event(logging::Level::kError, "internal_error").With("detail", std::string(line)));
  });

  http::ServerOptions hopt;
  hopt.listen = s_.listen;
  hopt.cert_pem = std::move(*cert);
  hopt.key_pem = std::move(*key);
  hopt.io_threads = s_.threads;
  hopt.pool_threads = s_.store_threads;
  hopt.pool_queue = static_cast<size_t>(s_.store_queue);
  hopt.max_connections = static_cast<size_t>(s_.max_connections);

  // Signals are taken synchronously by this thread; every other thread is started with them blocked.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  // Maintenance (§1 Threads): one log line per pass that changed something or failed.
  MaintenanceOptions mopt;
  mopt.interval = std::chrono::seconds(s_.maintenance_interval_s);
  mopt.event_retention = std::chrono::hours(s_.event_retention_hours);
  mopt.audit_retention = std::chrono::hours(24 * s_.audit_retention_days);
  mopt.keep_events = events::HubOptions{}.ring_events;
  MaintenanceThread maintenance(&services, mopt, [lg](const MaintenanceReport& r) {
    if (!r.Changed() && !r.error) return;
    lg->Log(logging::Event(r.error ? logging::Level::kWarn : logging::Level::kInfo, "maintenance")
                .With("activations_expired", r.activations_expired)
                .With("activations_purged", r.activations_purged)
                .With("idempotency_purged", r.idempotency_purged)
                .With("events_purged", r.events_purged)
                .With("audit_purged", r.audit_purged)
                .With("denials_purged", r.denials_purged)
                .With("tenant_certs_reissued", r.tenant_certs_reissued)
                .With("error", r.error.value_or("")));
  });

  http::Server server(std::move(hopt), &dispatcher);
  if (auto started = server.Start(); !started) return Fail(started.error().reason);
  // /metrics reads only atomics and the hub's counts (control_metrics.h); stopped before the server and the hub.
  std::unique_ptr<metrics::HttpEndpoint> endpoint;
  if (metrics_listen) {
    const ControlMetricsSources sources{.dispatcher = &dispatcher, .server = &server.counters(), .hub = &hub};
    auto e = metrics::HttpEndpoint::Start(*metrics_listen, [sources] { return RenderControlMetrics(sources); });
    if (!e.ok()) {
      server.Stop();
      return Fail("metrics: " + e.error().reason);
    }
    endpoint = std::move(e).value();
  }
  maintenance.Start();
  std::printf("control ready listen=%s metrics=%s\n", server.local_address().c_str(),
              endpoint ? endpoint->address().ToString().c_str() : "-");
  std::fflush(stdout);
  logger->Log(logging::Event(logging::Level::kInfo, "listening").With("listen", server.local_address()));

  int sig = 0;
  sigwait(&stop, &sig);
  logger->Log(logging::Event(logging::Level::kInfo, "signal").With("signal", sig));
  endpoint.reset();
  maintenance.Stop();  // at its next batch boundary: a batch is one short transaction
  hub.Shutdown();  // event streams end first: their daemons resume from another instance or after the restart
  server.Stop();
  logger->Log(logging::Event(logging::Level::kInfo, "stopped")
                  .With("requests", dispatcher.counters().requests.load())
                  .With("internal_errors", dispatcher.counters().internal.load()));
  return kExitOk;
}

}  // namespace

std::unique_ptr<Command> MakeServeCommand(CLI::App& app) { return std::make_unique<ServeCommand>(app); }

}  // namespace strait::control::cli
