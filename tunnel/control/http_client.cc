#include "tunnel/control/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "tunnel/control/chunked_decoder.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/json_fields.h"

namespace strait::control {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

HttpResultError Err(HttpError code, std::string reason) { return {code, std::move(reason)}; }

bool IsIpLiteral(const std::string& host) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

bool IsDnsName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return h.front() != '.' && h.find("..") == std::string_view::npos;
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      if (fd >= 0) close(fd);
      fd = std::exchange(o.fd, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Milliseconds left until `deadline` for poll(2), or -1 when it has passed.
int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return -1;
  return static_cast<int>(std::min<int64_t>(left, 60'000));
}

// Waits until `fd` is ready for `events`, the deadline passes, or `cancel_fd` (when >= 0) becomes readable.
Result<void, HttpResultError> Wait(int fd, short events, Clock::time_point deadline, std::string_view what,
                                   int cancel_fd) {
  for (;;) {
    const int ms = MsLeft(deadline);
    if (ms < 0) return Fail(Err(HttpError::kTimeout, fmt::format("{}: timed out", what)));
    pollfd p[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    const int n = poll(p, cancel_fd >= 0 ? 2 : 1, ms);
    if (n > 0 && cancel_fd >= 0 && p[1].revents != 0) return Fail(Err(HttpError::kCancelled, std::string(what)));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return Fail(Err(HttpError::kConnect, fmt::format("{}: poll: {}", what, strerror(errno))));
  }
}

Result<void, HttpResultError> SendAll(int fd, std::span<const uint8_t> data, Clock::time_point deadline,
                                      int cancel_fd) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (auto w = Wait(fd, POLLOUT, deadline, "send", cancel_fd); !w) return w;
      continue;
    }
    return Fail(Err(HttpError::kProtocol, fmt::format("send: {}", strerror(errno))));
  }
  return {};
}

// Reads what is there (waiting up to the deadline): the bytes, or an empty vector at the peer's end of stream.
Result<std::vector<uint8_t>, HttpResultError> RecvSome(int fd, Clock::time_point deadline, int cancel_fd) {
  std::vector<uint8_t> buf(16 * 1024);
  for (;;) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (auto w = Wait(fd, POLLIN, deadline, "receive", cancel_fd); !w) return Fail(w.error());
      continue;
    }
    return Fail(Err(HttpError::kProtocol, fmt::format("receive: {}", strerror(errno))));
  }
}

Result<Fd, HttpResultError> Dial(const HttpsUrl& url, Clock::time_point deadline, int cancel_fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  // getaddrinfo has no timeout of its own: the resolver's (resolv.conf) applies. Setup path, once.
  if (int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Fail(Err(HttpError::kResolve, fmt::format("{}: {}", url.host, gai_strerror(rc))));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(res, &freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd s(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (s.fd < 0) {
      last = strerror(errno);
      continue;
    }
    if (connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = strerror(errno);
      continue;
    }
    if (auto w = Wait(s.fd, POLLOUT, deadline, "connect", cancel_fd); !w) return Fail(w.error());
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      last = strerror(err != 0 ? err : errno);
      continue;
    }
    const int one = 1;
    (void)setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return s;
  }
  return Fail(Err(HttpError::kConnect, fmt::format("{}:{}: {}", url.host, url.port, last)));
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// X509 helpers: owned pointers and PEM blocks.
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::vector<X509Ptr> ReadCertificates(std::string_view pem) {
  std::vector<X509Ptr> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<ssize_t>(pem.size()));
  if (bio == nullptr) return out;
  while (X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.emplace_back(x);
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);
  return out;
}

}  // namespace

std::string_view HttpErrorName(HttpError e) {
  switch (e) {
    case HttpError::kUrl: return "url";
    case HttpError::kResolve: return "resolve";
    case HttpError::kConnect: return "connect";
    case HttpError::kTls: return "tls";
    case HttpError::kTimeout: return "timeout";
    case HttpError::kTooLarge: return "too_large";
    case HttpError::kProtocol: return "protocol";
    case HttpError::kCancelled: return "cancelled";
  }
  return "unknown";
}

