#include "tests/control-plane/testing/https_client.h"

#include <openssl/ssl.h>

#include <limits>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace strait::control::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string Reply::Header(std::string_view lower_name) const {
  for (const auto& [n, v] : headers) {
    if (n == lower_name) return v;
  }
  return {};
}

struct HttpsClient::Impl {
  std::string host, port, ca_pem, server_name;
  asio::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> stream_parser;
  std::string pending;  // stream bytes not yet returned as lines
};

HttpsClient::HttpsClient(std::string address, std::string ca_pem, std::string server_name)
    : impl_(std::make_unique<Impl>()) {
  size_t colon = address.rfind(':');
  impl_->host = address.substr(0, colon);
  impl_->port = address.substr(colon + 1);
  impl_->ca_pem = std::move(ca_pem);
  impl_->server_name = std::move(server_name);
  SSL_CTX_set_min_proto_version(impl_->tls.native_handle(), TLS1_3_VERSION);
  if (!impl_->ca_pem.empty()) {
    impl_->tls.add_certificate_authority(asio::buffer(impl_->ca_pem));
    impl_->tls.set_verify_mode(ssl::verify_peer);
  } else {
    impl_->tls.set_verify_mode(ssl::verify_none);
  }
}

HttpsClient::~HttpsClient() { Close(); }

bool HttpsClient::connected() const { return impl_->stream.has_value(); }

bool HttpsClient::Connect(std::string* error) {
  Impl& c = *impl_;
  Close();
  c.stream.emplace(c.ioc, c.tls);
  beast::error_code ec;
  tcp::resolver resolver(c.ioc);
  auto results = resolver.resolve(c.host, c.port, ec);
  if (!ec) beast::get_lowest_layer(*c.stream).connect(results, ec);
  if (!ec) {
    SSL_ctrl(c.stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(c.server_name.c_str()));  // SSL_set_tlsext_host_name, without its C cast
    if (!c.ca_pem.empty()) c.stream->set_verify_callback(ssl::host_name_verification(c.server_name));
    c.stream->handshake(ssl::stream_base::client, ec);
  }
  if (ec) {
    if (error) *error = ec.message();
    c.stream.reset();
    return false;
  }
  c.buffer.clear();
  return true;
}

void HttpsClient::Close() {
  impl_->stream_parser.reset();
  if (!impl_->stream) return;
  beast::error_code ignored;
  beast::get_lowest_layer(*impl_->stream).socket().close(ignored);
  impl_->stream.reset();
}

Reply HttpsClient::Send(std::string_view method, std::string_view target, std::string_view body,
                        std::vector<std::pair<std::string, std::string>> headers) {
  Impl& c = *impl_;
  Reply reply;
  if (!c.stream && !Connect(&reply.error)) return reply;
  bhttp::request<bhttp::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(bhttp::field::host, c.host);
  for (auto& [n, v] : headers) req.set(n, v);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") req.prepare_payload();
  beast::error_code ec;
  beast::get_lowest_layer(*c.stream).expires_after(std::chrono::seconds(30));
  bhttp::write(*c.stream, req, ec);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (!ec) bhttp::read(*c.stream, c.buffer, parser, ec);
  if (ec) {
    reply.error = ec.message();
    Close();
    return reply;
  }
  auto& res = parser.get();
  reply.status = res.result_int();
  reply.body = std::move(res.body());
  for (const auto& f : res) {
    std::string n(f.name_string());
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    reply.headers.emplace_back(std::move(n), std::string(f.value()));
  }
  if (!res.keep_alive()) Close();
  return reply;
}

Reply HttpsClient::Json(std::string_view method, std::string_view target, std::string_view key,
                        std::string_view body) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    headers.emplace_back("Content-Type", "application/json");
  }
  if (!key.empty()) headers.emplace_back("Authorization", "Bearer " + std::string(key));
  return Send(method, target, body, std::move(headers));
}

Reply HttpsClient::OpenStream(std::string_view target, std::string_view key,
                               std::vector<std::pair<std::string, std::string>> headers) {
  Impl& c = *impl_;
  Reply reply;
  if (!c.stream && !Connect(&reply.error)) return reply;
  bhttp::request<bhttp::empty_body> req;
  req.method(bhttp::verb::get);
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(bhttp::field::host, c.host);
  if (!key.empty()) req.set(bhttp::field::authorization, "Bearer " + std::string(key));
  for (auto& [n, v] : headers) req.set(n, v);
  beast::error_code ec;
  beast::get_lowest_layer(*c.stream).expires_after(std::chrono::seconds(30));
  bhttp::write(*c.stream, req, ec);
  c.stream_parser.emplace();
  c.stream_parser->body_limit(std::numeric_limits<uint64_t>::max());
  c.pending.clear();
  if (!ec) bhttp::read_header(*c.stream, c.buffer, *c.stream_parser, ec);
  if (ec) {
    reply.error = ec.message();
    Close();
    return reply;
  }
  const auto& res = c.stream_parser->get();
  reply.status = res.result_int();
  for (const auto& f : res) {
    std::string n(f.name_string());
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    reply.headers.emplace_back(std::move(n), std::string(f.value()));
  }
  return reply;
}

std::optional<std::string> HttpsClient::ReadLine(std::chrono::milliseconds timeout) {
  Impl& c = *impl_;
  if (!c.stream || !c.stream_parser) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (c.pending.find('\n') == std::string::npos) {
    if (c.stream_parser->is_done()) return std::nullopt;
    char buf[4096];
    c.stream_parser->get().body().data = buf;
    c.stream_parser->get().body().size = sizeof buf;
    // Asynchronously, so that the deadline holds (Beast's stream timeouts apply to asynchronous operations only).
    beast::error_code ec = asio::error::timed_out;
    bool done = false;
    bhttp::async_read_some(*c.stream, c.buffer, *c.stream_parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    c.ioc.restart();
    c.ioc.run_until(deadline);
    if (!done) {
      // Cancel the read and let its handler run before anything it refers to goes away.
      beast::error_code ignored;
      beast::get_lowest_layer(*c.stream).socket().close(ignored);
      c.ioc.restart();
      c.ioc.run();
      Close();
      return std::nullopt;
    }
    c.pending.append(buf, sizeof buf - c.stream_parser->get().body().size);
    if (ec && ec != bhttp::error::need_buffer) {
      if (c.pending.find('\n') != std::string::npos) break;
      Close();
      return std::nullopt;
    }
  }
  size_t nl = c.pending.find('\n');
  std::string line = c.pending.substr(0, nl);
  c.pending.erase(0, nl + 1);
  return line;
}

std::string HttpsClient::RawExchange(std::string_view bytes, std::chrono::milliseconds timeout) {
  Impl& c = *impl_;
  std::string out;
  if (!c.stream && !Connect(nullptr)) return out;
  beast::error_code ec;
  beast::get_lowest_layer(*c.stream).expires_after(timeout);
  asio::write(*c.stream, asio::buffer(bytes.data(), bytes.size()), ec);
  char buf[4096];
  while (!ec) {
    size_t n = c.stream->read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  Close();
  return out;
}

std::array<uint8_t, 32> HttpsClient::Exporter(std::string_view label) {
  std::array<uint8_t, 32> out{};
  if (!impl_->stream && !Connect(nullptr)) return out;
  SSL_export_keying_material(impl_->stream->native_handle(), out.data(), out.size(), label.data(), label.size(),
                             nullptr, 0, 0);
  return out;
}

}  // namespace strait::control::testing
