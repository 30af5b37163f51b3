// LocalDeployment: the relay (and, where a scenario needs them, a connector and a device with its SOCKS5 door) that
// `strait bench` starts by itself on loopback when no --relay is given (docs/bench.md §1): throwaway keys in a
// private temporary directory, made with the same operations as `strait keys` (root, tenant "bench", TLS CA, relay,
// connector, one device bundle), the daemons as children of this same binary, the relay pinned to its own CPU.
//
// Simulated devices (DeviceFleet) get credentials issued in memory from the tenant key, one per device
// (DeviceIssuer, cli/bench/device_credentials.h), so the relay sees distinct devices (its per-credential link limit
// stays at its default).
//
// Everything is stopped and removed by the destructor (children SIGTERM, then SIGKILL; the directory deleted),
// Ctrl-C included: the caller's signal handler only sets demo::InterruptFlag() and lets the stack unwind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cli/bench/daemons.h"
#include "cli/bench/device_credentials.h"
#include "cli/demo/process.h"
#include "crypto/keys.h"
#include "crypto/result.h"
#include "crypto/tls_context.h"
#include "runtime/net.h"
#include "tunnel/link/tls_link.h"

namespace strait::cli::bench {

// A relay in a network namespace (`strait bench ip`, cli/bench/netns_lab.h) instead of on loopback: started with
// `ip netns exec`, listening on the namespace's two addresses (its certificate names both), its /metrics on the
// namespace's loopback.
struct RelayNetns {
  std::string ns;
  std::string device_ip;     // the device port's address
  std::string connector_ip;  // the connector port's address
};

// The IP tunnel's two ends (LocalDeployment::IpTunnel): the connector in `connector_ns` carrying the tunnel on a TUN
// (routed mode, pool `pool`), its policy routing and allowing only `allow_cidr` (tcp, udp, icmp, every port); the
// device in `device_ns` with --tun.
struct IpTunnelOptions {
  std::string connector_ns;
  std::string device_ns;
  std::string allow_cidr;
  std::string pool = "100.96.0.0/16";
};

struct LocalDeploymentOptions {
  std::uint32_t relay_threads = 1;
  std::optional<RelayNetns> netns;          // nullopt: loopback, in this namespace
  std::optional<std::uint32_t> relay_cpu;  // pin every relay thread there; nullopt: not pinned
  std::chrono::seconds timeout{60};        // each child's start
};

// Devices on the app path (bulk --devices): a `strait device` process each.
inline constexpr std::uint32_t kMaxAppDevices = 16;

class LocalDeployment {
 public:
  // Makes the keys and starts the relay; prints nothing but errors.
  static Result<std::unique_ptr<LocalDeployment>, std::string> Start(const LocalDeploymentOptions& options);
  ~LocalDeployment();
  LocalDeployment(const LocalDeployment&) = delete;
  LocalDeployment& operator=(const LocalDeployment&) = delete;

  // The relay's device and connector ports, and its /metrics endpoint.
  const runtime::SocketAddress& relay_device() const { return relay_device_; }
  const runtime::SocketAddress& relay_connector() const { return relay_connector_; }
  const demo::HostPort& relay_metrics() const { return relay_metrics_; }
  pid_t relay_pid() const;
  std::uint32_t relay_threads() const { return options_.relay_threads; }
  const std::string& dir() const { return dir_; }

  // `count` simulated devices' link configurations (credentials issued now, valid 4 hours, subjects unique over
  // every call), checking the relay's credential as a device does. Valid while this deployment lives. Thread-safe.
  Result<std::vector<link::LinkConfig>, std::string> MakeDevices(std::uint32_t count);
  // The first of `count` device indices no other call has had: a worker process issues their credentials itself
  // from dir() (DeviceIssuer), so subjects stay unique across the workers. Thread-safe.
  std::uint32_t ReserveDevices(std::uint32_t count) { return next_device_.fetch_add(count); }

  // Kills the relay (SIGKILL: a crash, every link cut at once) and starts it again on the same ports, pinned as
  // before. Returns when it is ready again.
  Result<void, std::string> RestartRelay();

  // The app path, started at the first call and shared after: a connector whose policy allows 127.0.0.1 (every
  // port: the bench's own servers listen there, and the SOCKS5 door is on loopback, known to this process only),
  // linked to the relay and with a Direct Connect port on 127.0.0.1, and `n` devices (1..kMaxAppDevices) whose
  // sessions are up, each with a credential of its own (issued at first use). Returns their SOCKS5 doors. Thread-safe.
  Result<std::vector<demo::HostPort>, std::string> AppDoors(std::uint32_t n);

  // `n` other devices that reach the app path's connector by Direct Connect (no relay): `--baseline direct-connect`.
  // Starts the app path first if it is not up. Thread-safe.
  Result<std::vector<demo::HostPort>, std::string> DirectConnectDoors(std::uint32_t n);

  // The IP tunnel (root): started at the first call, shared after. Returns the device's "device tunnel up ..." line
  // (its address, MTU and routes).
  Result<std::string, std::string> IpTunnel(const IpTunnelOptions& options);

  // The relay's namespace ("" on loopback): where its /metrics is reached from.
  std::string relay_netns() const { return options_.netns ? options_.netns->ns : std::string(); }

  // A TLS server certificate from the deployment's CA (names localhost and 127.0.0.1) as one PEM file, certificate
  // then key (0600), for a baseline's TLS listeners; and the CA's PEM, which its TLS clients verify against.
  Result<std::string, std::string> MakeServerPem(const std::string& name);
  std::string ca_pem_path() const { return dir_ + "/ca/ca.pem"; }

  // Stops the children (SIGTERM, then SIGKILL after a grace). Idempotent; the destructor calls it.
  void Stop();

 private:
  explicit LocalDeployment(const LocalDeploymentOptions& o) : options_(o) {}
  Result<void, std::string> MakeKeys();
  Result<void, std::string> StartRelay();
  Result<void, std::string> StartConnectorLocked();  // app_mu_ held
  // Devices doors.size() .. n-1 of a kind ("device" through the relay, "device-dc" by Direct Connect); app_mu_ held.
  Result<void, std::string> AddDevicesLocked(std::vector<demo::HostPort>& doors, std::uint32_t n, bool direct);
  LocalDeploymentOptions options_;
  std::string dir_;
  std::unique_ptr<Daemons> daemons_;  // the relay first, then (AppDoor, IpTunnel) the connector and the device
  demo::ChildProcess* relay_ = nullptr;
  runtime::SocketAddress relay_device_;
  runtime::SocketAddress relay_connector_;
  demo::HostPort relay_metrics_;
  std::string device_port_arg_ = "127.0.0.1:0";     // fixed to the first start's ports for a restart
  std::string connector_port_arg_ = "127.0.0.1:0";
  std::mutex app_mu_;                               // AppDoor
  std::string direct_connect_;                      // the connector's Direct Connect address ("": not started)
  std::vector<demo::HostPort> app_doors_;           // guarded by app_mu_
  std::vector<demo::HostPort> direct_doors_;        // guarded by app_mu_
  std::optional<std::string> ip_tunnel_;            // the device's tunnel line; guarded by app_mu_
  std::atomic<std::uint32_t> next_device_{0};       // subjects bench-dev-<n> are unique across MakeDevices calls
  std::unique_ptr<DeviceIssuer> issuer_;
};

}  // namespace strait::cli::bench
