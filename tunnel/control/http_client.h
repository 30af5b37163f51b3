// A blocking HTTPS/1.1 client for the daemons' one-shot calls to strait-control (activation, later renewal):
// one TLS 1.3 connection on the caller's thread, one request, one response, then close. Setup path, not the loop:
// nothing here runs on an io_uring thread.
//
//   Connect      resolve, TCP connect, TLS 1.3 handshake (crypto::TlsSession over a plain non-blocking socket and
//                poll(2), each step within the timeout); the server's certificate is verified against `ca_pem`
//                when given, else not at all (activation authenticates the server by the code's MAC, §6.2)
//   Export       the connection's TLS exporter (RFC 8446 §7.5): the activation MAC and key proof bind to it
//   Exchange     one request written by hand (every header value checked for CR/LF), the response read with
//                Beast's parser (header-only; no Asio socket and no Asio SSL, so no second TLS library): at most
//                max_response_bytes of body, the whole exchange within the timeout
//   PeerChainPem the server's certificate chain, leaf first, so the caller can check it against a CA it only
//                learns from the answer (the bundle's ca.pem) with VerifyPeerChain
//
// Problem answers (RFC 9457, docs/control-plane.md §4.3) decode into {status, name, detail}: the name is the
// `urn:strait:problem:<name>` suffix, the one thing a client switches on.
//
// Thread-safety: one thread per connection. Move-only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/result.h"

