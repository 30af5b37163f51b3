// Sequential request/response round trips, timed and summarised: the one ping-pong client loop behind
// `strait-pingpong client` (plain TCP) and `strait-app-load pingpong` (optionally through a SOCKS5 door), so both
// measure and report latency the same way. No I/O here: the caller's Exchange moves the bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace strait::bench {

// Sends all of `out`, then reads exactly `in.size()` bytes of echo into `in`. Returns why it failed; empty on success.
using Exchange = std::function<std::string(std::span<const std::uint8_t> out, std::span<std::uint8_t> in)>;

struct RoundTripOptions {
  std::size_t size = 64;     // bytes a message (1 or more)
  std::uint64_t count = 0;   // recorded round trips
  std::uint64_t warmup = 0;  // unrecorded round trips first
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  const std::atomic<bool>* stop = nullptr;  // checked after every round trip (a signal handler's flag)
};

struct RoundTrips {
  std::vector<std::int64_t> ns;  // the recorded round trips' durations, in order
  std::string error;             // empty if all warmup + count round trips completed and echoed correctly
};

// Runs warmup + count round trips one after another. Every message differs (its index in its first bytes), so a
// stale or misordered echo is caught; an echo that differs, an Exchange error, the deadline or `stop` ends the run
// with the error set and the durations recorded so far.
RoundTrips RunRoundTrips(const RoundTripOptions& options, const Exchange& exchange);

struct LatencySummary {
  std::uint64_t count = 0;
  double min_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0, mean_us = 0;
};

// Nearest-rank percentiles (the smallest sample with at least q of the samples at or below it), in microseconds.
// All zero for no samples.
LatencySummary Summarize(std::vector<std::int64_t> ns);

// The summary as JSON members, without braces, for the caller to put in its object:
// "count":N,"min_us":..,"p50_us":..,"p90_us":..,"p99_us":..,"p999_us":..,"max_us":..,"mean_us":.. (2 decimals).
std::string JsonMembers(const LatencySummary& s);

}  // namespace strait::bench
