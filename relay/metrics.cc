#include "relay/metrics.h"

// g++ 12 reports a false "potential null pointer dereference" inside Boost.Asio's scheduler (scheduler.ipp) once
// inlined; this file is the only one that includes Asio, so it opts out of that one warning for the whole TU.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wnull-dereference"
#endif

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <fmt/format.h>

namespace strait::relay {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

void MetricsSnapshot::Add(const MetricsSnapshot& o) {
  device_links += o.device_links;
  connector_links += o.connector_links;
  handshakes_in_flight += o.handshakes_in_flight;
  sessions += o.sessions;
  cross_queue_bytes += o.cross_queue_bytes;
  paused_links += o.paused_links;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  frames_forwarded += o.frames_forwarded;
  frames_cross_shard += o.frames_cross_shard;
  sessions_opened += o.sessions_opened;
  sessions_closed += o.sessions_closed;
  goaway_sent += o.goaway_sent;
  for (std::size_t i = 0; i < handshakes.size(); ++i) handshakes[i] += o.handshakes[i];
  for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += o.drops[i];
}

std::string RenderPrometheus(const MetricsSnapshot& s) {
  std::string out;
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("strait_relay_links", "gauge", "Logged-in links by role.");
  out += fmt::format("strait_relay_links{{role=\"device\"}} {}\n", s.device_links);
  out += fmt::format("strait_relay_links{{role=\"connector\"}} {}\n", s.connector_links);
  metric("strait_relay_handshakes_in_flight", "gauge", "Logins in progress.");
  out += fmt::format("strait_relay_handshakes_in_flight {}\n", s.handshakes_in_flight);
  metric("strait_relay_handshakes_total", "counter", "Finished logins by result.");
  for (std::size_t i = 0; i < kHandshakeResultCount; ++i) {
    out += fmt::format("strait_relay_handshakes_total{{result=\"{}\"}} {}\n", kHandshakeResultNames[i],
                       s.handshakes[i]);
  }
  metric("strait_relay_sessions", "gauge", "Live sessions.");
  out += fmt::format("strait_relay_sessions {}\n", s.sessions);
  metric("strait_relay_sessions_opened_total", "counter", "Sessions offered to devices.");
  out += fmt::format("strait_relay_sessions_opened_total {}\n", s.sessions_opened);
  metric("strait_relay_sessions_closed_total", "counter", "Sessions ended (either side, or a link gone).");
  out += fmt::format("strait_relay_sessions_closed_total {}\n", s.sessions_closed);
  metric("strait_relay_bytes_in_total", "counter", "Frame bytes received for forwarding.");
  out += fmt::format("strait_relay_bytes_in_total {}\n", s.bytes_in);
  metric("strait_relay_bytes_out_total", "counter", "Frame bytes written to links.");
  out += fmt::format("strait_relay_bytes_out_total {}\n", s.bytes_out);
  metric("strait_relay_frames_forwarded_total", "counter", "Frames handed to the peer link.");
  out += fmt::format("strait_relay_frames_forwarded_total {}\n", s.frames_forwarded);
  metric("strait_relay_frames_cross_shard_total", "counter", "Forwarded frames that crossed shards.");
  out += fmt::format("strait_relay_frames_cross_shard_total {}\n", s.frames_cross_shard);
  metric("strait_relay_goaway_total", "counter", "GOAWAY frames sent.");
  out += fmt::format("strait_relay_goaway_total {}\n", s.goaway_sent);
  metric("strait_relay_drops_total", "counter", "Dropped frames and connections by reason.");
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    out += fmt::format("strait_relay_drops_total{{reason=\"{}\"}} {}\n", kDropReasonNames[i], s.drops[i]);
  }
  metric("strait_relay_cross_queue_bytes", "gauge", "Bytes waiting in cross-shard queues.");
  out += fmt::format("strait_relay_cross_queue_bytes {}\n", s.cross_queue_bytes);
  metric("strait_relay_paused_links", "gauge", "Links whose reads are paused by backpressure.");
  out += fmt::format("strait_relay_paused_links {}\n", s.paused_links);
  return out;
}

namespace {

// One HTTP connection: read one request, answer, close. Bounded by a 5 s deadline.
class HttpConn : public std::enable_shared_from_this<HttpConn> {
 public:
  HttpConn(tcp::socket socket, const std::function<MetricsSnapshot()>* source)
      : stream_(std::move(socket)), source_(source) {}
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
      res_.body() = RenderPrometheus((*source_)());
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
  const std::function<MetricsSnapshot()>* source_;
};

}  // namespace

struct MetricsServer::Impl {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::function<MetricsSnapshot()> source;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<HttpConn>(std::move(socket), &source)->Start();
      Accept();
    });
  }
};

runtime::SetupResult<std::unique_ptr<MetricsServer>> MetricsServer::Start(const runtime::SocketAddress& address,
                                                                          std::function<MetricsSnapshot()> source) {
  std::unique_ptr<MetricsServer> server(new MetricsServer);
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.source = std::move(source);
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

MetricsServer::~MetricsServer() {
  if (impl_) {
    asio::post(impl_->io, [impl = impl_.get()] {
      beast::error_code ec;
      impl->acceptor.close(ec);
      impl->io.stop();
    });
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace strait::relay
