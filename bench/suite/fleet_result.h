// What a device fleet (bench/suite/load/device_fleet.h) reports: its live progress and its result. Sans-I/O, in
// strait_bench_suite, so that a worker process's messages (worker_protocol.h) carry them without the data plane.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/suite/histogram.h"
#include "bench/suite/results.h"

namespace strait::bench {

// Once a second, on the loop thread.
struct FleetProgress {
  double t = 0;                 // seconds since the fleet started
  std::uint32_t target = 0;     // devices
  std::uint32_t up = 0;         // links up now
  std::uint32_t in_flight = 0;  // dialled, not up yet
  std::uint64_t logins = 0;     // logins completed so far
  std::uint64_t errors = 0;
  std::uint64_t login_p99_ns = 0;  // of the logins so far (over workers: the largest worker's, an upper bound)
  std::string phase;               // "logging in", "holding", "dropped: reconnecting", ...
  bool operator==(const FleetProgress&) const = default;
};

struct FleetResult {
  std::uint64_t logins = 0;    // logins completed (every phase)
  std::uint64_t errors = 0;    // dials or logins that failed, links that went down unasked
  std::uint64_t dials = 0;
  std::uint32_t peak_up = 0;
  Histogram login_ns;          // connect -> HELLO_ACK verified, every login
  Histogram recover_ns;        // kReconnect: each device's drop -> up again
  double window_s = 0;         // kStorm: first dial -> last login ended; kReconnect: drop -> every device back;
                               // kHold: first dial -> every link up
  std::vector<TimelineSample> timeline;  // per second since the start: logins (ops) and errors
  bool complete = false;       // the phase reached its goal (every link up / every login done / every device back)
  bool stopped = false;        // the stop flag ended it
  std::string last_error;      // the last failure seen, "" if none
  std::string tls_version;     // what the first link negotiated: "TLSv1.3"
  std::string cipher;          // "TLS_AES_128_GCM_SHA256"
  bool operator==(const FleetResult&) const = default;
};

// The fleets of several worker processes as one (their load ran at the same time, against one relay): counts and
// histograms add up; peak_up adds up (the workers hold their links at once); window_s is the longest; complete only
// if every part completed; stopped if any was; last_error the first part's that has one; the negotiated TLS the
// first part's that saw one. Timelines add up second by second (sample t rounded to the nearest second; at most
// kMaxTimelineSamples). Empty `parts`: an empty result.
FleetResult MergeFleetResults(const std::vector<FleetResult>& parts);

}  // namespace strait::bench
