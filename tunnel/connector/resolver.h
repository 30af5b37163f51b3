// Resolver: name resolution for stream OPENs off the loop thread. getaddrinfo blocks, so a small pool of
// resolver threads serves a bounded queue; each result goes back to the loop that asked, as a Message posted to
// it (the loop then Take()s the finished results). Setup and per-stream-open cost only: never per packet.
//
//   loop:     Submit(token, name, port) ──▶ [bounded queue] ──▶ resolver thread: getaddrinfo
//   loop:  ◀── Post(Message{kind = message_kind}) ── results appended to the done list (under the mutex)
//   loop:     on that message (or any time): TakeDone(out) moves every finished result out
//
// Bounds: queue_limit pending names (Submit refuses beyond it: the caller answers the stream with RESET
// overloaded), max_addresses per result. Cancellation: a result whose token the caller forgot is simply dropped
// by the caller; a lookup already running is not interrupted (the caller's own timeout answers the stream).
//
// Threading: Submit and TakeDone are [loop] for one loop (any one thread at a time, in practice the loop's);
// the threads are joined by Stop() / the destructor, which wait for running getaddrinfo calls to return.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"
#include "tunnel/connector/ip_address.h"

namespace strait::connector {

struct ResolverOptions {
  std::uint32_t threads = 2;
  std::uint32_t queue_limit = 1024;   // names waiting for a thread
  std::uint32_t max_addresses = 8;    // addresses kept per name
  std::uint32_t message_kind = 0x52534c56;  // Message::kind of the wake-up posted to the loop ("RSLV")
};

struct ResolveResult {
  std::uint64_t token = 0;
  int error = 0;                      // 0, or the getaddrinfo EAI_* code
  std::vector<IpAddress> addresses;   // empty when error != 0 (or the name has no A/AAAA records)
};

class Resolver {
 public:
  // Starts the threads. `loop` receives the wake-up messages and must outlive the resolver.
  Resolver(runtime::EventLoop& loop, const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Queues a lookup of `name` (A and AAAA, TCP). False when the queue is full or the resolver is stopping.
  bool Submit(std::uint64_t token, std::string_view name);
  // Moves every finished result into `out` (appended). Returns how many.
  std::size_t TakeDone(std::vector<ResolveResult>& out);
  // Stops taking work, wakes the threads and joins them. Idempotent.
  void Stop();

  std::uint64_t submitted() const { return submitted_; }
  std::uint64_t refused() const { return refused_; }

 private:
  struct Job {
    std::uint64_t token;
    std::string name;
  };
  void Run();

  // Immutable after construction.
  runtime::EventLoop& loop_;
  const ResolverOptions options_;

  // Guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::vector<ResolveResult> done_;
  bool stopping_ = false;

  // Caller thread only.
  std::uint64_t submitted_ = 0;
  std::uint64_t refused_ = 0;

  std::vector<std::thread> threads_;
};

}  // namespace strait::connector
