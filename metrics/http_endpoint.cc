#include "metrics/http_endpoint.h"

#include <array>
#include <cstdint>
#include <span>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>

#include <netinet/in.h>
#include <unistd.h>

#include "metrics/http_exchange.h"

namespace strait::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// One HTTP connection: read one request, answer, close. Bounded by a 5 s deadline. What it reads and answers is
// HttpExchange's business (http_exchange.h); this class only moves bytes.
class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  HttpConn(tcp::socket socket, const HttpEndpoint::Render* render) : stream_(std::move(socket)), exchange_(render) {}
  void Start() {
    stream_.expires_after(std::chrono::seconds(5));
    Read();
  }

 private:
  void Read() {
    stream_.async_read_some(asio::buffer(in_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->OnRead(ec, n);
    });
  }
  void OnRead(beast::error_code ec, std::size_t n) {
    HttpExchange::Status st = exchange_.status();
    if (n > 0) st = exchange_.Feed(std::span(in_).first(n));
    if (ec && st == HttpExchange::Status::kNeedMore) {
      if (ec != asio::error::eof) return;  // timeout, reset: no answer
      st = exchange_.FeedEof();
    }
    switch (st) {
      case HttpExchange::Status::kNeedMore: Read(); return;
      case HttpExchange::Status::kError: return;  // closed without an answer
      case HttpExchange::Status::kRespond: break;
    }
    asio::async_write(stream_, asio::buffer(exchange_.response()),
                      [self = shared_from_this()](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
                      });
  }

  beast::tcp_stream stream_;
  std::array<std::uint8_t, 4096> in_{};
  HttpExchange exchange_;  // its render callback is owned by the endpoint's Impl, which outlives every connection
};

}  // namespace

struct HttpEndpoint::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  Render render;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<HttpConn>(std::move(socket), &render)->Start();
      Accept();
    });
  }
};

runtime::SetupResult<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const runtime::SocketAddress& address,
                                                                         Render render) {
  std::unique_ptr<HttpEndpoint> server(new HttpEndpoint);
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.render = std::move(render);
  auto fd = runtime::ListenTcp(address, {.backlog = 64, .reuse_port = false});
  if (!fd.ok()) return fd.error();
  auto local = runtime::LocalAddress(*fd);
  if (!local.ok()) {
    ::close(*fd);
    return local.error();
  }
  server->address_ = *local;
  beast::error_code ec;
  const auto protocol = address.u.sa.sa_family == AF_INET6 ? tcp::v6() : tcp::v4();
  impl.acceptor.assign(protocol, *fd, ec);
  if (ec) {
    ::close(*fd);
    return runtime::SetupError{0, "metrics: " + ec.message()};
  }
  impl.Accept();
  server->thread_ = std::thread([&impl] { impl.io.run(); });
  return server;
}

HttpEndpoint::~HttpEndpoint() {
  if (impl_) {
    asio::post(impl_->io, [impl = impl_.get()] {
      beast::error_code ec;
      impl->acceptor.close(ec);
      impl->io.stop();
    });
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace strait::metrics
