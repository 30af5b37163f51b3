// The demo's client side (also used by tests/e2e/ and bench/app/): a tiny SOCKS5 client (RFC 1928 CONNECT, no auth)
// and a minimal HTTP/1.1 client over blocking sockets, every wait bounded by a deadline and cut short by
// demo::Interrupted(). Responses are parsed by Boost.Beast's parser (as the demo's server parses requests): status
// line, headers, Content-Length, chunked, or a body up to EOF. No curl: the strait process links BoringSSL only
// (design.md "One TLS library per process").
//
// Also the deterministic content the internal server serves (/bytes/N) and accepts (POST /sink), and SHA-256.
//
// Thread-safety: a Connection belongs to one thread; free functions share nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <openssl/sha.h>

#include "crypto/result.h"
#include "cli/demo/process.h"

namespace strait::demo {

// Byte `offset + i` of the deterministic stream, for i in [0, out.size()). Cheap (a table lookup per byte).
void FillPattern(uint64_t offset, std::span<uint8_t> out);

class Sha256 {
 public:
  Sha256() { SHA256_Init(&ctx_); }
  void Update(std::span<const uint8_t> bytes) { SHA256_Update(&ctx_, bytes.data(), bytes.size()); }
  std::array<uint8_t, 32> Final() {
    std::array<uint8_t, 32> d{};
    SHA256_Final(d.data(), &ctx_);
    return d;
  }
  static std::string Hex(const std::array<uint8_t, 32>& d);

 private:
  SHA256_CTX ctx_;
};
// SHA-256 (hex) of the first `size` bytes of the deterministic stream.
std::string PatternSha256(uint64_t size);

using Status = Result<void, std::string>;

// One blocking TCP socket (owned), TCP_NODELAY.
class Connection {
 public:
  Connection() = default;
  explicit Connection(int fd) : fd_(fd) {}
  Connection(Connection&& o) noexcept : fd_(o.fd_), rbuf_(std::move(o.rbuf_)), rpos_(o.rpos_) { o.fd_ = -1; }
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // TCP connect to a numeric address.
  static Result<Connection, std::string> Dial(const HostPort& addr, Clock::time_point deadline);
  // TCP connect to the SOCKS5 door `socks`, then CONNECT to `host:port` (host: IPv4/IPv6 literal or a name, sent
  // as ATYP 1/4/3). On failure the reason names the SOCKS reply code.
  static Result<Connection, std::string> ViaSocks5(const HostPort& socks, std::string_view host, uint16_t port,
                                                   Clock::time_point deadline);

  Status WriteAll(std::span<const uint8_t> bytes, Clock::time_point deadline);
  // Reads at least one byte (buffered bytes first). 0 = EOF.
  Result<std::size_t, std::string> ReadSome(std::span<uint8_t> out, Clock::time_point deadline);
  Status ReadExact(std::span<uint8_t> out, Clock::time_point deadline);
  // Puts bytes that were read but not used (past the end of an HTTP response) back in front of the next read.
  void Unread(std::string_view bytes);
  void ShutdownWrite();
  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }

 private:
  // Waits for `events` on the socket until the deadline (sliced for interrupts).
  Status WaitFor(short events, Clock::time_point deadline);

  int fd_ = -1;
  std::string rbuf_;  // bytes given back by Unread, served before the socket's
  std::size_t rpos_ = 0;
};

struct HttpResponse {
  int status = 0;
  std::string body;                   // kept only for bodies up to 1 MiB (empty for longer ones)
  uint64_t body_bytes = 0;            // after chunked decoding
  std::array<uint8_t, 32> sha256{};   // of the whole body
  bool keep_alive = true;             // false for Connection: close, HTTP/1.0, or a body that ran to EOF
};

// Reads one response from `c` (the request was written already). Bounds: the status line and headers at most
// 16 KiB, and so is each chunk header and the trailer; the body any length (hashed as it arrives, kept up to
// 1 MiB). Errors: "timed out", "interrupted", "connection closed before a response" / "mid-header" / "with N body
// bytes missing" / "mid-body after N bytes", "HTTP response head above 16 KiB", "HTTP response: a chunk header or
// trailer above 16 KiB", "malformed HTTP response (<Beast's reason>): <the bytes where it stopped>".
Result<HttpResponse, std::string> ReadHttpResponse(Connection& c, Clock::time_point deadline);

// GET `path` on an open connection (keep-alive). `host` goes in the Host header.
Result<HttpResponse, std::string> HttpGet(Connection& c, std::string_view host, std::string_view path,
                                          Clock::time_point deadline);
// POST `size` bytes of the deterministic stream to /sink; the internal server answers "<bytes> <sha256 hex>".
// Returns the server's answer; *local_sha gets the client-side hash of what was sent.
Result<HttpResponse, std::string> HttpPostPattern(Connection& c, std::string_view host, uint64_t size,
                                                  Clock::time_point deadline, std::string* local_sha);

}  // namespace strait::demo
