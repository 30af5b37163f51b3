// The demo's HTTP client (cli/demo/client.h) reading responses that a test writes by hand into the other end of a
// socketpair: well-formed ones (Content-Length, chunked, read to EOF, two on one connection, large bodies) and
// broken ones (a bad status line, a bad header, a bad length or chunk, a head above the limit, a connection closed
// before, inside or after the head, or short of the body, and a peer that says nothing). Every broken one is an
// error that names what was wrong; none crashes or hangs. Nothing here touches the network.
#include "cli/demo/client.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace strait::demo {
namespace {

using namespace std::chrono_literals;

// A connected pair: `client` is the demo's Connection, `peer` the raw fd the test writes the response into.
struct Pair {
  Connection client;
  int peer = -1;
  Pair() {
    int fds[2] = {-1, -1};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    client = Connection(fds[0]);
    peer = fds[1];
  }
  ~Pair() { ClosePeer(); }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Writes all of `bytes` at once (the socket buffer holds what these tests send).
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(peer, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << "send into the socketpair";
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  void ClosePeer() {
    if (peer >= 0) ::close(peer);
    peer = -1;
  }
};

Clock::time_point Soon() { return Clock::now() + 10s; }

Result<HttpResponse, std::string> ReadCanned(std::string_view response, bool close_after = true) {
  Pair p;
  p.Send(response);
  if (close_after) p.ClosePeer();
  return ReadHttpResponse(p.client, Soon());
}

std::string HexOf(std::string_view bytes) {
  Sha256 sha;
  sha.Update(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  return Sha256::Hex(sha.Final());
}

TEST(DemoHttpClient, ReadsAContentLengthResponse) {
  auto r = ReadCanned("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->body_bytes, 5u);
  EXPECT_EQ(Sha256::Hex(r->sha256), HexOf("hello"));
  EXPECT_TRUE(r->keep_alive);
}

TEST(DemoHttpClient, ReadsAChunkedResponse) {
  auto r = ReadCanned("HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nnot\r\n6;ext=1\r\n found\r\n0\r\n\r\n",
                      false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "not found");
  EXPECT_EQ(r->body_bytes, 9u);
  EXPECT_EQ(Sha256::Hex(r->sha256), HexOf("not found"));
}

TEST(DemoHttpClient, ReadsABodyThatEndsAtEofAndDoesNotKeepTheConnection) {
  auto r = ReadCanned("HTTP/1.0 200 OK\r\n\r\nuntil the end");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "until the end");
  EXPECT_FALSE(r->keep_alive);
}

TEST(DemoHttpClient, ConnectionCloseHeaderEndsKeepAlive) {
  auto r = ReadCanned("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->keep_alive);
}

TEST(DemoHttpClient, NoContentResponseHasNoBody) {
  auto r = ReadCanned("HTTP/1.1 204 No Content\r\n\r\n", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->body_bytes, 0u);
  EXPECT_TRUE(r->body.empty());
}

// Bytes read past the first response belong to the next one: both arrive in one segment here.
TEST(DemoHttpClient, TwoResponsesInOneReadAreReadOneAfterTheOther) {
  Pair p;
  p.Send("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\noneHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\ntwo");
  auto first = ReadHttpResponse(p.client, Soon());
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, "one");
  auto second = ReadHttpResponse(p.client, Soon());
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(second->status, 201);
  EXPECT_EQ(second->body, "two");
  // Nothing is left over: the next byte read is the peer's EOF.
  p.ClosePeer();
  std::array<uint8_t, 1> b{};
  auto n = p.client.ReadSome(b, Soon());
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(*n, 0u);
}

// A body above 1 MiB is hashed and counted, not kept; one above Beast's default body limit (8 MB) is read whole.
// A writer thread sends it on a blocking socket (the socket buffer is smaller than the body); closing the client's
// end afterwards unblocks the writer whatever happened.
constexpr uint64_t kLargeBody = (9ull << 20) + 17;

TEST(DemoHttpClient, LargeBodyIsHashedButNotKept) {
  Pair p;
  ASSERT_EQ(::fcntl(p.peer, F_SETFL, 0), 0);  // blocking writes
  std::thread writer([peer = p.peer] {
    const std::string head = fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", kLargeBody);
    if (::send(peer, head.data(), head.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(head.size())) return;
    std::vector<uint8_t> chunk(64 * 1024);
    for (uint64_t off = 0; off < kLargeBody;) {
      const auto n = static_cast<std::size_t>(std::min<uint64_t>(chunk.size(), kLargeBody - off));
      FillPattern(off, std::span(chunk).first(n));
      for (std::size_t at = 0; at < n;) {
        const ssize_t w = ::send(peer, chunk.data() + at, n - at, MSG_NOSIGNAL);
        if (w <= 0) return;  // the reader gave up and closed its end
        at += static_cast<std::size_t>(w);
      }
      off += n;
    }
  });
  auto r = ReadHttpResponse(p.client, Soon());
  p.client = Connection();
  writer.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body_bytes, kLargeBody);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(Sha256::Hex(r->sha256), PatternSha256(kLargeBody));
}

struct Broken {
  const char* name;
  std::string response;  // then the peer closes
  const char* error;     // a part of the error text
};

class DemoHttpClientBroken : public ::testing::TestWithParam<Broken> {};

TEST_P(DemoHttpClientBroken, IsAClearError) {
  auto r = ReadCanned(GetParam().response);
  ASSERT_FALSE(r) << "status " << r->status << " body " << r->body;
  EXPECT_NE(r.error().find(GetParam().error), std::string::npos) << r.error();
}

INSTANTIATE_TEST_SUITE_P(
    Responses, DemoHttpClientBroken,
    ::testing::Values(
        Broken{"Empty", "", "connection closed before a response"},
        Broken{"TruncatedStatusLine", "HTTP/1.1 20", "connection closed mid-header"},
        Broken{"TruncatedHeaders", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", "connection closed mid-header"},
        Broken{"TruncatedBody", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
               "connection closed with 90 body bytes missing"},
        Broken{"TruncatedChunkedBody", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
               "connection closed mid-body after 5 bytes"},
        Broken{"NotHttp", "SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed HTTP response (bad version): \"SSH-2.0"},
        Broken{"BadVersion", "HTTP/x.y 200 OK\r\nContent-Length: 0\r\n\r\n", "(bad version)"},
        Broken{"BadStatus", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", "(bad status)"},
        Broken{"HeaderWithoutColon", "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "(bad field)"},
        Broken{"BadContentLength", "HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
               "malformed HTTP response (bad Content-Length)"},
        Broken{"TwoContentLengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
               "(bad Content-Length)"},
        Broken{"BadChunkSize", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
               "malformed HTTP response (bad chunk): \"zz\\r\\n"},
        Broken{"HeadAboveLimit",
               "HTTP/1.1 200 OK\r\nX-Big: " + std::string(17 * 1024, 'a') + "\r\nContent-Length: 0\r\n\r\n",
               "HTTP response head above 16 KiB"}),
    [](const ::testing::TestParamInfo<Broken>& case_info) { return std::string(case_info.param.name); });

// A chunk header that never ends is cut off at the bound, not buffered until the deadline (the peer stays open).
TEST(DemoHttpClient, EndlessChunkHeaderIsRefusedAtTheBound) {
  Pair p;
  p.Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=" + std::string(100 * 1024, 'x'));
  const auto start = Clock::now();
  auto r = ReadHttpResponse(p.client, start + 20s);
  ASSERT_FALSE(r) << "status " << r->status;
  EXPECT_NE(r.error().find("a chunk header or trailer above 16 KiB"), std::string::npos) << r.error();
  EXPECT_LT(Clock::now() - start, 10s);
}

TEST(DemoHttpClient, PeerThatSaysNothingTimesOut) {
  Pair p;
  const auto start = Clock::now();
  auto r = ReadHttpResponse(p.client, start + 200ms);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("timed out"), std::string::npos) << r.error();
  EXPECT_GE(Clock::now() - start, 200ms);
}

}  // namespace
}  // namespace strait::demo
