// DeviceFleet: many simulated devices, each an authenticated device link to a relay (strait_link's TlsLink as a
// client, the code a real device runs), all on one io_uring loop on the calling thread. It drives the link-level
// scenarios of `strait bench` (docs/bench.md §2):
//
//   kHold       bring `devices` links up (at most `parallel` logins in flight), call on_all_up, hold them idle
//               for `hold` (the links answer keepalives), then close them all            -> idle
//   kStorm      `devices` logins, `parallel` in flight; each link is aborted as soon as it is up; a failed
//               login is counted, not retried                                             -> logins
//   kReconnect  as kHold, then after `hold` every link is dropped at once (`drop`, or an abort of each link
//               by the fleet); every device dials again at once (bounded by `parallel`) until all are back,
//               a failed dial retried after a short jittered backoff                      -> reconnect
//
// Device i logs in with devices[i % devices.size()] (its credential and key: one LinkConfig per simulated
// device, so that the relay's per-credential link limit sees distinct devices) from sources[i % sources.size()]
// (local addresses in 127.0.0.0/8 with port 0; none: the kernel's choice), which spreads a population over more
// than one source address's ports.
//
// Bounds: every phase ends by `timeout`; dials are bounded (kHold: 3 per device; kReconnect: 50 per device); the
// timeline holds one sample a second, at most kMaxTimelineSamples; the stop flag is polled every 50 ms. Memory is
// one slot (a TlsLink while dialled or up) per device. A process may hold at most about 19,000 links (the machine's
// 20,000 open files); the caller bounds `devices` (worker processes spread larger populations: cli/bench/workers.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "bench/suite/fleet_result.h"
#include "crypto/result.h"
#include "runtime/net.h"
#include "tunnel/link/tls_link.h"

namespace strait::bench {

enum class FleetMode : std::uint8_t { kHold, kStorm, kReconnect };

struct FleetOptions {
  FleetMode mode = FleetMode::kHold;
  runtime::SocketAddress relay;
  std::vector<runtime::SocketAddress> sources;  // local addresses to connect from (port 0); empty: kernel's choice
  std::uint32_t devices = 1;
  std::uint32_t parallel = 64;          // logins in flight at once
  std::chrono::milliseconds hold{0};    // kHold: how long to hold once all are up; kReconnect: before the drop
  std::chrono::milliseconds timeout{60000};  // for each phase: every link up, every login done, every device back
  const std::atomic<bool>* stop = nullptr;   // set from a signal handler: the fleet ends early (partial figures)
  // kHold, kReconnect: when set, the hold ends once *release is true instead of after `hold` (a worker process's
  // parent decides when all its workers' links have been held long enough: cli/bench/workers.h).
  const std::atomic<bool>* release = nullptr;
  // Loop thread. kHold: once every link is up, before the hold (the caller reads the relay's RSS here).
  std::function<void()> on_all_up;
  // Loop thread. kHold: at the end of the hold, the links still up (the caller reads the relay's RSS again here).
  std::function<void()> on_hold_end;
  // Loop thread. kReconnect: drops every link (a relay restart); empty: the fleet aborts each link itself.
  std::function<void()> drop;
  std::function<void(const FleetProgress&)> on_progress;
};

// Runs one phase plan on a new event loop on the calling thread. Fails (without running) only on bad options or
// when the loop cannot be created; a run that did not reach its goal returns complete = false with last_error.
Result<FleetResult, std::string> RunFleet(const FleetOptions& options, std::span<const link::LinkConfig> devices);

}  // namespace strait::bench
