// strait-control's HTTPS server (docs/control-plane.md §1 http/, §8): Boost.Beast HTTP/1.1 over OpenSSL 3, TLS 1.3
// only. It moves bytes and enforces the transport's bounds; what a request means is the Handler's business.
//
//   io threads (Options::io_threads, one io_context): accept, TLS, header and body reads, response writes.
//   pool threads (Options::pool_threads): Handler::Handle, which may block on the store. The pool's queue is bounded
//   (Options::pool_queue); a request beyond it is answered by Handler::ServerProblem(kOverloaded) on the io thread.
//
// Bounds, each answered before any work is spent on what is beyond it:
//   connections   Options::max_connections; a further accept is closed at once (counted: refused_connections)
//   handshake + the first request's headers   Options::header_timeout (10 s); later requests' headers
//                 Options::idle_timeout (60 s, the keep-alive idle bound); a timeout closes the connection
//   headers       Options::header_limit bytes (8 KiB) and Options::max_header_fields (64) -> 431, then close
//   body          Handler::BodyLimit(method, path) bytes; a Content-Length beyond it -> 413 before the body is read,
//                 a chunked body that grows beyond it -> 413 at that point; then close. Options::body_timeout (30 s)
//                 -> 408, then close
//   pipelining    one request at a time per connection: the next is not read before the answer is written
// `Expect: 100-continue` is answered once the limits pass, so curl does not wait a second before each large body.
//
// Thread-safety: Start/Stop from one thread; counters() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "control-plane/http/message.h"
#include "crypto/result.h"

namespace strait::control::http {

// Problems the server raises itself, before or instead of the handler.
enum class ServerProblem : uint8_t {
  kBodyTooLarge,        // 413 (max: the route's limit)
  kHeadersTooLarge,     // 431
  kRequestTimeout,      // 408
  kOverloaded,          // 503, Retry-After: 1
  kInternal,            // 500: the handler threw
};

class Handler {
 public:
  virtual ~Handler() = default;
  // [io] The most body bytes this route accepts. Called once the headers are read.
  virtual size_t BodyLimit(std::string_view method, std::string_view path) const = 0;
  // [pool] The answer. May block on the store; must not touch the network. An exception becomes kInternal.
  virtual Response Handle(const Request& request) = 0;
  // [io or pool] The answer to a problem the server raised (`limit` is the body limit for kBodyTooLarge).
  virtual Response Problem(ServerProblem problem, const Request& request, size_t limit) const = 0;
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // IPv4 or [IPv6]:port
  std::string cert_pem;                // leaf first, then the chain
  std::string key_pem;                 // PKCS#8
  int io_threads = 2;
  int pool_threads = 4;
  size_t pool_queue = 1024;
  size_t max_connections = 1024;
  size_t header_limit = 8 * 1024;
  size_t max_header_fields = 64;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds drain_timeout{5'000};  // Stop(): in-flight requests get this long to finish
};

struct ServerCounters {
  std::atomic<uint64_t> connections{0};          // accepted and kept
  std::atomic<uint64_t> refused_connections{0};  // beyond max_connections
  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> overloaded{0};
  std::atomic<uint64_t> internal_errors{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> too_large{0};  // 413 and 431
  std::atomic<int64_t> open_connections{0};
};

enum class ServerError : uint8_t { kBadListen, kTls, kBind };
using ServerResultError = Error<ServerError>;

class Session;

class Server {
 public:
  Server(ServerOptions options, Handler* handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS pair, binds and starts the threads. Returns once listening.
  Result<void, ServerResultError> Start();
  // The bound address ("127.0.0.1:8443"), valid after Start.
  std::string local_address() const;
  // Stops accepting, lets in-flight requests finish (drain_timeout), closes every connection, joins the threads.
  void Stop();

  const ServerCounters& counters() const;

 private:
  friend class Session;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strait::control::http
