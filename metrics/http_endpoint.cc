#include "metrics/http_endpoint.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <netinet/in.h>
#include <unistd.h>

namespace strait::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// One HTTP connection: read one request, answer, close. Bounded by a 5 s deadline.
class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  HttpConn(tcp::socket socket, const HttpEndpoint::Render* render) : stream_(std::move(socket)), render_(render) {}
  void Start() {
    stream_.expires_after(std::chrono::seconds(5));
    parser_.body_limit(4096);
    parser_.header_limit(8192);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return;
    const auto& req = parser_.get();
    res_.version(req.version());
    res_.keep_alive(false);
    if (req.method() != http::verb::get) {
      res_.result(http::status::method_not_allowed);
      res_.body() = "GET only\n";
    } else {
      res_.result(http::status::ok);
      res_.set(http::field::content_type, "text/plain; version=0.0.4");
      res_.body() = (*render_)();
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
  const HttpEndpoint::Render* render_;  // owned by the endpoint's Impl, which outlives every connection
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
