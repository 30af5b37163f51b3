// NetnsLab: the four network namespaces of `strait bench ip` (docs/bench.md §3, the layout of bench/lib/netns4.sh),
// chained by veth pairs:
//
//   device ── 10.99.1.0/24 ── relay ── 10.99.2.0/24 ── connector ── 10.20.0.0/24 ── corp (.10 tunnel, .20 direct)
//
// Built with the `ip` command (iproute2). Names carry this process's PID ("strait-bench-<pid>-device"), so runs do
// not collide; a start first removes the namespaces of runs whose process is gone (killed, so nothing cleaned up).
// The destructor deletes the namespaces (their veths go with them; a process still inside keeps its namespace
// alive until it exits, so stop the children first).
//
// The bench's own sockets enter a namespace through RunIn: a fresh thread calls setns(CLONE_NEWNET) and runs the
// function; sockets keep the namespace they were made in, and threads started from that thread inherit it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/result.h"

namespace strait::cli::bench {

class NetnsLab {
 public:
  static constexpr const char* kDeviceIp = "10.99.1.2";
  static constexpr const char* kRelayDeviceSideIp = "10.99.1.1";
  static constexpr const char* kRelayConnectorSideIp = "10.99.2.1";
  static constexpr const char* kConnectorIp = "10.99.2.2";
  static constexpr const char* kConnectorCorpIp = "10.20.0.1";
  static constexpr const char* kCorpTunnelIp = "10.20.0.10";  // reached through the tunnel
  static constexpr const char* kCorpDirectIp = "10.20.0.20";  // reached by kernel routing (the direct baseline)

  // "" when this machine can build the lab, else why not (not root, no /dev/net/tun, no `ip`).
  static std::string Unavailable();

  // Builds the namespaces, veths and routes. Fails with the `ip` command's own words.
  static Result<std::unique_ptr<NetnsLab>, std::string> Create();
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  const std::string& device() const { return names_[0]; }
  const std::string& relay() const { return names_[1]; }
  const std::string& connector() const { return names_[2]; }
  const std::string& corp() const { return names_[3]; }

  // Corp routes `cidr` back to the connector (routed mode: the tunnel pool).
  Result<void, std::string> RouteToConnector(const std::string& cidr);

  // Runs fn on a new thread inside namespace `ns` and waits for it. Fails when the thread cannot enter it.
  static Result<void, std::string> RunIn(const std::string& ns, const std::function<void()>& fn);

  // The same for a function that returns Result<T, std::string>: its result, or why the namespace was not entered.
  template <typename F>
  static auto Call(const std::string& ns, F&& fn) -> decltype(fn()) {
    std::optional<decltype(fn())> out;
    if (auto r = RunIn(ns, [&] { out.emplace(fn()); }); !r) return Fail(r.error());
    return std::move(*out);
  }

 private:
  NetnsLab() = default;
  Result<void, std::string> Build();

  std::vector<std::string> names_;  // device, relay, connector, corp
  std::vector<std::string> made_;   // what the destructor deletes
};

// The `ip` binary's path ("" when there is none).
std::string IpCommandPath();

// Runs `ip` with `args` and waits at most 10 s (device::RunCommand: no shell, stderr kept for the error). Exposed for the lab's callers that add
// to it (a route for a baseline).
Result<void, std::string> RunIp(const std::vector<std::string>& args);

}  // namespace strait::cli::bench
