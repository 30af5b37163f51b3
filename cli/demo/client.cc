#include "cli/demo/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <fmt/format.h>

#include "crypto/hex.h"

namespace strait::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::size_t kMaxHeaderBlock = 16 * 1024;  // a response's status line and headers (Beast's header_limit)
constexpr std::size_t kKeepBodyLimit = 1 << 20;     // HttpResponse::body is kept up to this; longer ones are hashed
constexpr std::size_t kChunk = 64 * 1024;           // one read from the socket, one slice of body
constexpr std::chrono::milliseconds kSlice{100};

// 64 KiB of xorshift output; byte at offset o is table[o % 65536] ^ (o >> 16), so the stream does not repeat
// with a 64 KiB period (a stuck or replayed chunk changes the hash).
const std::array<uint8_t, 65536>& PatternTable() {
  static const std::array<uint8_t, 65536> table = [] {
    std::array<uint8_t, 65536> t{};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& b : t) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b = static_cast<uint8_t>(x >> 24);
    }
    return t;
  }();
  return table;
}

Failure<std::string> Oops(std::string s) { return Fail(std::move(s)); }

std::string_view SocksReplyName(uint8_t rep) {
  switch (rep) {
    case 0x01: return "general failure";
    case 0x02: return "connection not allowed by ruleset";
    case 0x03: return "network unreachable";
    case 0x04: return "host unreachable";
    case 0x05: return "connection refused";
    case 0x06: return "TTL expired";
    case 0x07: return "command not supported";
    case 0x08: return "address type not supported";
    default: return "unknown reply";
  }
}

bool ParseIp(std::string_view host, sockaddr_storage* ss, socklen_t* len) {
  std::string h(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

}  // namespace

void FillPattern(uint64_t offset, std::span<uint8_t> out) {
  const auto& t = PatternTable();
  std::size_t i = 0;
  while (i < out.size()) {
    const uint64_t o = offset + i;
    const std::size_t in_block = static_cast<std::size_t>(o & 0xffff);
    const std::size_t n = std::min(out.size() - i, t.size() - in_block);
    const auto salt = static_cast<uint8_t>(o >> 16);
    for (std::size_t k = 0; k < n; ++k) out[i + k] = static_cast<uint8_t>(t[in_block + k] ^ salt);
    i += n;
  }
}

std::string Sha256::Hex(const std::array<uint8_t, 32>& d) { return crypto::HexEncode(d); }

std::string PatternSha256(uint64_t size) {
  Sha256 sha;
  std::vector<uint8_t> buf(kChunk);
  for (uint64_t off = 0; off < size;) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(buf.size(), size - off));
    FillPattern(off, std::span(buf).first(n));
    sha.Update(std::span(buf).first(n));
    off += n;
  }
  return Sha256::Hex(sha.Final());
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
    rbuf_ = std::move(o.rbuf_);
    rpos_ = o.rpos_;
  }
  return *this;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Status Connection::WaitFor(short events, Clock::time_point deadline) {
  for (;;) {
    if (Interrupted()) return Oops("interrupted");
    const auto now = Clock::now();
    if (now >= deadline) return Oops("timed out");
    const auto wait = std::min<Clock::duration>(deadline - now, kSlice);
    pollfd p{fd_, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
    if (r < 0 && errno != EINTR) return Oops(fmt::format("poll: {}", std::strerror(errno)));
    if (r > 0) return {};
  }
}

Result<Connection, std::string> Connection::Dial(const HostPort& addr, Clock::time_point deadline) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!ParseIp(addr.host, &ss, &len)) return Oops(fmt::format("{}: not a numeric address", addr.host));
  reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(addr.port);  // same offset for v4 and v6
  const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Oops(fmt::format("socket: {}", std::strerror(errno)));
  Connection c(fd);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) return Oops(fmt::format("connect {}:{}: {}", addr.host, addr.port, std::strerror(errno)));
    if (auto w = c.WaitFor(POLLOUT, deadline); !w) return Oops(fmt::format("connect {}:{}: {}", addr.host, addr.port, w.error()));
    int err = 0;
    socklen_t el = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) return Oops(fmt::format("connect {}:{}: {}", addr.host, addr.port, std::strerror(err)));
  }
  return c;
}

