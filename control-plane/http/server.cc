#include "control-plane/http/server.h"

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>

namespace strait::control::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kControlExporter = "EXPORTER-strait-control-1";
constexpr std::string_view kActivateExporter = "EXPORTER-strait-activate-1";
// A response write that the peer does not take within this long closes the connection.
constexpr std::chrono::seconds kWriteTimeout{30};
// Bounds of the drain after a refused body (Session::Linger).
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerBytes = 4 * 1024 * 1024;

std::string NewRequestId() {
  uint8_t b[8];
  if (RAND_bytes(b, sizeof b) != 1) std::fill(std::begin(b), std::end(b), 0);  // never fails on Linux; ids need not be secret
  std::string out;
  out.reserve(16);
  for (uint8_t x : b) out += fmt::format("{:02x}", x);
  return out;
}

bool Export(SSL* ssl, std::string_view label, std::array<uint8_t, 32>* out) {
  return SSL_export_keying_material(ssl, out->data(), out->size(), label.data(), label.size(), nullptr, 0, 0) == 1;
}

Result<tcp::endpoint, ServerResultError> ParseListen(const std::string& listen) {
  auto bad = [&] { return Fail(ServerResultError{ServerError::kBadListen, fmt::format("bad listen address '{}'", listen)}); };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  std::string_view p = std::string_view(listen).substr(colon + 1);
  if (p.empty() || p.size() > 5) return bad();
  for (char c : p) {
    if (c < '0' || c > '9') return bad();
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port > 65535) return bad();
  beast::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec) return bad();
  return tcp::endpoint(addr, static_cast<uint16_t>(port));
}

}  // namespace

class Session;

struct Server::Impl {
  Impl(ServerOptions o, Handler* h) : options(std::move(o)), handler(h) {}

  ServerOptions options;
  Handler* handler;
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::thread_pool> pool;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  ServerCounters counters;
  std::atomic<size_t> queued{0};     // requests posted to the pool and not yet answered
  std::atomic<uint64_t> next_connection{1};
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;
  std::set<std::shared_ptr<Session>> sessions;  // [sessions_mu] so Stop can close them
  bool started = false;

  void Accept();
};

