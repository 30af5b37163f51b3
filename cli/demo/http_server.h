// The demo's "internal server" (also used by tests/e2e/): plain HTTP/1.1 on Boost.Beast, one io_context on its
// own thread, many keep-alive connections (the tests open 1,000 streams at once).
//
//   GET  /hello      200 "hello from the internal server\n"
//   GET  /bytes/N    200, N bytes of the deterministic stream (client.h FillPattern), N <= 16 MiB
//   GET  /stream/N   200, N bytes of the deterministic stream written 256 KiB at a time (N <= 2^40): long downloads
//   POST /sink       reads the body (any size up to max_body), answers "<bytes> <sha256 hex>\n"
//   anything else    404
//
// Bounds: max_connections open at once (further accepts are closed at once and counted), header block 16 KiB,
// /bytes N <= 16 MiB, /stream N <= 2^40, /sink body <= max_body. Not a hot path: allocation per request is fine here.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace strait::demo {

struct HttpServerOptions {
  std::string listen_ip = "127.0.0.1";
  uint16_t port = 0;                    // 0: any free port
  uint32_t max_connections = 4096;
  uint64_t max_body = 8ull << 30;
};

struct HttpServerStats {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> refused_connections{0};  // above max_connections
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bytes_in{0};             // /sink body bytes
  std::atomic<uint64_t> bytes_out{0};            // /stream body bytes written
};

class HttpServer {
 public:
  // Binds, listens and starts the server thread. nullptr and *error on failure.
  static std::unique_ptr<HttpServer> Start(const HttpServerOptions& options, std::string* error);
  // Stops: closes the listener and every connection, joins the thread.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }
  const HttpServerStats& stats() const { return stats_; }

  class Impl;

 private:
  HttpServer() = default;
  HttpServerStats stats_;  // outlives impl_
  uint16_t port_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strait::demo
