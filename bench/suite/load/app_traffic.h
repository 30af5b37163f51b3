// The app traffic engines of `strait bench latency` and `strait bench bulk` (docs/bench.md §2): many TCP streams to
// an echo server or a sink (bench/suite/load/app_servers.h), through the device's SOCKS5 door (the strait side) or
// straight to the server (the direct baseline). Each run is one call on the caller's thread, which it keeps until
// the run ends: the streams are opened one after another (blocking, demo::Connection, every wait bounded by one
// deadline `timeout` away), then driven by one epoll loop on that thread. No thread per stream.
//
// A run: open the streams, a warm-up (traffic, not measured), the measured window, then (latency only) a drain of
// the requests still in flight, bounded by `timeout`. A stream that cannot be opened or fails later counts an error
// and the run goes on with the others; the stop flag ends the run at once with what was measured so far
// (stopped_early). Only bad options fail the call (the reason names the option).
//
// Latency (request/response): every request is `size` bytes of one constant byte, the echo returns them, and a
// stream's responses are matched to its requests in order (FIFO of the requests' times). A request is measured when
// its time (open loop: its intended send time, from the Pacer; closed loop: when it was sent) falls inside the
// measured window; sent, completed, dropped, late, unanswered and the histogram count measured requests only, so
// histogram.count() == completed and sent == completed + unanswered. Open loop: `rate` requests a second in total,
// a Pacer per stream with rate / connections (the streams' schedules staggered evenly inside one interval), latency
// from the intended send time (a stall shows as the queueing it caused: no coordinated omission), at most
// max_outstanding in flight per stream (beyond it a request is dropped: not sent, counted). Closed loop: one request
// in flight per stream, the next sent when the response is in, latency from the send.
//
// Bulk: every stream writes as fast as the socket takes it. Bytes are counted where they are written: what the
// client's send() calls accepted inside the measured window. The warm-up fills the buffers along the path (socket
// buffers, the device, relay and connector), so in the window the write rate is the rate the far end takes bytes at;
// the two differ by at most what the path buffers at the window's edges. (The in-process sink also counts what it
// received: AppServer::bytes_received, for a cross-check.)
//
// Timeline: one sample a second of the measured window (t = seconds since the window opened, at the end of the
// sample; the last one may be shorter; at most kMaxTimelineSamples): latency: ops = measured requests completed in
// that second, bytes = their response bytes; bulk: ops = 0, bytes = bytes written in that second; errors = stream
// failures in that second. Bulk's samples sum to `bytes` exactly (the same writes, bucketed by time). Latency's sum
// to `completed` less the completions that came in during the drain (they are in the histogram, not the timeline).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/suite/histogram.h"
#include "bench/suite/results.h"
#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::bench {

inline constexpr std::uint32_t kMaxTrafficStreams = 4096;       // latency connections, bulk streams
inline constexpr std::uint32_t kMaxRequestBytes = 65536;        // latency request size
inline constexpr std::uint32_t kMaxOutstandingLimit = 1 << 20;  // max_outstanding per stream
inline constexpr std::uint64_t kMaxOutstandingTotal = 1 << 22;  // connections x max_outstanding: 32 MiB of send times
inline constexpr double kMaxRequestRate = 10'000'000;           // requests a second, in total
inline constexpr double kMaxTrafficSeconds = 3600;              // warm-up, window and timeout, each

// Where the streams go: `target` as the far side dials it (the echo or sink server: behind the connector for the
// strait side, the server itself for direct). With `doors` (SOCKS5 doors, a device each), stream i is a SOCKS5
// CONNECT through doors[i % doors.size()] to target.host:target.port (a literal or a name); without, a TCP connect
// to target (an IP literal).
struct TrafficTarget {
  demo::HostPort target;
  std::vector<demo::HostPort> doors;
};

// Called on the run's thread with each timeline sample once its second is over (the last, possibly shorter one at
// the end of the run), for a live progress line. It must not block.
using OnTimelineSample = std::function<void(const TimelineSample&)>;

struct LatencyOptions {
  TrafficTarget to;
  std::uint32_t connections = 8;         // 1 .. kMaxTrafficStreams
  std::uint32_t size = 64;               // request (and response) bytes, 1 .. kMaxRequestBytes
  bool closed = false;                   // closed loop; `rate` and `max_outstanding` then unused
  double rate = 1000;                    // open loop: requests a second in total, (0, kMaxRequestRate]
  std::uint32_t max_outstanding = 1024;  // open loop: in flight per stream, 1 .. kMaxOutstandingLimit
  double warmup_s = 1;                   // [0, kMaxTrafficSeconds]
  double seconds = 10;                   // the measured window, (0, kMaxTrafficSeconds]
  double timeout_s = 60;                 // opening all streams; and the drain after the window, (0, kMaxTrafficSeconds]
  std::uint64_t late_after_ns = 1'000'000;  // open loop: a request sent this long after its intended time is late
  const std::atomic<bool>* stop = nullptr;  // set (from any thread, e.g. a signal handler) to end the run early
  OnTimelineSample on_sample;               // optional: each timeline sample when its second is over (progress)
  // optional: the same, with the latency histogram so far (on the engine's thread, which records into it)
  std::function<void(const TimelineSample&, const Histogram&)> on_progress;
};

struct LatencyResult {
  Histogram histogram;            // ns, one value per completed measured request
  std::uint64_t sent = 0;         // measured requests sent
  std::uint64_t completed = 0;    // ... answered (== histogram.count())
  std::uint64_t dropped = 0;      // open loop: measured requests not sent, max_outstanding in flight (Pacer)
  std::uint64_t late = 0;         // open loop: measured requests sent late_after_ns or more after their intended time
  std::uint64_t unanswered = 0;   // measured requests sent but not answered: stream failed, drain timed out, stop
  std::uint64_t errors = 0;       // streams that failed to open or failed later
  std::uint32_t streams_up = 0;   // streams opened
  double seconds = 0;             // the measured window as run (shorter when stopped early)
  double achieved_rate = 0;       // completed / seconds
  std::vector<TimelineSample> timeline;
  bool stopped_early = false;     // the stop flag ended the run
  std::string first_error;        // the first stream failure's reason, empty if none
};

struct BulkOptions {
  TrafficTarget to;
  std::uint32_t streams = 4;  // 1 .. kMaxTrafficStreams
  double warmup_s = 1;        // [0, kMaxTrafficSeconds]
  double seconds = 10;        // the measured window, (0, kMaxTrafficSeconds]
  double timeout_s = 60;      // opening all streams, (0, kMaxTrafficSeconds]
  const std::atomic<bool>* stop = nullptr;
  OnTimelineSample on_sample;
};

struct BulkResult {
  std::uint64_t bytes = 0;             // written by all streams inside the measured window
  double seconds = 0;                  // the measured window as run
  double bytes_per_s = 0;              // bytes / seconds
  std::uint64_t min_stream_bytes = 0;  // over the streams that were opened (a failed one counts what it wrote)
  std::uint64_t max_stream_bytes = 0;
  std::vector<std::uint64_t> stream_bytes;  // per opened stream, in the window
  std::uint64_t errors = 0;            // streams that failed to open or failed later
  std::uint32_t streams_up = 0;
  std::vector<TimelineSample> timeline;
  bool stopped_early = false;
  std::string first_error;
};

// Run one latency or bulk run (see the header comment). Fails only on bad options.
Result<LatencyResult, std::string> RunLatency(const LatencyOptions& options);
Result<BulkResult, std::string> RunBulk(const BulkOptions& options);

}  // namespace strait::bench
