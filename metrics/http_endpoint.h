// A small metrics endpoint: plain HTTP/1.1 (Boost.Beast) on its own thread. Each GET (any path) is answered 200
// with `text/plain; version=0.0.4` and the text the render callback returns; anything else is 405. One request per
// connection, each bounded by a 5 s deadline. What a connection's bytes get as an answer is decided by
// HttpExchange (http_exchange.h, no I/O: the head's bound, no body); this class moves the bytes. Beast stays in the
// .cc files: this header pulls in no Asio.
//
// The render callback runs on the endpoint's thread, once per request. It must not read loop-owned state: it reads a
// copy the owning loop published (under a mutex, once per interval), as relay::Relay::Snapshot and
// connector::MetricsPublisher::Latest do.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "runtime/net.h"
#include "runtime/setup_error.h"

namespace strait::metrics {

using runtime::IsLoopback;  // daemons bind their metrics port only on loopback

class HttpEndpoint {
 public:
  using Render = std::function<std::string()>;

  // Listens on `address` (port 0 picks one; see address()) and starts the thread. The caller checks the address
  // policy (IsLoopback); this class binds whatever it is given. Errors: the listen failed.
  static runtime::SetupResult<std::unique_ptr<HttpEndpoint>> Start(const runtime::SocketAddress& address,
                                                                    Render render);
  ~HttpEndpoint();  // stops accepting and joins the thread (a request in progress is abandoned)
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  const runtime::SocketAddress& address() const { return address_; }  // the bound address

 private:
  struct Impl;
  HttpEndpoint() = default;

  // Immutable after Start.
  std::unique_ptr<Impl> impl_;  // Asio state; touched only by the thread (and the destructor's post)
  runtime::SocketAddress address_;
  std::thread thread_;
};

}  // namespace strait::metrics