Result<HttpsUrl, HttpResultError> ParseHttpsUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  auto bad = [url](std::string_view why) {
    return Fail(Err(HttpError::kUrl, fmt::format("{}: {}", url.substr(0, 200), why)));
  };
  if (url.size() > wire::kMaxUrlBytes) return bad("longer than 2048 bytes");
  if (url.substr(0, kScheme.size()) != kScheme) return bad("not https://HOST[:PORT]");
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) return bad("no path, query, fragment or user info");
  HttpsUrl u;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    u.host = std::string(rest.substr(1, close - 1));
    in6_addr a{};
    if (inet_pton(AF_INET6, u.host.c_str(), &a) != 1) return bad("not an IPv6 literal in brackets");
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ]");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("empty port");
    }
  } else {
    const size_t colon = rest.find(':');
    u.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return bad("empty port");
    }
    if (!IsDnsName(u.host)) return bad("the host is not a DNS name or IP literal");
  }
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p == 0 || p > 65535 ||
        port_text.front() == '0') {
      return bad("the port is not 1..65535");
    }
    u.port = static_cast<uint16_t>(p);
  }
  u.authority = std::string(rest);
  return u;
}

std::optional<std::string_view> HttpResponse::Header(std::string_view name) const {
  const std::string want = LowerAscii(name);
  for (const auto& [k, v] : headers) {
    if (LowerAscii(k) == want) return std::string_view(v);
  }
  return std::nullopt;
}

struct HttpResponseReader::Impl {
  http::response_parser<http::string_body> parser;
  std::string pending;  // bytes the parser has not consumed yet (it needs more to make progress)
  std::optional<HttpResultError> failed;
  bool header_checked = false;
};

HttpResponseReader::HttpResponseReader(size_t max_body) : impl_(std::make_unique<Impl>()) {
  impl_->parser.eager(false);  // stop after the header: it is checked before any body byte is parsed
  impl_->parser.header_limit(static_cast<std::uint32_t>(kMaxHttpHeaderBytes));
  impl_->parser.body_limit(max_body);
}
HttpResponseReader::HttpResponseReader(HttpResponseReader&&) noexcept = default;
HttpResponseReader& HttpResponseReader::operator=(HttpResponseReader&&) noexcept = default;
HttpResponseReader::~HttpResponseReader() = default;

bool HttpResponseReader::done() const { return !impl_->failed && impl_->parser.is_done(); }

Result<void, HttpResultError> HttpResponseReader::Feed(std::string_view bytes) {
  Impl& m = *impl_;
  if (m.failed) return Fail(*m.failed);
  if (m.parser.is_done()) return {};
  // The parser needs a whole header (or chunk line) in one buffer: keep what it left, bounded by the header limit
  // (a body is consumed as it comes, eager).
  m.pending.append(bytes);
  while (!m.pending.empty() && !m.parser.is_done()) {
    boost::system::error_code ec;
    const size_t n = m.parser.put(boost::asio::const_buffer(m.pending.data(), m.pending.size()), ec);
    m.pending.erase(0, n);
    if (ec == http::error::need_more) break;
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      m.failed = Err(HttpError::kTooLarge, fmt::format("response: {}", ec.message()));
    } else if (ec) {
      m.failed = Err(HttpError::kProtocol, fmt::format("response: {}", ec.message()));
    }
    if (m.failed) return Fail(*m.failed);
    if (!m.header_checked && m.parser.is_header_done()) {
      // A chunked body is refused: strait-control answers with Content-Length, and Boost 1.74's chunk-header
      // parser asserts on some inputs (found by control_http_fuzzer), so hostile chunking never reaches it.
      if (m.parser.chunked()) {
        m.failed = Err(HttpError::kProtocol, "response: a chunked body (only Content-Length or the close is read)");
        return Fail(*m.failed);
      }
      m.header_checked = true;
      m.parser.eager(true);
      continue;
    }
    if (n == 0) break;
  }
  if (m.pending.size() > kMaxHttpHeaderBytes) {
    m.failed = Err(HttpError::kTooLarge, "response: a header or chunk line beyond its bound");
    return Fail(*m.failed);
  }
  return {};
}

