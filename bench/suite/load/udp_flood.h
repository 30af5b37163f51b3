// The packets-per-second engine of `strait bench ip` (docs/bench.md §3): one UDP socket sending datagrams of a
// fixed size to a counter, at a fixed rate or as fast as the socket takes them, for a warm-up and a measured window.
//
// Every datagram starts with a 16-byte header: a magic, the run's id, and a sequence number whose top bit says
// "measured" (sent inside the window). UdpCounter counts, for the run it expects, the measured datagrams that
// arrive with the whole payload; anything else (another run, a short or foreign datagram) is counted apart and
// never mistaken for delivery. Loss = 1 - delivered / sent over the measured datagrams, after a drain.
//
// The sender runs on the caller's thread (so a caller that entered a network namespace sends from there); the
// counter has its own thread, started on the caller's (it inherits the caller's namespace; its socket is bound
// there). A send the kernel refuses (ENOBUFS, EAGAIN) is counted as send_errors and not as sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench/suite/results.h"
#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::bench {

inline constexpr std::uint32_t kUdpHeaderBytes = 16;
inline constexpr std::uint32_t kMaxUdpPayload = 1392;  // one packet at the IP tunnel's default MTU (1,420 - 28)
inline constexpr double kMaxUdpRate = 10'000'000;      // datagrams a second

// What the counter makes of one received datagram for run `run_id` (sans-I/O; fuzzed: fuzz/udp_datagram_fuzzer.cc):
// kMeasured only for a whole datagram (not `truncated`, 16..kMaxUdpPayload bytes) with the magic, the run's id and
// the measured bit; kWarmup for the same without the bit; anything else kForeign.
enum class DatagramKind : std::uint8_t { kForeign, kWarmup, kMeasured };
DatagramKind ClassifyDatagram(std::span<const unsigned char> datagram, bool truncated, std::uint32_t run_id);
// The 16-byte header the sender writes: magic, run id, sequence number (its top bit: measured).
void PutUdpHeader(unsigned char* p, std::uint32_t run_id, std::uint64_t seq, bool measured);

struct UdpFloodOptions {
  demo::HostPort to;            // an IPv4 literal
  std::uint32_t size = 64;      // payload bytes, kUdpHeaderBytes .. kMaxUdpPayload
  double rate = 0;              // datagrams a second, [0, kMaxUdpRate]; 0: as fast as the socket takes them
  std::uint32_t run_id = 0;     // what the counter expects (UdpCounter::Expect)
  double warmup_s = 1;          // [0, 3600]
  double seconds = 10;          // the measured window, (0, 3600]
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const TimelineSample&)> on_sample;  // each second of the window (ops = datagrams sent)
};

struct UdpFloodResult {
  std::uint64_t sent = 0;         // measured datagrams the kernel took
  std::uint64_t send_errors = 0;  // measured sends refused (ENOBUFS, EAGAIN, ...)
  double seconds = 0;             // the window as run
  std::vector<TimelineSample> timeline;
  bool stopped_early = false;
};

// Sends (see the header comment). Fails on bad options or when the socket cannot be made.
Result<UdpFloodResult, std::string> RunUdpFlood(const UdpFloodOptions& options);

class UdpCounter {
 public:
  // Binds a UDP socket on host:0 and starts the thread.
  static Result<std::unique_ptr<UdpCounter>, std::string> Start(const std::string& host);
  ~UdpCounter();  // Stop()
  UdpCounter(const UdpCounter&) = delete;
  UdpCounter& operator=(const UdpCounter&) = delete;

  std::uint16_t port() const { return port_; }
  // Counts from now on only `run_id`'s datagrams (the counts start again at 0).
  void Expect(std::uint32_t run_id);
  std::uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }  // measured, this run
  std::uint64_t delivered_bytes() const { return delivered_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t foreign() const { return foreign_.load(std::memory_order_relaxed); }  // not this run's, or malformed
  void Stop();

 private:
  UdpCounter() = default;
  void Loop();

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // Expect's reset and the loop's additions (a batch at a time) hold mu_, so a datagram of the previous run is never
  // counted in the new one. The counts are atomics so that readers need no lock.
  std::mutex mu_;
  std::atomic<std::uint32_t> run_id_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> delivered_bytes_{0};
  std::atomic<std::uint64_t> foreign_{0};
};

}  // namespace strait::bench