Result<Connection, std::string> Connection::ViaSocks5(const HostPort& socks, std::string_view host, uint16_t port,
                                                      Clock::time_point deadline) {
  auto c = Dial(socks, deadline);
  if (!c) return Oops(fmt::format("SOCKS5 door: {}", c.error()));
  std::vector<uint8_t> msg = {5, 1, 0};  // greeting: version 5, one method, no authentication
  if (auto w = c->WriteAll(msg, deadline); !w) return Oops(fmt::format("SOCKS5 greeting: {}", w.error()));
  std::array<uint8_t, 2> sel{};
  if (auto r = c->ReadExact(sel, deadline); !r) return Oops(fmt::format("SOCKS5 method selection: {}", r.error()));
  if (sel[0] != 5 || sel[1] != 0) return Oops(fmt::format("SOCKS5 door refused the no-auth method ({:#x})", sel[1]));
  msg = {5, 1, 0};
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (ParseIp(host, &ss, &len)) {
    if (ss.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
      msg.push_back(1);
      msg.insert(msg.end(), a, a + 4);
    } else {
      const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
      msg.push_back(4);
      msg.insert(msg.end(), a, a + 16);
    }
  } else {
    if (host.empty() || host.size() > 255) return Oops("SOCKS5: bad host name length");
    msg.push_back(3);
    msg.push_back(static_cast<uint8_t>(host.size()));
    msg.insert(msg.end(), host.begin(), host.end());
  }
  msg.push_back(static_cast<uint8_t>(port >> 8));
  msg.push_back(static_cast<uint8_t>(port));
  if (auto w = c->WriteAll(msg, deadline); !w) return Oops(fmt::format("SOCKS5 request: {}", w.error()));
  std::array<uint8_t, 4> head{};
  if (auto r = c->ReadExact(head, deadline); !r) {
    return Oops(fmt::format("SOCKS5 reply for {}:{}: {}", host, port, r.error()));
  }
  if (head[0] != 5) return Oops(fmt::format("SOCKS5 reply version {}", head[0]));
  if (head[1] != 0) {
    return Oops(fmt::format("SOCKS5 CONNECT {}:{} refused: REP {:#04x} ({})", host, port, head[1],
                            SocksReplyName(head[1])));
  }
  std::size_t rest = 0;
  if (head[3] == 1) rest = 4 + 2;
  else if (head[3] == 4) rest = 16 + 2;
  else if (head[3] == 3) {
    std::array<uint8_t, 1> l{};
    if (auto r = c->ReadExact(l, deadline); !r) return Oops(fmt::format("SOCKS5 reply: {}", r.error()));
    rest = l[0] + 2u;
  } else {
    return Oops(fmt::format("SOCKS5 reply address type {}", head[3]));
  }
  std::vector<uint8_t> skip(rest);
  if (auto r = c->ReadExact(skip, deadline); !r) return Oops(fmt::format("SOCKS5 reply: {}", r.error()));
  return std::move(c).value();
}

Status Connection::WriteAll(std::span<const uint8_t> bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (auto w = WaitFor(POLLOUT, deadline); !w) return Oops(fmt::format("send: {}", w.error()));
      continue;
    }
    return Oops(fmt::format("send: {}", std::strerror(errno)));
  }
  return {};
}

Result<std::size_t, std::string> Connection::ReadSome(std::span<uint8_t> out, Clock::time_point deadline) {
  if (out.empty()) return std::size_t{0};
  if (rpos_ < rbuf_.size()) {
    const std::size_t n = std::min(out.size(), rbuf_.size() - rpos_);
    std::memcpy(out.data(), rbuf_.data() + rpos_, n);
    rpos_ += n;
    if (rpos_ == rbuf_.size()) {
      rbuf_.clear();
      rpos_ = 0;
    }
    return n;
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto w = WaitFor(POLLIN, deadline); !w) return Oops(fmt::format("recv: {}", w.error()));
      continue;
    }
    return Oops(fmt::format("recv: {}", std::strerror(errno)));
  }
}

Status Connection::ReadExact(std::span<uint8_t> out, Clock::time_point deadline) {
  while (!out.empty()) {
    auto n = ReadSome(out, deadline);
    if (!n) return Oops(n.error());
    if (*n == 0) return Oops("connection closed by peer");
    out = out.subspan(*n);
  }
  return {};
}

void Connection::Unread(std::string_view bytes) {
  if (bytes.empty()) return;
  rbuf_.erase(0, rpos_);
  rbuf_.insert(0, bytes);
  rpos_ = 0;
}

void Connection::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

