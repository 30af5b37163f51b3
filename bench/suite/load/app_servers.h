// The far ends of `strait bench latency` and `strait bench bulk` (docs/bench.md §2): in-process loopback servers,
// each on its own thread with one epoll loop, started on an ephemeral port the caller reads back.
//
//   echo  every byte a connection sends comes back on it, in order (the latency scenario's server)
//   sink  every byte is read and thrown away, counted (the bulk scenario's server)
//
// Bounds (docs/bench.md §7): at most max_connections open at once (a connection beyond it is accepted and closed at
// once, counted as refused); an echo connection holds at most buffer_bytes not yet echoed, and stops reading while
// its buffer is full (the sender is slowed by TCP, nothing grows); the sink reads into one shared buffer.
//
// Thread-safety: Start, Stop and the destructor from one owning thread; the counters from any thread (relaxed
// atomics, written by the server's thread only).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "cli/demo/process.h"
#include "crypto/result.h"

namespace strait::bench {

enum class AppServerKind : std::uint8_t { kEcho, kSink };

struct AppServerOptions {
  AppServerKind kind = AppServerKind::kEcho;
  std::string host = "127.0.0.1";       // an IPv4 literal; the port is always 0 (the kernel picks one)
  std::uint32_t max_connections = 4096;  // open at once, 1 .. 65536
  std::uint32_t buffer_bytes = 16384;    // echo: not-yet-echoed bytes per connection, 1 KiB .. 16 MiB
};

class AppServer {
 public:
  // Binds, listens and starts the thread. Fails (with the reason) on a bad option or a socket error.
  static Result<std::unique_ptr<AppServer>, std::string> Start(const AppServerOptions& options);

  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;
  ~AppServer();  // Stop()

  // Wakes the loop, which closes every connection and the listener, and joins the thread: returns within one
  // loop turn (the loop does a bounded amount of work a turn and wakes at least every 100 ms). Idempotent.
  void Stop();

  // The bound address: host as given, the port the kernel picked.
  const demo::HostPort& address() const { return address_; }
  std::uint16_t port() const { return address_.port; }

  std::uint64_t bytes_received() const { return bytes_received_.load(std::memory_order_relaxed); }
  std::uint64_t bytes_sent() const { return bytes_sent_.load(std::memory_order_relaxed); }  // 0 for the sink
  std::uint64_t connections_accepted() const { return accepted_.load(std::memory_order_relaxed); }
  std::uint64_t connections_refused() const { return refused_.load(std::memory_order_relaxed); }
  std::uint32_t connections_open() const { return open_.load(std::memory_order_relaxed); }

 private:
  AppServer() = default;
  void Loop();

  // Immutable after Start.
  AppServerOptions options_;
  demo::HostPort address_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: Stop() writes it

  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Written by the loop thread only.
  std::atomic<std::uint64_t> bytes_received_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint32_t> open_{0};
};

}  // namespace strait::bench
