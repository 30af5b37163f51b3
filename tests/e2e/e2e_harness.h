// Cross-process test harness: real `strait relay`, `strait connector` and `strait device` processes on loopback,
// identities made with `strait keys` in a per-test temp dir, an in-process internal HTTP server
// (cli/demo/http_server.h) and the demo's SOCKS5/HTTP client (cli/demo/client.h).
//
// Every wait is on a child's output line or exit, or on a socket, with a generous deadline; nothing sleeps.
// TearDown stops every child (SIGTERM, then SIGKILL) and removes the temp dir.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/demo/client.h"
#include "cli/demo/http_server.h"
#include "cli/demo/process.h"

namespace strait::e2e {

using demo::ChildProcess;
using demo::Clock;
using demo::HostPort;

// Deadlines: generous, because the sanitizer build on two loaded cores is slow. They turn a hang into a failure.
inline constexpr std::chrono::seconds kStartDeadline{30};
inline constexpr std::chrono::seconds kIoDeadline{30};

struct Relay {
  ChildProcess* process = nullptr;
  HostPort device;     // device port
  HostPort connector;  // connector port
};

struct Connector {
  ChildProcess* process = nullptr;
  std::string id;
  std::optional<HostPort> direct;
  std::size_t cursor = 0;  // stdout lines consumed so far
};

struct Device {
  ChildProcess* process = nullptr;
  HostPort socks;
  std::size_t cursor = 0;
};

// The value of the Prometheus sample whose name (with its labels) is exactly `sample`, or nullopt.
std::optional<std::uint64_t> SampleValue(const std::string& text, const std::string& sample);
// GET /metrics from `at`; the body, or on failure (*ok false) the error text.
std::string ScrapeMetrics(const HostPort& at, bool* ok);

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // `strait <args...>` to completion (exit 0 expected).
  void RunStrait(const std::vector<std::string>& args);
  // <dir>/root + <dir>/tls-ca + a relay identity for localhost/127.0.0.1 (once per test).
  void MakeOperator();
  // A tenant directory (once per tenant) and an identity bundle of `role` for it. Returns the bundle dir.
  std::string MakeIdentity(const std::string& role, const std::string& tenant, const std::string& subject);
  // A policy file allowing the internal server by address and by name.
  std::string MakePolicy();

  // `threads` shards.
  Relay StartRelay(int threads = 1);
  // `extra` flags are appended to the command line.
  Connector StartConnector(const std::string& identity, const std::vector<HostPort>& relays,
                           bool direct_listen = false, const std::vector<std::string>& extra = {});
  // Waits until the connector reports a relay link up.
  void WaitConnectorLinkUp(Connector& c);
  // `extra` flags are appended to the command line.
  Device StartDevice(const std::string& identity, const std::optional<HostPort>& relay,
                     const std::optional<HostPort>& direct = std::nullopt,
                     const std::vector<std::string>& extra = {});
  // Waits for the next "device session up" line; returns it.
  std::string WaitSessionUp(Device& d, std::chrono::seconds within = kStartDeadline);

  // GET /hello through the device's SOCKS5 door. Empty string on success, else the error.
  std::string FetchHello(const Device& d, const std::string& host);

  Clock::time_point Deadline(std::chrono::seconds s = kIoDeadline) const { return Clock::now() + s; }
  ChildProcess* Spawn(const std::string& name, const std::vector<std::string>& args);
  uint16_t http_port() const { return http_->port(); }

  std::string dir_;
  std::unique_ptr<demo::HttpServer> http_;
  std::vector<std::unique_ptr<ChildProcess>> children_;
  int spawned_ = 0;
};

}  // namespace strait::e2e
