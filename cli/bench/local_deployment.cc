#include "cli/bench/local_deployment.h"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "bench/suite/load/cpu_pin.h"
#include "cli/bench/netns_lab.h"
#include "cli/keys_operations.h"
#include "crypto/credential.h"
#include "crypto/keystore.h"

namespace strait::cli::bench {
namespace {

using demo::Clock;
constexpr std::uint32_t kCredentialHours = 4;

std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }

// The relay's limits for a bench: a load generator on one host is one source with thousands of logins in flight,
// which the defaults (64 per source, 256 per shard) rightly treat as a flood.
constexpr const char* kRelayConfig = R"(# written by strait bench: a load generator is one busy source
max_handshakes_per_source = 4096
max_handshakes_per_shard = 4096
max_links_per_shard = 200000
)";

template <typename T>
Result<T, std::string> Op(Result<T, std::string> r, std::string_view what) {
  if (!r) return Fail(fmt::format("{}: {}", what, r.error()));
  return r;
}

}  // namespace

Result<std::unique_ptr<LocalDeployment>, std::string> LocalDeployment::Start(const LocalDeploymentOptions& o) {
  std::unique_ptr<LocalDeployment> d(new LocalDeployment(o));
  char tmpl[] = "/tmp/strait-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Fail(fmt::format("mkdtemp: {}", std::strerror(errno)));
  d->dir_ = tmpl;
  d->daemons_ = std::make_unique<Daemons>(d->dir_, o.timeout);
  if (o.netns) {
    d->device_port_arg_ = o.netns->device_ip + ":0";
    d->connector_port_arg_ = o.netns->connector_ip + ":0";
  }
  if (auto r = d->MakeKeys(); !r) return Fail(r.error());
  if (auto r = d->StartRelay(); !r) return Fail(r.error());
  return d;
}

