#include "cli/demo/http_server.h"

#include <charconv>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "cli/demo/client.h"

namespace strait::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxBytesPath = 16ull << 20;
constexpr uint64_t kMaxStreamPath = 1ull << 40;
constexpr std::size_t kBodyChunk = 256 * 1024;
constexpr uint32_t kHeaderLimit = 16 * 1024;

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& o, HttpServerStats& stats) : options_(o), stats_(stats), acceptor_(ioc_) {}

  // Declared before ioc_ so they outlive the sessions the io_context destroys.
  HttpServerOptions options_;
  HttpServerStats& stats_;
  uint32_t open_ = 0;  // io thread only
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;

  void Accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server) : socket_(std::move(socket)), server_(server) {
    ++server_.open_;
    body_.resize(kBodyChunk);
  }
  ~Session() { --server_.open_; }

  void Start() { ReadHeader(); }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(server_.options_.max_body);
    http::async_read_header(socket_, flat_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) return;  // EOF between requests, or a broken client: just close
                              self->OnHeader();
                            });
  }

  void OnHeader() {
    server_.stats_.requests.fetch_add(1, std::memory_order_relaxed);
    auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    keep_alive_ = req.keep_alive();
    if (req.method() == http::verb::post && target == "/sink") {
      sha_.emplace();
      sink_bytes_ = 0;
      // Beast reads at most the flat buffer's free capacity (>= 512 B) per read_some: without room the upload
      // is read ~500 bytes per recv. Give it room for 64 KiB reads.
      flat_.reserve(64 * 1024);
      if (parser_->is_done()) return Respond(200, fmt::format("0 {}\n", Sha256::Hex(sha_->Final())));
      return ReadBody();
    }
    if (!parser_->is_done()) return Respond(400, "unexpected request body\n", /*close=*/true);
    if (req.method() == http::verb::get && target == "/hello") {
      return Respond(200, "hello from the internal server\n");
    }
    if (req.method() == http::verb::get && target.starts_with("/bytes/")) {
      auto n = ParseUint(target.substr(7));
      if (!n || *n > kMaxBytesPath) return Respond(400, "N must be 0..16777216\n");
      std::string body(static_cast<std::size_t>(*n), '\0');
      FillPattern(0, std::span(reinterpret_cast<uint8_t*>(body.data()), body.size()));
      return Respond(200, std::move(body));
    }
    if (req.method() == http::verb::get && target.starts_with("/stream/")) {
      auto n = ParseUint(target.substr(8));
      if (!n || *n > kMaxStreamPath) return Respond(400, "N must be 0..2^40\n");
      return StartStream(*n);
    }
    Respond(404, "not found\n");
  }

  void ReadBody() {
    parser_->get().body().data = body_.data();
    parser_->get().body().size = body_.size();
    http::async_read_some(socket_, flat_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (ec == http::error::need_buffer) ec = {};
                            if (ec) return;
                            const std::size_t got = self->body_.size() - self->parser_->get().body().size;
                            self->sha_->Update(std::span(self->body_).first(got));
                            self->sink_bytes_ += got;
                            self->server_.stats_.bytes_in.fetch_add(got, std::memory_order_relaxed);
                            if (self->parser_->is_done()) {
                              self->Respond(200, fmt::format("{} {}\n", self->sink_bytes_,
                                                             Sha256::Hex(self->sha_->Final())));
                            } else {
                              self->ReadBody();
                            }
                          });
  }

  // GET /stream/N: the header, then N bytes of the pattern written kBodyChunk at a time, so a long download costs
  // one chunk of memory however large N is.
  void StartStream(uint64_t n) {
    stream_left_ = n;
    stream_offset_ = 0;
    stream_head_ = fmt::format(
        "HTTP/1.1 200 OK\r\nServer: strait-demo-internal\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: {}\r\n{}\r\n",
        n, keep_alive_ ? "" : "Connection: close\r\n");
    asio::async_write(socket_, asio::buffer(stream_head_), [self = shared_from_this()](beast::error_code ec,
                                                                                      std::size_t) {
      if (!ec) self->WriteStreamChunk();
    });
  }

  void WriteStreamChunk() {
    if (stream_left_ == 0) return AfterResponse();
    const std::size_t n = static_cast<std::size_t>(std::min<uint64_t>(stream_left_, body_.size()));
    FillPattern(stream_offset_, std::span(body_).first(n));
    stream_offset_ += n;
    stream_left_ -= n;
    server_.stats_.bytes_out.fetch_add(n, std::memory_order_relaxed);
    asio::async_write(socket_, asio::buffer(body_.data(), n),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (!ec) self->WriteStreamChunk();
                      });
  }

  void AfterResponse() {
    if (!keep_alive_) {
      beast::error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    ReadHeader();
  }

  void Respond(unsigned status, std::string body, bool close = false) {
    if (close) keep_alive_ = false;
    res_ = {};
    res_.result(status);
    res_.version(11);
    res_.set(http::field::server, "strait-demo-internal");
    res_.set(http::field::content_type, status == 200 && body.size() > 64 ? "application/octet-stream" : "text/plain");
    res_.keep_alive(keep_alive_);
    res_.body() = std::move(body);
    res_.prepare_payload();
    http::async_write(socket_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->AfterResponse();
    });
  }

  tcp::socket socket_;
  HttpServer::Impl& server_;
  beast::flat_buffer flat_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  http::response<http::string_body> res_;
  std::vector<uint8_t> body_;
  std::optional<Sha256> sha_;
  uint64_t sink_bytes_ = 0;
  std::string stream_head_;
  uint64_t stream_left_ = 0;
  uint64_t stream_offset_ = 0;
  bool keep_alive_ = true;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      if (open_ >= options_.max_connections) {
        stats_.refused_connections.fetch_add(1, std::memory_order_relaxed);
      } else {
        stats_.connections.fetch_add(1, std::memory_order_relaxed);
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), *this)->Start();
      }
    }
    Accept();
  });
}

std::unique_ptr<HttpServer> HttpServer::Start(const HttpServerOptions& options, std::string* error) {
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->impl_ = std::make_unique<Impl>(options, s->stats_);
  Impl& impl = *s->impl_;
  beast::error_code ec;
  const auto ip = asio::ip::make_address(options.listen_ip, ec);
  if (ec) {
    *error = fmt::format("internal server: bad address {}: {}", options.listen_ip, ec.message());
    return nullptr;
  }
  const tcp::endpoint ep(ip, options.port);
  impl.acceptor_.open(ep.protocol(), ec);
  if (!ec) impl.acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor_.bind(ep, ec);
  if (!ec) impl.acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = fmt::format("internal server: listen on {}:{}: {}", options.listen_ip, options.port, ec.message());
    return nullptr;
  }
  s->port_ = impl.acceptor_.local_endpoint().port();
  impl.Accept();
  impl.thread_ = std::thread([&impl] { impl.ioc_.run(); });
  return s;
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  asio::post(impl_->ioc_, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor_.close(ignored);
    impl->ioc_.stop();
  });
  if (impl_->thread_.joinable()) impl_->thread_.join();
  // Destroying the io_context destroys the pending handlers, hence the sessions and their sockets.
}

}  // namespace strait::demo