namespace strait::control {

// Bounds of one exchange (documented options with these defaults).
inline constexpr size_t kMaxHttpResponseBytes = size_t{4} << 20;  // body; a bundle is <= 2 MiB
inline constexpr size_t kMaxHttpHeaderBytes = size_t{64} << 10;
inline constexpr std::chrono::milliseconds kHttpTimeout{30'000};  // connect + handshake; then the exchange

enum class HttpError : uint8_t {
  kUrl,       // not https://HOST[:PORT][/]
  kResolve,   // the host does not resolve
  kConnect,   // TCP connect refused or failed
  kTls,       // handshake failed (certificate not trusted, no TLS 1.3) or a TLS record error
  kTimeout,   // a step took longer than the timeout
  kTooLarge,  // header or body beyond its bound
  kProtocol,  // not HTTP/1.1, a malformed response, a request header with CR/LF, or the peer closed early
  kCancelled, // the options' cancel_fd became readable (the owner is stopping)
};
std::string_view HttpErrorName(HttpError e);
using HttpResultError = Error<HttpError>;

struct HttpsUrl {
  std::string host;       // a DNS name or IP literal, without brackets
  uint16_t port = 443;
  std::string authority;  // the Host header: HOST[:PORT], IPv6 in brackets
};
// "https://HOST[:PORT][/]" (no path, query, user info or fragment: the client adds its own path). HOST is a DNS
// name, an IPv4 literal or a bracketed IPv6 literal; PORT 1..65535.
Result<HttpsUrl, HttpResultError> ParseHttpsUrl(std::string_view url);

struct HttpsClientOptions {
  std::string ca_pem;  // trust anchors for the server's certificate; empty: no check (activation only)
  std::chrono::milliseconds timeout = kHttpTimeout;
  size_t max_response_bytes = kMaxHttpResponseBytes;
  // When >= 0, every wait also polls this fd: readable ends the call with kCancelled (an eventfd the owner writes
  // to stop a subscriber thread blocked in connect or read). Not owned.
  int cancel_fd = -1;
};

struct HttpRequest {
  std::string method = "POST";
  std::string target;  // "/v1/activate"
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host, Content-Length, Connection
  std::string body;
};

struct HttpResponse {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of this name (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Sans-I/O: a response's bytes as they arrive (TLS plaintext) into Beast's parser, bounded: what Exchange reads
// with, and what the fuzzer drives. Header at most kMaxHttpHeaderBytes, body at most `max_body` bytes.
class HttpResponseReader {
 public:
  explicit HttpResponseReader(size_t max_body);
  HttpResponseReader(HttpResponseReader&&) noexcept;
  HttpResponseReader& operator=(HttpResponseReader&&) noexcept;
  ~HttpResponseReader();
  // Consumes `bytes` (bytes after a complete response are ignored: Connection: close). kTooLarge or kProtocol
  // stick: once failed, every later call fails.
  Result<void, HttpResultError> Feed(std::string_view bytes);
  // The peer closed the stream: completes a body delimited by the close, or fails (kProtocol) if the response is
  // incomplete.
  Result<void, HttpResultError> End();
  bool done() const;
  // The response, once done() (kProtocol for anything but HTTP/1.0 or 1.1).
  Result<HttpResponse, HttpResultError> Take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class HttpsConnection {
 public:
  static Result<HttpsConnection, HttpResultError> Connect(const HttpsUrl& url, const HttpsClientOptions& options);

  HttpsConnection(HttpsConnection&& o) noexcept;
  HttpsConnection& operator=(HttpsConnection&& o) noexcept;
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;
  ~HttpsConnection();

  // TLS-Exporter(label, "", out.size()) of this connection.
  Result<void, HttpResultError> Export(std::string_view label, std::span<uint8_t> out) const;
  // The server's chain as it sent it, leaf first, one PEM CERTIFICATE block each.
  std::vector<std::string> PeerChainPem() const;
  // Sends `request` and reads the whole response (Connection: close). Once per connection.
  Result<HttpResponse, HttpResultError> Exchange(const HttpRequest& request);
  // The event stream (docs/control-plane.md §7.1). Sends `request` and reads the response's header. A `200` with
  // `Transfer-Encoding: chunked` opens a stream: the answer has no body, and ReadStream returns the decoded body as
  // it comes (ChunkedDecoder). Any other answer (a problem, a Content-Length body) is read whole like Exchange and
  // no stream is open. Once per connection (instead of Exchange).
  Result<HttpResponse, HttpResultError> OpenStream(const HttpRequest& request);
  // Waits at most `wait` for more of the stream and appends the decoded bytes to `*out` (none if nothing came:
  // kTimeout is the caller's idle check, not an error here). Returns whether the stream is still open: false once
  // the server ended it (the last chunk, or the close). Errors: kProtocol for bad chunking, kTls, kCancelled.
  Result<bool, HttpResultError> ReadStream(std::chrono::milliseconds wait, std::string* out);

 private:
  struct State;
  using Deadline = std::chrono::steady_clock::time_point;
  explicit HttpsConnection(std::unique_ptr<State> s);
  Result<void, HttpResultError> SendRequest(const HttpRequest& request, Deadline deadline);
  // Reads TLS records until some plaintext (or the close) arrives; appends it. Returns false at the peer's close.
  Result<bool, HttpResultError> ReceivePlain(Deadline deadline, std::string* plain);
  Result<HttpResponse, HttpResultError> ReadWhole(HttpResponseReader& reader, std::string_view first, Deadline deadline);
  Result<void, HttpResultError> DecodeStream(std::string_view raw, std::string* out);
  std::unique_ptr<State> s_;
};

// Checks that `chain_pem` (leaf first, as PeerChainPem returns it) chains to one of the certificates in `ca_pem`
// and that the leaf carries `host` (DNS name or IP literal). The reason says what failed.
Result<void, std::string> VerifyPeerChain(std::span<const std::string> chain_pem, std::string_view ca_pem,
                                          std::string_view host);

// An error answer. `name` is the problem type's name (`urn:strait:problem:<name>` -> `<name>`), or "http-<status>"
// when the body is no problem+json; `detail` is the problem's detail (or title), control characters replaced, at
// most 512 bytes: it goes on one line of stderr.
struct ProblemInfo {
  unsigned status = 0;
  std::string name;
  std::string detail;
};
ProblemInfo DecodeProblem(unsigned status, std::string_view body);
// 403 device-revoked, connector-revoked or relay-revoked: the caller itself is revoked, for good (the subscriber and
// the renewer stop, the daemon exits 1).
bool IsRevocation(const ProblemInfo& p);

}  // namespace strait::control