LocalDeployment::~LocalDeployment() {
  daemons_.reset();  // stops the children
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

pid_t LocalDeployment::relay_pid() const { return relay_ != nullptr ? relay_->pid() : -1; }

void LocalDeployment::Stop() {
  if (daemons_) daemons_->Stop();
}

Result<void, std::string> LocalDeployment::MakeKeys() {
  const uint64_t now = NowUnix();
  const std::string root = dir_ + "/root", tenant = dir_ + "/tenant", ca = dir_ + "/ca";
  if (auto r = Op(InitRoot({.out_dir = root}), "root"); !r) return Fail(r.error());
  if (auto r = Op(MakeTenant({.root_dir = root, .tenant_id = "bench", .days = 1, .out_dir = tenant}, now), "tenant");
      !r) {
    return Fail(r.error());
  }
  if (auto r = Op(MakeTlsCa({.out_dir = ca}), "TLS CA"); !r) return Fail(r.error());
  IssueOptions relay;
  relay.role = crypto::Role::kRelay;
  relay.subject = "relay-bench";
  relay.hours = kCredentialHours;
  relay.out_dir = dir_ + "/relay";
  relay.root_dir = root;
  relay.tls_ca_dir = ca;
  relay.dns_names = {"localhost"};
  relay.ip_addresses = {"127.0.0.1"};
  if (options_.netns) {  // the daemons dial these; the simulated devices check 127.0.0.1 whatever they dial
    relay.ip_addresses = {"127.0.0.1", options_.netns->device_ip, options_.netns->connector_ip};
  }
  if (auto r = Op(Issue(relay, now), "relay identity"); !r) return Fail(r.error());
  for (const auto& [role, subject, out] : {std::tuple{crypto::Role::kConnector, "conn-bench", "/conn"},
                                           std::tuple{crypto::Role::kDevice, "dev-socks", "/dev"},
                                           std::tuple{crypto::Role::kDevice, "dev-direct", "/dev-dc"}}) {
    IssueOptions i;
    i.role = role;
    i.subject = subject;
    i.hours = kCredentialHours;
    i.out_dir = dir_ + out;
    i.tenant_dir = tenant;
    i.ca = ca;
    if (auto r = Op(Issue(i, now), fmt::format("{} identity", crypto::RoleName(role))); !r) return Fail(r.error());
  }
  auto issuer = DeviceIssuer::Open(dir_);
  if (!issuer) return Fail(issuer.error());
  issuer_ = std::move(*issuer);
  if (auto w = crypto::WritePublicFile(dir_ + "/relay.toml", kRelayConfig, crypto::Overwrite::kRefuse); !w) {
    return Fail(fmt::format("relay.toml: {}", w.error().reason));
  }
  return {};
}

Result<void, std::string> LocalDeployment::StartRelay() {
  auto c = daemons_->Spawn("relay",
                 {"relay", "--identity", dir_ + "/relay", "--config", dir_ + "/relay.toml", "--device-listen",
                  device_port_arg_, "--connector-listen", connector_port_arg_, "--metrics-listen", "127.0.0.1:0",
                  "--threads", std::to_string(options_.relay_threads)},
                 relay_netns());
  if (!c) return Fail(c.error());
  relay_ = *c;
  std::size_t cursor = 0;
  auto ready = daemons_->WaitLine(*relay_, "relay ready", &cursor);
  if (!ready) return Fail(ready.error());
  const auto device = demo::Field(*ready, "device");
  const auto connector = demo::Field(*ready, "connector");
  const auto metrics = demo::Field(*ready, "metrics");
  auto dev_addr = device ? runtime::ParseSocketAddress(*device) : runtime::ParseSocketAddress("");
  auto conn_addr = connector ? runtime::ParseSocketAddress(*connector) : runtime::ParseSocketAddress("");
  auto metrics_hp = metrics ? demo::ParseHostPort(*metrics) : std::nullopt;
  if (!dev_addr || !conn_addr || !metrics_hp) {
    return Fail(fmt::format("relay: cannot read its ready line \"{}\"", *ready));
  }
  relay_device_ = *dev_addr;
  relay_connector_ = *conn_addr;
  relay_metrics_ = *metrics_hp;
  device_port_arg_ = *device;
  connector_port_arg_ = *connector;
  if (options_.relay_cpu) {
    if (auto p = strait::bench::PinProcess(relay_->pid(), {*options_.relay_cpu}); !p) {
      return Fail(fmt::format("pinning the relay to CPU {}: {}", *options_.relay_cpu, p.error()));
    }
  }
  return {};
}

Result<void, std::string> LocalDeployment::RestartRelay() {
  if (relay_ == nullptr) return Fail(std::string("no relay to restart"));
  relay_->Signal(SIGKILL);
  if (!relay_->WaitExit(Clock::now() + options_.timeout)) return Fail(std::string("the relay did not die on SIGKILL"));
  return StartRelay();
}

Result<std::vector<link::LinkConfig>, std::string> LocalDeployment::MakeDevices(std::uint32_t count) {
  return issuer_->Issue(ReserveDevices(count), count);
}

Result<std::string, std::string> LocalDeployment::MakeServerPem(const std::string& name) {
  const std::string out = dir_ + "/" + name;
  TlsServerOptions t;
  t.ca_dir = dir_ + "/ca";
  t.dns_names = {"localhost"};
  t.ip_addresses = {"127.0.0.1"};
  t.days = 1;
  t.out_dir = out;
  if (auto r = Op(MakeTlsServer(t), name); !r) return Fail(r.error());
  auto cert = crypto::ReadPublicFile(out + "/tls.crt");
  if (!cert) return Fail(fmt::format("{}: {}", name, cert.error().reason));
  auto key = crypto::ReadSecretFile(out + "/tls.key");
  if (!key) return Fail(fmt::format("{}: {}", name, key.error().reason));
  const std::string pem_path = out + "/server.pem";
  std::string pem = *cert;
  pem += key->view();
  if (auto w = crypto::WriteSecretFile(pem_path, pem, crypto::Overwrite::kRefuse); !w) {
    return Fail(fmt::format("{}: {}", pem_path, w.error().reason));
  }
  return pem_path;
}

Result<void, std::string> LocalDeployment::StartConnectorLocked() {
  if (!direct_connect_.empty()) return {};
  auto direct = StartConnector(*daemons_,
                               {.connector_identity = dir_ + "/conn",
                                .connector_relay = connector_port_arg_,
                                .device_identities = {},
                                .device_relay = "",
                                .allow = "127.0.0.1/32"},
                               /*direct_listen=*/true);
  if (!direct) return Fail(direct.error());
  direct_connect_ = *direct;
  return {};
}

Result<void, std::string> LocalDeployment::AddDevicesLocked(std::vector<demo::HostPort>& doors, std::uint32_t n,
                                                            bool direct) {
  if (n < 1 || n > kMaxAppDevices) return Fail(fmt::format("app devices: {} is outside 1..{}", n, kMaxAppDevices));
  if (auto c = StartConnectorLocked(); !c) return c;
  const std::string kind = direct ? "dev-dc" : "dev";  // bundle dev, dev-1, ...; dev-dc, dev-dc-1, ...
  for (auto k = static_cast<std::uint32_t>(doors.size()); k < n; ++k) {
    const std::string suffix = k == 0 ? "" : fmt::format("-{}", k);
    const std::string bundle = dir_ + "/" + kind + suffix;
    if (k > 0) {  // the first of each kind was issued with the deployment's keys
      IssueOptions i;
      i.role = crypto::Role::kDevice;
      i.subject = fmt::format("{}{}", direct ? "dev-direct" : "dev-socks", suffix);
      i.hours = kCredentialHours;
      i.out_dir = bundle;
      i.tenant_dir = dir_ + "/tenant";
      i.ca = dir_ + "/ca";
      if (auto r = Op(Issue(i, NowUnix()), "device identity"); !r) return Fail(r.error());
    }
    auto door = StartDevice(*daemons_, (direct ? "device-dc" : "device") + suffix, bundle,
                            {direct ? "--direct" : "--relay", direct ? direct_connect_ : device_port_arg_});
    if (!door) return Fail(door.error());
    doors.push_back(*door);
  }
  return {};
}

Result<std::vector<demo::HostPort>, std::string> LocalDeployment::AppDoors(std::uint32_t n) {
  std::lock_guard lock(app_mu_);
  if (auto r = AddDevicesLocked(app_doors_, n, /*direct=*/false); !r) return Fail(r.error());
  return std::vector<demo::HostPort>(app_doors_.begin(), app_doors_.begin() + n);
}

Result<std::vector<demo::HostPort>, std::string> LocalDeployment::DirectConnectDoors(std::uint32_t n) {
  std::lock_guard lock(app_mu_);
  if (auto r = AddDevicesLocked(direct_doors_, n, /*direct=*/true); !r) return Fail(r.error());
  return std::vector<demo::HostPort>(direct_doors_.begin(), direct_doors_.begin() + n);
}

Result<std::string, std::string> LocalDeployment::IpTunnel(const IpTunnelOptions& o) {
  std::lock_guard lock(app_mu_);
  if (ip_tunnel_) return *ip_tunnel_;
  const std::string policy = fmt::format(
      "# written by strait bench ip: the tunnel reaches its own receivers only\n[tunnel]\nroutes = [\"{0}\"]\n\n"
      "[[tunnel.allow]]\ncidrs = [\"{0}\"]\nprotocols = [\"tcp\", \"udp\", \"icmp\"]\nports = [\"*\"]\n",
      o.allow_cidr);
  if (auto w = crypto::WritePublicFile(dir_ + "/tunnel-policy.toml", policy, crypto::Overwrite::kRefuse); !w) {
    return Fail(fmt::format("tunnel-policy.toml: {}", w.error().reason));
  }
  auto conn = daemons_->Spawn("tunnel-connector",
                    {"connector", "--identity", dir_ + "/conn", "--relay", connector_port_arg_, "--policy",
                     dir_ + "/tunnel-policy.toml", "--tunnel-pool", o.pool, "--tunnel-device", "strait-c0"},
                    o.connector_ns);
  if (!conn) return Fail(conn.error());
  std::size_t cc = 0;
  if (auto l = daemons_->WaitLine(**conn, "connector link up", &cc); !l) return Fail(l.error());
  auto dev = daemons_->Spawn("tunnel-device",
                   {"device", "--identity", dir_ + "/dev", "--relay", device_port_arg_, "--socks-listen", "127.0.0.1:0",
                    "--tun", "--tun-dns", "off"},
                   o.device_ns);
  if (!dev) return Fail(dev.error());
  std::size_t dc = 0;
  auto up = daemons_->WaitLine(**dev, "device tunnel up", &dc);
  if (!up) return Fail(up.error());
  ip_tunnel_ = *up;
  return *up;
}

}  // namespace strait::cli::bench