Result<void, HttpResultError> HttpResponseReader::End() {
  Impl& m = *impl_;
  if (m.failed) return Fail(*m.failed);
  if (m.parser.is_done()) return {};
  boost::system::error_code ec;
  // Nothing at all: Beast's put_eof requires got_some() (it asserts, and without asserts reports a complete
  // message), so this case is answered here.
  if (m.parser.got_some()) m.parser.put_eof(ec);  // a body delimited by the close is complete now
  if (!m.parser.got_some() || ec || !m.parser.is_done()) {
    m.failed = Err(HttpError::kProtocol, "the server closed the connection before the response ended");
    return Fail(*m.failed);
  }
  return {};
}

Result<HttpResponse, HttpResultError> HttpResponseReader::Take() {
  if (!done()) return Fail(Err(HttpError::kProtocol, "the response is not complete"));
  const auto& msg = impl_->parser.get();
  if (msg.version() != 11 && msg.version() != 10) {
    return Fail(Err(HttpError::kProtocol, "not an HTTP/1.x response"));
  }
  if (msg.result_int() < 100) return Fail(Err(HttpError::kProtocol, "a status below 100"));
  HttpResponse resp;
  resp.status = msg.result_int();
  for (const auto& field : msg) {
    resp.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  resp.body = msg.body();
  return resp;
}

struct HttpsConnection::State {
  Fd fd;
  HttpsUrl url;
  HttpsClientOptions options;
  std::optional<crypto::TlsContext> ctx;      // outlives session (declared first, destroyed last)
  std::optional<crypto::TlsSession> session;
  std::vector<uint8_t> early_plaintext;       // application data that arrived with the handshake's last flight
  bool used = false;
  // An open stream (OpenStream): the decoder, body bytes decoded with the header, and whether more may come.
  std::optional<ChunkedDecoder> chunked;
  std::string stream_body;
  bool stream_open = false;
};

HttpsConnection::HttpsConnection(std::unique_ptr<State> s) : s_(std::move(s)) {}
HttpsConnection::HttpsConnection(HttpsConnection&& o) noexcept = default;
HttpsConnection& HttpsConnection::operator=(HttpsConnection&& o) noexcept = default;
HttpsConnection::~HttpsConnection() = default;

Result<HttpsConnection, HttpResultError> HttpsConnection::Connect(const HttpsUrl& url,
                                                                  const HttpsClientOptions& options) {
  auto s = std::make_unique<State>();
  s->url = url;
  s->options = options;
  const Clock::time_point deadline = Clock::now() + options.timeout;
  auto ctx = options.ca_pem.empty()
                 ? crypto::TlsContext::CreateTransportOnlyClient(url.host)
                 : crypto::TlsContext::CreateClient({.ca_pem = options.ca_pem, .server_name = url.host});
  if (!ctx) return Fail(Err(HttpError::kTls, "TLS setup: " + ctx.error().reason));
  s->ctx.emplace(std::move(*ctx));
  auto session = crypto::TlsSession::Create(*s->ctx);
  if (!session) return Fail(Err(HttpError::kTls, "TLS setup: " + session.error().reason));
  s->session.emplace(std::move(*session));

  const int cancel = options.cancel_fd;
  auto fd = Dial(url, deadline, cancel);
  if (!fd) return Fail(fd.error());
  s->fd = std::move(*fd);

  std::vector<uint8_t> out;
  if (auto r = s->session->Start(out); !r) return Fail(Err(HttpError::kTls, "TLS: " + r.error().reason));
  while (!s->session->handshake_complete()) {
    if (!out.empty()) {
      if (auto w = SendAll(s->fd.fd, out, deadline, cancel); !w) return Fail(w.error());
      out.clear();
    }
    auto in = RecvSome(s->fd.fd, deadline, cancel);
    if (!in) return Fail(in.error());
    if (in->empty()) return Fail(Err(HttpError::kTls, "TLS: the server closed the connection during the handshake"));
    auto r = s->session->Receive(*in, s->early_plaintext, out);
    if (!r) {
      if (!out.empty()) (void)SendAll(s->fd.fd, out, deadline, cancel);  // the alert, best effort
      return Fail(Err(HttpError::kTls, fmt::format("TLS handshake with {}: {}", url.authority, r.error().reason)));
    }
  }
  if (!out.empty()) {
    if (auto w = SendAll(s->fd.fd, out, deadline, cancel); !w) return Fail(w.error());
  }
  return HttpsConnection(std::move(s));
}

Result<void, HttpResultError> HttpsConnection::Export(std::string_view label, std::span<uint8_t> out) const {
  auto r = s_->session->ExportKeyingMaterial(label, {}, out);
  if (!r) return Fail(Err(HttpError::kTls, "TLS exporter: " + r.error().reason));
  return {};
}

std::vector<std::string> HttpsConnection::PeerChainPem() const {
  std::vector<std::string> out;
  // Client side: the chain includes the leaf (BoringSSL's SSL_get_peer_cert_chain).
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(s_->session->native_handle());
  if (chain == nullptr) return out;
  for (size_t i = 0; i < sk_X509_num(chain); ++i) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) break;
    if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) == 1) {
      const uint8_t* data = nullptr;
      size_t len = 0;
      if (BIO_mem_contents(bio, &data, &len) == 1) out.emplace_back(reinterpret_cast<const char*>(data), len);
    }
    BIO_free(bio);
  }
  return out;
}

