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

using demo::ChildProcess;
using demo::Clock;

constexpr auto kStopGrace = std::chrono::seconds(5);
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
  if (o.netns) {
    d->device_port_arg_ = o.netns->device_ip + ":0";
    d->connector_port_arg_ = o.netns->connector_ip + ":0";
  }
  if (auto r = d->MakeKeys(); !r) return Fail(r.error());
  if (auto r = d->StartRelay(); !r) return Fail(r.error());
  return d;
}

LocalDeployment::~LocalDeployment() {
  Stop();
  children_.clear();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

pid_t LocalDeployment::relay_pid() const { return relay_ != nullptr ? relay_->pid() : -1; }

void LocalDeployment::Stop() {
  // The device and the connector first (their links to the relay end cleanly), the relay last.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) (*it)->Stop(kStopGrace);
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
                                           std::tuple{crypto::Role::kDevice, "dev-socks", "/dev"}}) {
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

Result<ChildProcess*, std::string> LocalDeployment::Spawn(const std::string& name,
                                                          const std::vector<std::string>& args,
                                                          const std::string& netns) {
  std::string error;
  std::string exe = "/proc/self/exe";
  std::vector<std::string> argv = args;
  if (!netns.empty()) {
    // `ip netns exec NS PROGRAM` execs PROGRAM in place (same PID, so pinning and signals reach the daemon); it
    // needs this binary's real path, /proc/self/exe being ip's own by then.
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Fail(fmt::format("{}: /proc/self/exe: {}", name, ec.message()));
    exe = IpCommandPath();
    argv = {"netns", "exec", netns, self};
    argv.insert(argv.end(), args.begin(), args.end());
  }
  auto c = ChildProcess::Start(name, exe, argv, dir_ + "/" + name + ".stderr", &error);
  if (!c) return Fail(fmt::format("{}: {}", name, error));
  children_.push_back(std::move(c));
  return children_.back().get();
}

Result<std::string, std::string> LocalDeployment::WaitLine(ChildProcess& c, std::string_view prefix,
                                                           std::size_t* cursor) {
  auto line = c.WaitLine(prefix, Clock::now() + options_.timeout, cursor);
  if (line) return *line;
  if (demo::Interrupted()) return Fail(std::string("interrupted"));
  return Fail(fmt::format("{} never printed \"{}\" ({}); stderr: {}", c.name(), prefix,
                          c.exited() ? c.StatusText() : fmt::format("{} s passed", options_.timeout.count()),
                          c.StderrTail(3)));
}

Result<void, std::string> LocalDeployment::StartRelay() {
  auto c = Spawn("relay",
                 {"relay", "--identity", dir_ + "/relay", "--config", dir_ + "/relay.toml", "--device-listen",
                  device_port_arg_, "--connector-listen", connector_port_arg_, "--metrics-listen", "127.0.0.1:0",
                  "--threads", std::to_string(options_.relay_threads)},
                 relay_netns());
  if (!c) return Fail(c.error());
  relay_ = *c;
  std::size_t cursor = 0;
  auto ready = WaitLine(*relay_, "relay ready", &cursor);
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

Result<demo::HostPort, std::string> LocalDeployment::AppDoor() {
  std::lock_guard lock(app_mu_);
  if (app_door_) return *app_door_;
  const std::string policy = "# written by strait bench: its own servers, on loopback\n[[allow]]\n"
                             "cidrs = [\"127.0.0.1/32\"]\nports = [\"*\"]\n";
  if (auto w = crypto::WritePublicFile(dir_ + "/policy.toml", policy, crypto::Overwrite::kRefuse); !w) {
    return Fail(fmt::format("policy.toml: {}", w.error().reason));
  }
  auto conn = Spawn("connector", {"connector", "--identity", dir_ + "/conn", "--relay", connector_port_arg_,
                                  "--policy", dir_ + "/policy.toml", "--metrics-listen", "127.0.0.1:0"});
  if (!conn) return Fail(conn.error());
  std::size_t cc = 0;
  if (auto l = WaitLine(**conn, "connector ready", &cc); !l) return Fail(l.error());
  if (auto l = WaitLine(**conn, "connector link up", &cc); !l) return Fail(l.error());
  auto dev = Spawn("device", {"device", "--identity", dir_ + "/dev", "--relay", device_port_arg_, "--socks-listen",
                              "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"});
  if (!dev) return Fail(dev.error());
  std::size_t dc = 0;
  auto ready = WaitLine(**dev, "device ready", &dc);
  if (!ready) return Fail(ready.error());
  const auto socks = demo::Field(*ready, "socks");
  auto hp = socks ? demo::ParseHostPort(*socks) : std::nullopt;
  if (!hp) return Fail(fmt::format("device: cannot read its ready line \"{}\"", *ready));
  if (auto l = WaitLine(**dev, "device session up", &dc); !l) return Fail(l.error());
  app_door_ = *hp;
  return *hp;
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
  auto conn = Spawn("tunnel-connector",
                    {"connector", "--identity", dir_ + "/conn", "--relay", connector_port_arg_, "--policy",
                     dir_ + "/tunnel-policy.toml", "--tunnel-pool", o.pool, "--tunnel-device", "strait-c0"},
                    o.connector_ns);
  if (!conn) return Fail(conn.error());
  std::size_t cc = 0;
  if (auto l = WaitLine(**conn, "connector link up", &cc); !l) return Fail(l.error());
  auto dev = Spawn("tunnel-device",
                   {"device", "--identity", dir_ + "/dev", "--relay", device_port_arg_, "--socks-listen", "127.0.0.1:0",
                    "--tun", "--tun-dns", "off"},
                   o.device_ns);
  if (!dev) return Fail(dev.error());
  std::size_t dc = 0;
  auto up = WaitLine(**dev, "device tunnel up", &dc);
  if (!up) return Fail(up.error());
  ip_tunnel_ = *up;
  return *up;
}

}  // namespace strait::cli::bench
