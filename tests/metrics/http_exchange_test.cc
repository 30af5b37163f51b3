// metrics::HttpExchange: what the metrics endpoint reads and answers, without sockets.
#include "metrics/http_exchange.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace strait::metrics {
namespace {

using Status = HttpExchange::Status;

std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct Fixture {
  int calls = 0;
  HttpExchange::Render render = [this] {
    ++calls;
    return std::string("strait_up 1\n");
  };
  HttpExchange exchange{&render};
};

TEST(HttpExchange, AnswersGetWithTheRenderedTextAndCloses) {
  Fixture f;
  EXPECT_EQ(f.exchange.Feed(Bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")), Status::kRespond);
  EXPECT_EQ(f.calls, 1);
  const std::string& r = f.exchange.response();
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("Content-Length: 12\r\n"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nstrait_up 1\n")) << r;
}

TEST(HttpExchange, AnswersOtherMethodsWith405WithoutRendering) {
  for (std::string_view req : {"POST / HTTP/1.1\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n", "DELETE /x HTTP/1.0\r\n\r\n"}) {
    Fixture f;
    EXPECT_EQ(f.exchange.Feed(Bytes(req)), Status::kRespond) << req;
    EXPECT_EQ(f.calls, 0);
    EXPECT_NE(f.exchange.response().find(" 405 Method Not Allowed\r\n"), std::string::npos);
    EXPECT_TRUE(f.exchange.response().ends_with("GET only\n"));
  }
}

TEST(HttpExchange, AnswersInTheRequestsVersion) {
  Fixture f;
  ASSERT_EQ(f.exchange.Feed(Bytes("GET / HTTP/1.0\r\n\r\n")), Status::kRespond);
  EXPECT_EQ(f.exchange.response().rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
}

TEST(HttpExchange, ByteAtATimeGivesTheSameAnswer) {
  const std::string_view req = "GET /metrics?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
  Fixture whole;
  ASSERT_EQ(whole.exchange.Feed(Bytes(req)), Status::kRespond);
  Fixture bytewise;
  for (size_t i = 0; i < req.size(); ++i) {
    const Status st = bytewise.exchange.Feed(Bytes(req.substr(i, 1)));
    EXPECT_EQ(st, i + 1 < req.size() ? Status::kNeedMore : Status::kRespond) << i;
  }
  EXPECT_EQ(bytewise.exchange.response(), whole.exchange.response());
  EXPECT_EQ(bytewise.calls, 1);
}

TEST(HttpExchange, OneRequestPerConnection) {
  Fixture f;
  ASSERT_EQ(f.exchange.Feed(Bytes("GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")), Status::kRespond);
  EXPECT_EQ(f.exchange.Feed(Bytes("GET / HTTP/1.1\r\n\r\n")), Status::kRespond);
  EXPECT_EQ(f.calls, 1);
}

TEST(HttpExchange, RefusesGarbageABodyAndAnEarlyEof) {
  {
    Fixture f;
    EXPECT_EQ(f.exchange.Feed(Bytes("\x16\x03\x01\x02\x00\r\n\r\n")), Status::kError);
    EXPECT_TRUE(f.exchange.response().empty());
  }
  {
    Fixture f;
    EXPECT_EQ(f.exchange.Feed(Bytes("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")), Status::kError);
  }
  {
    // Chunked, even empty, and a byte at a time (Boost 1.74's chunk parser asserts on that; never reached).
    Fixture f;
    const std::string_view req = "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    Status st = Status::kNeedMore;
    for (size_t i = 0; i < req.size() && st == Status::kNeedMore; ++i) st = f.exchange.Feed(Bytes(req.substr(i, 1)));
    EXPECT_EQ(st, Status::kError);
    EXPECT_EQ(f.calls, 0);
  }
  {
    Fixture f;
    EXPECT_EQ(f.exchange.Feed(Bytes("GET / HTTP/1.1\r\nHost:")), Status::kNeedMore);
    EXPECT_EQ(f.exchange.FeedEof(), Status::kError);
    EXPECT_EQ(f.calls, 0);
  }
}

TEST(HttpExchange, RefusesAHeadAboveTheBoundHoweverItArrives) {
  std::string big = "GET / HTTP/1.1\r\nX-Pad: " + std::string(HttpExchange::kMaxHeadBytes, 'a') + "\r\n\r\n";
  Fixture whole;
  EXPECT_EQ(whole.exchange.Feed(Bytes(big)), Status::kError);
  Fixture chunked;
  Status st = Status::kNeedMore;
  for (size_t i = 0; i < big.size() && st == Status::kNeedMore; i += 100) {
    st = chunked.exchange.Feed(Bytes(std::string_view(big).substr(i, 100)));
  }
  EXPECT_EQ(st, Status::kError);
  // Just under the bound is fine.
  std::string fits = "GET / HTTP/1.1\r\nX-Pad: " + std::string(HttpExchange::kMaxHeadBytes - 64, 'a') + "\r\n\r\n";
  Fixture ok;
  EXPECT_EQ(ok.exchange.Feed(Bytes(fits)), Status::kRespond);
}

}  // namespace
}  // namespace strait::metrics