Result<void, HttpResultError> HttpsConnection::SendRequest(const HttpRequest& request, Clock::time_point deadline) {
  if (s_->used) return Fail(Err(HttpError::kProtocol, "one exchange per connection"));
  s_->used = true;
  if (HasCrLf(request.method) || HasCrLf(request.target) || request.method.find(' ') != std::string::npos ||
      request.target.find(' ') != std::string::npos) {
    return Fail(Err(HttpError::kProtocol, "request line with a space, CR or LF"));
  }
  std::string text = fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
                                 request.method, request.target, s_->url.authority, request.body.size());
  for (const auto& [k, v] : request.headers) {
    if (HasCrLf(k) || HasCrLf(v) || k.find(':') != std::string::npos) {
      return Fail(Err(HttpError::kProtocol, "request header with CR, LF or a colon in its name"));
    }
    text += fmt::format("{}: {}\r\n", k, v);
  }
  text += "\r\n";
  text += request.body;

  std::vector<uint8_t> out;
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  if (auto r = s_->session->Send({p, text.size()}, out); !r) {
    return Fail(Err(HttpError::kTls, "TLS: " + r.error().reason));
  }
  return SendAll(s_->fd.fd, out, deadline, s_->options.cancel_fd);
}

Result<bool, HttpResultError> HttpsConnection::ReceivePlain(Clock::time_point deadline, std::string* plain) {
  if (!s_->early_plaintext.empty()) {
    plain->append(s_->early_plaintext.begin(), s_->early_plaintext.end());
    s_->early_plaintext.clear();
    return true;
  }
  auto in = RecvSome(s_->fd.fd, deadline, s_->options.cancel_fd);
  if (!in) return Fail(in.error());
  if (in->empty()) return false;
  std::vector<uint8_t> decrypted, out;
  auto r = s_->session->Receive(*in, decrypted, out);
  if (!r) return Fail(Err(HttpError::kTls, "TLS: " + r.error().reason));
  plain->append(decrypted.begin(), decrypted.end());
  return !s_->session->peer_closed();
}