// One TLS connection: handshake, then request after request, one at a time. Every step runs on the connection's
// strand; only Handler::Handle runs on the pool, on a copy of the request.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& server, tcp::socket socket, uint64_t id)
      : s_(server), stream_(std::move(socket), server.tls), id_(id) {
    beast::error_code ec;
    tcp::endpoint remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) peer_ = remote.address().to_string();
  }

  void Start() {
    // The handshake and the first request's headers share one deadline.
    beast::get_lowest_layer(stream_).expires_after(s_.options.header_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) { self->OnHandshake(ec); });
  }

  // [any] Closes the socket; pending operations complete with an error and the session ends.
  void Close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().close(ignored);
      if (self->source_) self->source_->Cancel();
    });
  }

 private:
  void OnHandshake(beast::error_code ec) {
    if (ec) {
      s_.counters.handshake_failures++;
      return End();
    }
    if (!Export(stream_.native_handle(), kControlExporter, &exporters_.control) ||
        !Export(stream_.native_handle(), kActivateExporter, &exporters_.activate)) {
      s_.counters.handshake_failures++;
      return End();
    }
    ReadHeader();
  }

  void ReadHeader() {
    if (s_.stopping) return End();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(s_.options.header_limit));
    parser_->body_limit(std::numeric_limits<uint64_t>::max());  // set from the route once the headers are in
    if (!first_) beast::get_lowest_layer(stream_).expires_after(s_.options.idle_timeout);
    first_ = false;
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    request_ = Request{};
    request_.peer = peer_;
    request_.connection = id_;
    request_.exporters = exporters_;
    request_.request_id = NewRequestId();
    if (ec == bhttp::error::header_limit) return Refuse(ServerProblem::kHeadersTooLarge, 0);
    if (ec == beast::error::timeout) s_.counters.timeouts++;
    if (ec) return End();
    const auto& head = parser_->get();
    if (static_cast<size_t>(std::distance(head.begin(), head.end())) > s_.options.max_header_fields) {
      return Refuse(ServerProblem::kHeadersTooLarge, 0);
    }
    request_.method = std::string(head.method_string());
    std::string_view target(head.target().data(), head.target().size());
    size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.headers.reserve(static_cast<size_t>(std::distance(head.begin(), head.end())));
    for (const auto& field : head) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      request_.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    limit_ = s_.handler->BodyLimit(request_.method, request_.path);
    if (parser_->content_length() && *parser_->content_length() > limit_) {
      return Refuse(ServerProblem::kBodyTooLarge, limit_);
    }
    parser_->body_limit(limit_);
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
      continue_ = {};
      continue_.emplace(bhttp::status::continue_, head.version());
      beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
      bhttp::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code wec, size_t) {
        if (wec) return self->End();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    beast::get_lowest_layer(stream_).expires_after(s_.options.body_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) return Refuse(ServerProblem::kBodyTooLarge, limit_);
    if (ec == beast::error::timeout) {
      s_.counters.timeouts++;
      return End();  // the socket is closed already: nothing can be answered
    }
    if (ec) return End();
    Dispatch();
  }

  void Dispatch() {
    s_.counters.requests++;
    request_.body = std::move(parser_->get().body());
    keep_alive_ = parser_->get().keep_alive();
    if (s_.queued.fetch_add(1) >= s_.options.pool_queue) {
      s_.queued.fetch_sub(1);
      s_.counters.overloaded++;
      return Answer(s_.handler->Problem(ServerProblem::kOverloaded, request_, 0), !keep_alive_);
    }
    asio::post(*s_.pool, [self = shared_from_this(), request = std::move(request_)]() mutable {
      Response r;
      try {
        r = self->s_.handler->Handle(request);
      } catch (...) {
        self->s_.counters.internal_errors++;
        r = self->s_.handler->Problem(ServerProblem::kInternal, request, 0);
      }
      self->s_.queued.fetch_sub(1);
      r.headers.emplace_back("X-Request-Id", request.request_id);
      asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        self->Write(std::move(r), !self->keep_alive_);
      });
    });
  }

  // Answers a problem the server found itself, then closes: the rest of the request was not read.
  void Refuse(ServerProblem problem, size_t limit) {
    if (problem == ServerProblem::kBodyTooLarge || problem == ServerProblem::kHeadersTooLarge) s_.counters.too_large++;
    linger_ = true;
    Answer(s_.handler->Problem(problem, request_, limit), true);
  }

  void Answer(Response r, bool close) {
    r.headers.emplace_back("X-Request-Id", request_.request_id);
    Write(std::move(r), close);
  }

  void Write(Response r, bool close) {
    if (r.stream) return WriteStream(std::move(r));
    response_.emplace();
    auto& res = *response_;
    res.version(11);
    res.result(r.status);
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    res.set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) res.insert(name, value);
    res.body() = std::move(r.body);
    res.keep_alive(!close && !s_.stopping);
    res.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    bhttp::async_write(stream_, res, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->End();
      if (!self->response_->keep_alive()) return self->linger_ ? self->Linger() : self->Shutdown();
      self->ReadHeader();
    });
  }

  // After refusing a request whose body was not read, reads and drops what the client is still sending (bounded:
  // kLingerBytes, kLingerTime) before closing, so the client reads the refusal instead of a reset (a close with unread
  // data sends RST, and a client still writing its body would lose the answer).
  void Linger() {
    beast::get_lowest_layer(stream_).expires_after(kLingerTime);
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ >= kLingerBytes) return self->End();
      self->Linger();
    });
  }

  // A streamed response: the headers, then chunk after chunk as the source delivers them, each write bounded by
  // kWriteTimeout; the connection closes at the end (no keep-alive after a stream).
  void WriteStream(Response r) {
    source_ = std::move(r.stream);
    stream_head_.emplace();
    auto& res = *stream_head_;
    res.version(11);
    res.result(r.status);
    res.set(bhttp::field::content_type, r.content_type);
    res.set(bhttp::field::cache_control, "no-store");
    for (auto& [name, value] : r.headers) res.insert(name, value);
    res.keep_alive(false);
    res.chunked(true);
    stream_serializer_.emplace(res);
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    bhttp::async_write_header(stream_, *stream_serializer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->EndStream();
      self->NextChunk();
    });
  }

  void NextChunk() {
    if (s_.stopping) return EndStream();
    std::weak_ptr<Session> weak = shared_from_this();
    source_->Next([weak](std::optional<std::string> chunk) {
      auto self = weak.lock();
      if (!self) return;
      asio::post(self->stream_.get_executor(), [self, chunk = std::move(chunk)]() mutable {
        self->WriteChunk(std::move(chunk));
      });
    });
  }

  void WriteChunk(std::optional<std::string> chunk) {
    beast::get_lowest_layer(stream_).expires_after(kWriteTimeout);
    if (!chunk) {
      asio::async_write(stream_, bhttp::make_chunk_last(), [self = shared_from_this()](beast::error_code, size_t) {
        self->EndStream();
      });
      return;
    }
    chunk_ = std::move(*chunk);
    asio::async_write(stream_, bhttp::make_chunk(asio::buffer(chunk_)),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->EndStream();
                        self->NextChunk();
                      });
  }

  void EndStream() {
    if (source_) source_->Cancel();
    source_.reset();
    End();
  }

  void Shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->End(); });
  }

  void End() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
    std::lock_guard lock(s_.sessions_mu);
    if (s_.sessions.erase(shared_from_this()) > 0) s_.counters.open_connections--;
  }

  Server::Impl& s_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
  std::optional<bhttp::response<bhttp::empty_body>> stream_head_;
  std::optional<bhttp::response_serializer<bhttp::empty_body>> stream_serializer_;
  std::shared_ptr<ChunkSource> source_;
  std::string chunk_;
  Request request_;
  Exporters exporters_;
  std::string peer_;
  uint64_t id_;
  size_t limit_ = 0;
  size_t lingered_ = 0;
  std::array<char, 16 * 1024> scratch_;
  bool linger_ = false;
  bool first_ = true;
  bool keep_alive_ = false;
};