Result<HttpResponse, std::string> ReadHttpResponse(Connection& c, Clock::time_point deadline) {
  // Beast's parser fed from our own buffer: put() takes what has arrived and moves body bytes into `out` (a
  // buffer_body), which are hashed and counted at once, so a body of any length needs kChunk of memory (and
  // kKeepBodyLimit for the kept copy). Bytes past the end of this response go back to the connection.
  http::response_parser<http::buffer_body> p;
  p.header_limit(static_cast<std::uint32_t>(kMaxHeaderBlock));
  // No body limit (the demo's bulk downloads are as long as it asks; nothing here grows with them). Not boost::none:
  // Boost 1.74 compares a Content-Length with the optional, and any length is "greater" than none (body_limit).
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  std::string in;  // received, not yet taken by the parser: at most kMaxHeaderBlock plus one read
  std::size_t pos = 0;
  std::vector<char> out(kChunk);
  std::vector<uint8_t> readbuf(kChunk);
  HttpResponse r;
  Sha256 sha;
  bool keep_body = true;
  bool need_input = true;
  for (;;) {
    if (need_input) {
      in.erase(0, pos);
      pos = 0;
      auto n = c.ReadSome(readbuf, deadline);
      if (!n) return Oops(n.error());
      if (*n == 0) {  // EOF: the end of a body that runs to EOF, or a response cut short
        if (!p.is_header_done()) {
          return Oops(in.empty() ? "connection closed before a response" : "connection closed mid-header");
        }
        beast::error_code ec;
        p.put_eof(ec);
        if (ec || !p.is_done()) {
          const auto left = p.content_length_remaining();
          if (left) return Oops(fmt::format("connection closed with {} body bytes missing", *left));
          return Oops(fmt::format("connection closed mid-body after {} bytes", r.body_bytes));
        }
        break;
      }
      in.append(reinterpret_cast<const char*>(readbuf.data()), *n);
      need_input = false;
    }
    p.get().body().data = out.data();
    p.get().body().size = out.size();
    beast::error_code ec;
    const std::size_t used = p.put(asio::buffer(in.data() + pos, in.size() - pos), ec);
    pos += used;
    const std::size_t got = out.size() - p.get().body().size;
    if (got > 0) {
      sha.Update(std::span(reinterpret_cast<const uint8_t*>(out.data()), got));
      r.body_bytes += got;
      if (keep_body && r.body_bytes <= kKeepBodyLimit) {
        r.body.append(out.data(), got);
      } else if (keep_body) {
        keep_body = false;
        r.body = std::string();
      }
    }
    if (p.is_done()) break;
    if (ec == http::error::need_buffer) continue;  // `out` was full; it has been drained above
    if (ec == http::error::header_limit) {
      return Oops(fmt::format("HTTP response head above {} KiB", kMaxHeaderBlock / 1024));
    }
    if (ec && ec != http::error::need_more) {
      const std::string_view at = std::string_view(in).substr(pos, 80);  // where the parser stopped
      return Oops(fmt::format("malformed HTTP response ({}): {:?}", ec.message(), at));
    }
    // need_more, or everything given was used: read on. (put() with bytes left and no error makes progress.)
    // Beast bounds the head (header_limit) but not a chunk header or trailer that never ends: this does.
    if (ec && in.size() - pos > kMaxHeaderBlock) {
      return Oops(fmt::format("HTTP response: a chunk header or trailer above {} KiB", kMaxHeaderBlock / 1024));
    }
    if (ec || pos == in.size() || (used == 0 && got == 0)) need_input = true;
  }
  r.status = static_cast<int>(p.get().result_int());
  r.keep_alive = p.keep_alive();
  r.sha256 = sha.Final();
  c.Unread(std::string_view(in).substr(pos));
  return r;
}

Result<HttpResponse, std::string> HttpGet(Connection& c, std::string_view host, std::string_view path,
                                          Clock::time_point deadline) {
  const std::string req = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: strait-demo\r\n\r\n", path, host);
  if (auto w = c.WriteAll(std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()), deadline); !w) {
    return Oops(w.error());
  }
  return ReadHttpResponse(c, deadline);
}

Result<HttpResponse, std::string> HttpPostPattern(Connection& c, std::string_view host, uint64_t size,
                                                  Clock::time_point deadline, std::string* local_sha) {
  const std::string req = fmt::format(
      "POST /sink HTTP/1.1\r\nHost: {}\r\nUser-Agent: strait-demo\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: {}\r\n\r\n",
      host, size);
  if (auto w = c.WriteAll(std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()), deadline); !w) {
    return Oops(w.error());
  }
  Sha256 sha;
  std::vector<uint8_t> buf(256 * 1024);
  for (uint64_t off = 0; off < size;) {
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(buf.size(), size - off));
    auto chunk = std::span(buf).first(n);
    FillPattern(off, chunk);
    sha.Update(chunk);
    if (auto w = c.WriteAll(chunk, deadline); !w) {
      return Oops(fmt::format("upload stopped after {} of {} bytes: {}", off, size, w.error()));
    }
    off += n;
  }
  *local_sha = Sha256::Hex(sha.Final());
  return ReadHttpResponse(c, deadline);
}

}  // namespace strait::demo