Result<HttpResponse, HttpResultError> HttpsConnection::ReadWhole(HttpResponseReader& reader, std::string_view first,
                                                                 Clock::time_point deadline) {
  if (!first.empty()) {
    if (auto f = reader.Feed(first); !f) return Fail(f.error());
  }
  while (!reader.done()) {
    std::string chunk;
    auto open = ReceivePlain(deadline, &chunk);
    if (!open) return Fail(open.error());
    if (auto f = reader.Feed(chunk); !f) return Fail(f.error());
    if (!*open && !reader.done()) {
      if (auto f = reader.End(); !f) return Fail(f.error());
    }
  }
  auto resp = reader.Take();
  if (!resp) return Fail(resp.error());
  std::vector<uint8_t> close_out;
  if (s_->session->Close(close_out) && !close_out.empty()) {
    (void)SendAll(s_->fd.fd, close_out, deadline, s_->options.cancel_fd);
  }
  return std::move(*resp);
}

Result<HttpResponse, HttpResultError> HttpsConnection::Exchange(const HttpRequest& request) {
  const Clock::time_point deadline = Clock::now() + s_->options.timeout;
  if (auto r = SendRequest(request, deadline); !r) return Fail(r.error());
  HttpResponseReader reader(s_->options.max_response_bytes);
  return ReadWhole(reader, {}, deadline);
}

Result<HttpResponse, HttpResultError> HttpsConnection::OpenStream(const HttpRequest& request) {
  const Clock::time_point deadline = Clock::now() + s_->options.timeout;
  if (auto r = SendRequest(request, deadline); !r) return Fail(r.error());
  // The head: bytes up to the empty line, bounded like any header.
  std::string bytes;
  size_t head_end = std::string::npos;
  while ((head_end = bytes.find("\r\n\r\n")) == std::string::npos) {
    if (bytes.size() > kMaxHttpHeaderBytes) return Fail(Err(HttpError::kTooLarge, "response: header beyond its bound"));
    auto open = ReceivePlain(deadline, &bytes);
    if (!open) return Fail(open.error());
    if (!*open && bytes.find("\r\n\r\n") == std::string::npos) {
      return Fail(Err(HttpError::kProtocol, "the server closed the connection before the response ended"));
    }
  }
  head_end += 4;
  http::response_parser<http::empty_body> head;
  head.eager(false);
  head.header_limit(static_cast<std::uint32_t>(kMaxHttpHeaderBytes));
  boost::system::error_code ec;
  head.put(boost::asio::const_buffer(bytes.data(), head_end), ec);
  if (ec || !head.is_header_done()) {
    return Fail(Err(HttpError::kProtocol, fmt::format("response header: {}", ec ? ec.message() : "incomplete")));
  }
  const auto& msg = head.get();
  if (msg.result_int() != 200 || !head.chunked()) {
    // An answer, not a stream (a problem, a redirect): read it whole like Exchange.
    HttpResponseReader reader(s_->options.max_response_bytes);
    return ReadWhole(reader, bytes, deadline);
  }
  if (msg.version() != 11) return Fail(Err(HttpError::kProtocol, "a chunked response that is not HTTP/1.1"));
  HttpResponse resp;
  resp.status = msg.result_int();
  for (const auto& field : msg) resp.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  s_->chunked.emplace();
  s_->stream_open = true;
  if (head_end < bytes.size()) {
    if (auto r = DecodeStream(std::string_view(bytes).substr(head_end), &s_->stream_body); !r) return Fail(r.error());
  }
  return resp;
}

Result<void, HttpResultError> HttpsConnection::DecodeStream(std::string_view raw, std::string* out) {
  switch (s_->chunked->Feed(raw, out)) {
    case ChunkedDecoder::Status::kOk: return {};
    case ChunkedDecoder::Status::kEnd:
      s_->stream_open = false;
      return {};
    case ChunkedDecoder::Status::kError:
      s_->stream_open = false;
      return Fail(Err(HttpError::kProtocol, "stream: " + s_->chunked->error()));
  }
  return {};
}

Result<bool, HttpResultError> HttpsConnection::ReadStream(std::chrono::milliseconds wait, std::string* out) {
  if (!s_->chunked) return Fail(Err(HttpError::kProtocol, "no stream is open"));
  if (!s_->stream_body.empty()) {
    out->append(s_->stream_body);
    s_->stream_body.clear();
    return s_->stream_open;
  }
  if (!s_->stream_open) return false;
  std::string raw;
  auto open = ReceivePlain(Clock::now() + wait, &raw);
  if (!open && open.error().code == HttpError::kTimeout) return true;  // nothing within `wait`: still open
  if (!open) return Fail(open.error());
  if (auto r = DecodeStream(raw, out); !r) return Fail(r.error());
  if (!*open && s_->stream_open) {
    s_->stream_open = false;  // closed without the last chunk: the caller resumes from its last id either way
  }
  return s_->stream_open;
}