void Server::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (!ec) {
      std::shared_ptr<Session> session;
      {
        std::lock_guard lock(sessions_mu);
        if (sessions.size() >= options.max_connections) {
          counters.refused_connections++;
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          // Answers go out as written: with Nagle on, a response written in two parts waited for the client's
          // delayed ACK (40 ms per call; bench/control saw every write and revocation call take that long).
          beast::error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          session = std::make_shared<Session>(*this, std::move(socket), next_connection++);
          sessions.insert(session);
          counters.connections++;
          counters.open_connections++;
        }
      }
      if (session) session->Start();
    }
    Accept();
  });
}

Server::Server(ServerOptions options, Handler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

Server::~Server() { Stop(); }

Result<void, ServerResultError> Server::Start() {
  Impl& s = *impl_;
  auto endpoint = ParseListen(s.options.listen);
  if (!endpoint) return Fail(endpoint.error());
  SSL_CTX* ctx = s.tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  beast::error_code ec;
  s.tls.use_certificate_chain(asio::buffer(s.options.cert_pem), ec);
  if (!ec) s.tls.use_private_key(asio::buffer(s.options.key_pem), ssl::context::pem, ec);
  if (ec) return Fail(ServerResultError{ServerError::kTls, fmt::format("TLS certificate or key: {}", ec.message())});
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Fail(ServerResultError{ServerError::kTls, "the TLS key does not match the certificate"});
  }
  s.acceptor.emplace(s.ioc);
  s.acceptor->open(endpoint->protocol(), ec);
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(*endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Fail(ServerResultError{ServerError::kBind, fmt::format("listen on {}: {}", s.options.listen, ec.message())});
  }
  s.pool.emplace(static_cast<size_t>(std::max(1, s.options.pool_threads)));
  s.work.emplace(s.ioc.get_executor());
  s.Accept();
  for (int i = 0; i < std::max(1, s.options.io_threads); ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  s.started = true;
  return {};
}

std::string Server::local_address() const {
  beast::error_code ec;
  tcp::endpoint e = impl_->acceptor ? impl_->acceptor->local_endpoint(ec) : tcp::endpoint();
  if (e.address().is_v6()) return fmt::format("[{}]:{}", e.address().to_string(), e.port());
  return fmt::format("{}:{}", e.address().to_string(), e.port());
}

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.started = false;
  s.stopping = true;
  asio::post(s.ioc, [&s] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
  });
  // In-flight requests finish and are answered (with Connection: close) within the drain bound.
  auto deadline = std::chrono::steady_clock::now() + s.options.drain_timeout;
  while (s.queued.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  s.pool->join();
  {
    std::lock_guard lock(s.sessions_mu);
    for (const auto& session : s.sessions) session->Close();
  }
  s.work.reset();
  // Sessions end as their operations fail; a stuck one is cut by stopping the context after a short grace.
  auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < grace) {
    {
      std::lock_guard lock(s.sessions_mu);
      if (s.sessions.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  std::lock_guard lock(s.sessions_mu);
  s.sessions.clear();
}

const ServerCounters& Server::counters() const { return impl_->counters; }

}  // namespace strait::control::http
