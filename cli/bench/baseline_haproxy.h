// The haproxy baseline of `strait bench latency|bulk --baseline haproxy` (docs/bench.md §2): the same path shape as
// the relay's, with TLS on both legs, from the config shipped in bench/app/haproxy-tls.cfg (compiled in, so an
// installed binary needs no source tree):
//
//   client -> haproxy in -TLS-> HAPROXY MID -TLS-> haproxy out -> server        (strait: device -> RELAY -> connector)
//
// The mid process is the relay's counterpart: it terminates TLS and re-originates it, and it is the one whose CPU
// is measured and which is pinned to the relay's CPU. Each process is a child (demo::ChildProcess: stopped and
// reaped by the destructor); readiness is a TCP connect to its port, bounded by the timeout.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::cli::bench {

struct HaproxyChainOptions {
  std::string dir;          // where the configs and stderr files go (the deployment's private directory)
  std::string server_pem;   // certificate + key for the TLS listeners (mid, out)
  std::string ca_pem_path;  // the CA the TLS clients (in, mid) verify against, name "localhost"
  std::uint16_t target_port = 0;           // the server on 127.0.0.1
  std::optional<std::uint32_t> mid_cpu;    // pin the mid process here (the relay's CPU)
  std::chrono::seconds timeout{30};
};

class HaproxyChain {
 public:
  static Result<std::unique_ptr<HaproxyChain>, std::string> Start(const HaproxyChainOptions& options);
  ~HaproxyChain();
  HaproxyChain(const HaproxyChain&) = delete;
  HaproxyChain& operator=(const HaproxyChain&) = delete;

  std::uint16_t port() const { return in_port_; }  // where clients connect (plain TCP)
  pid_t mid_pid() const;
  const std::string& version() const { return version_; }  // "HAProxy version 2.6.12-1+deb12u2 ..."

 private:
  HaproxyChain() = default;
  Result<std::uint16_t, std::string> StartOne(const HaproxyChainOptions& o, const std::string& name,
                                              std::uint16_t target, bool tls_in, bool tls_out);

  std::string exe_;
  std::string version_;
  std::vector<std::unique_ptr<demo::ChildProcess>> children_;  // out, mid, in
  std::uint16_t in_port_ = 0;
};

// The shipped config with its placeholders filled in (exposed for the test).
std::string RenderHaproxyConfig(std::uint16_t listen_port, std::uint16_t target_port, const std::string& bind_tls,
                                const std::string& server_tls);

}  // namespace strait::cli::bench