Result<void, std::string> VerifyPeerChain(std::span<const std::string> chain_pem, std::string_view ca_pem,
                                          std::string_view host) {
  if (chain_pem.empty()) return Fail(std::string("the server sent no certificate"));
  std::vector<X509Ptr> chain;
  for (const std::string& pem : chain_pem) {
    auto certs = ReadCertificates(pem);
    if (certs.size() != 1) return Fail(std::string("a certificate of the server's chain does not parse"));
    chain.push_back(std::move(certs.front()));
  }
  auto anchors = ReadCertificates(ca_pem);
  if (anchors.empty()) return Fail(std::string("the CA has no certificate"));

  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  std::string error;
  if (store == nullptr || untrusted == nullptr || ctx == nullptr) error = "out of memory";
  for (size_t i = 0; error.empty() && i < anchors.size(); ++i) {
    if (X509_STORE_add_cert(store, anchors[i].get()) != 1) error = "the CA certificate is unusable";
  }
  for (size_t i = 1; error.empty() && i < chain.size(); ++i) {
    if (sk_X509_push(untrusted, chain[i].get()) == 0) error = "out of memory";
  }
  if (error.empty() && X509_STORE_CTX_init(ctx, store, chain[0].get(), untrusted) != 1) error = "verify setup";
  if (error.empty()) {
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    const std::string h(host);
    const bool set = IsIpLiteral(h) ? X509_VERIFY_PARAM_set1_ip_asc(param, h.c_str()) == 1
                                    : X509_VERIFY_PARAM_set1_host(param, h.data(), h.size()) == 1;
    if (!set) {
      error = "the host name is unusable";
    } else if (X509_verify_cert(ctx) != 1) {
      error = fmt::format("the server's certificate does not chain to the bundle's CA for {}: {}", h,
                          X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);  // the X509s stay owned by `chain`
  X509_STORE_free(store);
  ERR_clear_error();
  if (!error.empty()) return Fail(std::move(error));
  return {};
}

bool IsRevocation(const ProblemInfo& p) {
  return p.status == 403 && (p.name == "device-revoked" || p.name == "connector-revoked" || p.name == "relay-revoked");
}

ProblemInfo DecodeProblem(unsigned status, std::string_view body) {
  constexpr std::string_view kUrn = "urn:strait:problem:";
  constexpr size_t kMaxDetail = 512;
  ProblemInfo p;
  p.status = status;
  p.name = fmt::format("http-{}", status);
  auto clean = [](std::string_view s) {
    std::string out;
    for (char c : s.substr(0, kMaxDetail)) {
      out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c);
    }
    return out;
  };
  // Bounded like every JSON the daemons read: a hostile server's nesting costs no recursion.
  auto parsed = internal::ParseBounded(body, kMaxHttpResponseBytes);
  if (!parsed || !parsed->is_object()) return p;
  const internal::Json& j = *parsed;
  if (auto t = j.find("type"); t != j.end() && t->is_string()) {
    const std::string& type = t->get_ref<const std::string&>();
    if (type.size() > kUrn.size() && type.size() <= kUrn.size() + 64 && type.compare(0, kUrn.size(), kUrn) == 0) {
      const std::string name = type.substr(kUrn.size());
      const bool ok = std::all_of(name.begin(), name.end(),
                                  [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
      if (ok) p.name = name;
    }
  }
  for (const char* field : {"detail", "title"}) {
    if (auto d = j.find(field); d != j.end() && d->is_string() && !d->get_ref<const std::string&>().empty()) {
      p.detail = clean(d->get_ref<const std::string&>());
      break;
    }
  }
  return p;
}

}  // namespace strait::control
