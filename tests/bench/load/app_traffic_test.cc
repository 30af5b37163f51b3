// The traffic engines (bench/suite/load/app_traffic.h) against the in-process servers (app_servers.h), on loopback:
// straight to the servers (the direct baseline's path), and once through a minimal SOCKS5 door that echoes itself.
// Counts are checked against the schedule and against each other, never against the clock (the machine is shared).
#include "bench/suite/load/app_traffic.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bench/suite/load/app_servers.h"
#include "cli/demo/client.h"

namespace strait::bench {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

std::unique_ptr<AppServer> StartServer(AppServerKind kind, std::uint32_t max_connections = 4096) {
  AppServerOptions o;
  o.kind = kind;
  o.max_connections = max_connections;
  auto s = AppServer::Start(o);
  EXPECT_TRUE(s) << (s ? "" : s.error());
  return s ? std::move(*s) : nullptr;
}

// A port on 127.0.0.1 nothing listens on (bound, then closed: connecting to it is refused).
std::uint16_t ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

void ExpectConsistent(const LatencyResult& r) {
  EXPECT_EQ(r.histogram.count(), r.completed);
  EXPECT_EQ(r.sent, r.completed + r.unanswered);
  std::uint64_t previous = 0;
  for (double q : {0.5, 0.9, 0.99, 0.999, 1.0}) {
    const std::uint64_t p = r.histogram.Percentile(q);
    EXPECT_GE(p, previous) << "q=" << q;
    previous = p;
  }
  EXPECT_EQ(r.histogram.Percentile(1.0), r.histogram.max());
  std::uint64_t ops = 0;
  double t = 0;
  for (const TimelineSample& s : r.timeline) {
    EXPECT_GT(s.t, t);
    t = s.t;
    ops += s.ops;
  }
  EXPECT_LE(ops, r.completed);  // the drain's completions are in the histogram only
}

TEST(AppServer, EchoesEveryByteAndSinkCountsThem) {
  auto echo = StartServer(AppServerKind::kEcho);
  auto sink = StartServer(AppServerKind::kSink);
  ASSERT_TRUE(echo && sink);
  EXPECT_NE(echo->port(), 0);
  const auto deadline = steady_clock::now() + seconds(10);
  auto c = demo::Connection::Dial(echo->address(), deadline);
  ASSERT_TRUE(c) << c.error();
  std::vector<std::uint8_t> out(100'000), in(out.size());
  demo::FillPattern(0, out);
  std::thread writer([&] { ASSERT_TRUE(c->WriteAll(out, deadline)); });  // more than the echo's buffer
  ASSERT_TRUE(c->ReadExact(in, deadline));
  writer.join();
  EXPECT_EQ(in, out);
  while (echo->bytes_sent() < out.size() && steady_clock::now() < deadline) {  // counted just after the send
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(echo->bytes_sent(), out.size());

  auto d = demo::Connection::Dial(sink->address(), deadline);
  ASSERT_TRUE(d) << d.error();
  ASSERT_TRUE(d->WriteAll(out, deadline));
  while (sink->bytes_received() < out.size() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(sink->bytes_received(), out.size());
  EXPECT_EQ(sink->bytes_sent(), 0u);
  EXPECT_EQ(sink->connections_accepted(), 1u);
  sink->Stop();
  sink->Stop();  // idempotent
}

TEST(AppServer, RefusesConnectionsBeyondItsBound) {
  auto echo = StartServer(AppServerKind::kEcho, 1);
  ASSERT_TRUE(echo);
  const auto deadline = steady_clock::now() + seconds(10);
  auto first = demo::Connection::Dial(echo->address(), deadline);
  ASSERT_TRUE(first);
  std::array<std::uint8_t, 1> b{7};
  ASSERT_TRUE(first->WriteAll(b, deadline));
  ASSERT_TRUE(first->ReadExact(b, deadline));  // accepted and served
  auto second = demo::Connection::Dial(echo->address(), deadline);
  ASSERT_TRUE(second);  // the kernel completes the handshake; the server then closes it
  auto n = second->ReadSome(b, deadline);
  EXPECT_TRUE(!n || *n == 0);
  EXPECT_EQ(echo->connections_refused(), 1u);
  EXPECT_EQ(echo->connections_open(), 1u);
}

TEST(AppServer, RefusesBadOptions) {
  AppServerOptions o;
  o.host = "not-an-ip";
  EXPECT_FALSE(AppServer::Start(o));
  o = {};
  o.max_connections = 0;
  EXPECT_FALSE(AppServer::Start(o));
  o = {};
  o.buffer_bytes = 10;
  EXPECT_FALSE(AppServer::Start(o));
}

TEST(RunLatency, OpenLoopCompletesAboutRateTimesSeconds) {
  auto echo = StartServer(AppServerKind::kEcho);
  ASSERT_TRUE(echo);
  LatencyOptions o;
  o.to.target = echo->address();
  o.connections = 4;
  o.rate = 2000;
  o.warmup_s = 0.2;
  o.seconds = 1;
  o.timeout_s = 10;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->streams_up, 4u);
  EXPECT_FALSE(r->stopped_early);
  EXPECT_DOUBLE_EQ(r->seconds, 1.0);
  // The window holds 2000 intended send times (each stream's ceil(500) + 1 at most); every one is sent or dropped.
  EXPECT_GE(r->completed, 1000u);
  EXPECT_LE(r->sent + r->dropped, 2000u + 4u);
  EXPECT_LE(r->completed, 2101u);
  EXPECT_GT(r->histogram.min(), 0u);
  EXPECT_NEAR(r->achieved_rate, static_cast<double>(r->completed), 1e-6);
  ExpectConsistent(*r);
  ASSERT_EQ(r->timeline.size(), 1u);
  EXPECT_DOUBLE_EQ(r->timeline[0].t, 1.0);
  EXPECT_EQ(r->timeline[0].bytes, r->timeline[0].ops * 64);
  // Warm-up requests went to the echo too, but are not in the figures.
  EXPECT_GT(echo->bytes_received(), r->completed * 64);
}

TEST(RunLatency, ClosedLoopMeasuresEveryRequestFromItsSend) {
  auto echo = StartServer(AppServerKind::kEcho);
  ASSERT_TRUE(echo);
  LatencyOptions o;
  o.to.target = echo->address();
  o.connections = 2;
  o.size = 1000;
  o.closed = true;
  o.warmup_s = 0.1;
  o.seconds = 0.5;
  o.timeout_s = 10;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_GT(r->completed, 0u);
  EXPECT_GT(r->histogram.min(), 0u);
  EXPECT_EQ(r->dropped, 0u);
  EXPECT_EQ(r->late, 0u);
  EXPECT_EQ(r->unanswered, 0u);  // the drain waits for the last request of each stream
  ExpectConsistent(*r);
  ASSERT_EQ(r->timeline.size(), 1u);
  EXPECT_DOUBLE_EQ(r->timeline[0].t, 0.5);
}

TEST(RunLatency, ATinyBacklogDropsInsteadOfQueueing) {
  auto echo = StartServer(AppServerKind::kEcho);
  ASSERT_TRUE(echo);
  LatencyOptions o;
  o.to.target = echo->address();
  o.connections = 1;
  o.size = 65536;     // each answer takes a while ...
  o.rate = 1'000'000;  // ... and one is due every microsecond
  o.max_outstanding = 1;
  o.warmup_s = 0;
  o.seconds = 0.3;
  o.timeout_s = 10;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_GT(r->dropped, 0u);
  EXPECT_GT(r->completed, 0u);
  ExpectConsistent(*r);
}

TEST(RunLatency, UnreachableTargetGivesErrorsNotAHang) {
  LatencyOptions o;
  o.to.target = demo::HostPort{"127.0.0.1", ClosedPort()};
  o.connections = 3;
  o.seconds = 5;
  o.timeout_s = 2;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 3u);
  EXPECT_EQ(r->streams_up, 0u);
  EXPECT_EQ(r->completed, 0u);
  EXPECT_FALSE(r->first_error.empty());

  BulkOptions b;
  b.to = o.to;
  b.streams = 2;
  b.seconds = 5;
  b.timeout_s = 2;
  auto rb = RunBulk(b);
  ASSERT_TRUE(rb) << rb.error();
  EXPECT_EQ(rb->errors, 2u);
  EXPECT_EQ(rb->bytes, 0u);
}

TEST(RunLatency, AnEchoThatGoesAwayCountsErrors) {
  auto echo = StartServer(AppServerKind::kEcho);
  ASSERT_TRUE(echo);
  LatencyOptions o;
  o.to.target = echo->address();
  o.connections = 3;
  o.rate = 1000;
  o.warmup_s = 0;
  o.seconds = 60;
  o.timeout_s = 10;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    echo->Stop();  // closes every connection
  });
  auto r = RunLatency(o);
  stopper.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 3u);
  EXPECT_FALSE(r->first_error.empty());
  EXPECT_FALSE(r->stopped_early);
  EXPECT_LT(r->seconds, 60.0);  // the run ended when no stream was left
  EXPECT_GT(r->completed, 0u);
  ExpectConsistent(*r);
  std::uint64_t errors = 0;
  for (const TimelineSample& s : r->timeline) errors += s.errors;
  EXPECT_EQ(errors, 3u);
}

TEST(RunLatency, TheStopFlagEndsTheRunWithPartialFigures) {
  auto echo = StartServer(AppServerKind::kEcho);
  ASSERT_TRUE(echo);
  std::atomic<bool> stop{false};
  LatencyOptions o;
  o.to.target = echo->address();
  o.connections = 2;
  o.rate = 1000;
  o.warmup_s = 0;
  o.seconds = 60;
  o.timeout_s = 10;
  o.stop = &stop;
  std::vector<TimelineSample> live;
  o.on_sample = [&](const TimelineSample& s) { live.push_back(s); };
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  auto r = RunLatency(o);
  stopper.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->stopped_early);
  EXPECT_LT(r->seconds, 60.0);
  EXPECT_GT(r->seconds, 0.0);
  EXPECT_GT(r->completed, 0u);
  EXPECT_EQ(r->errors, 0u);
  ExpectConsistent(*r);
  ASSERT_FALSE(r->timeline.empty());
  EXPECT_DOUBLE_EQ(r->timeline.back().t, r->seconds);
  EXPECT_EQ(live, r->timeline);
}

TEST(RunLatency, RefusesBadOptions) {
  LatencyOptions good;
  good.to.target = demo::HostPort{"127.0.0.1", 9};
  auto bad = [&](auto change) {
    LatencyOptions o = good;
    change(o);
    return !RunLatency(o);
  };
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.size = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.size = kMaxRequestBytes + 1; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.rate = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.connections = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.connections = kMaxTrafficStreams + 1; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.max_outstanding = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) {  // 2^12 x 2^11 = 2^23 send times in flight: past the total bound
    o.connections = 4096;
    o.max_outstanding = 2048;
  }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.seconds = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.warmup_s = -1; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.timeout_s = 0; }));
  EXPECT_TRUE(bad([](LatencyOptions& o) { o.to.target.port = 0; }));
  BulkOptions b;
  b.to = good.to;
  b.streams = 0;
  EXPECT_FALSE(RunBulk(b));
}

TEST(RunBulk, MovesBytesAndTheTimelineSumsToTheTotal) {
  auto sink = StartServer(AppServerKind::kSink);
  ASSERT_TRUE(sink);
  BulkOptions o;
  o.to.target = sink->address();
  o.streams = 3;
  o.warmup_s = 0.2;
  o.seconds = 1.5;
  o.timeout_s = 10;
  std::vector<TimelineSample> live;
  o.on_sample = [&](const TimelineSample& s) { live.push_back(s); };
  auto r = RunBulk(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->streams_up, 3u);
  EXPECT_GT(r->bytes, 0u);
  EXPECT_DOUBLE_EQ(r->seconds, 1.5);
  EXPECT_NEAR(r->bytes_per_s, static_cast<double>(r->bytes) / 1.5, 1.0);
  ASSERT_EQ(r->stream_bytes.size(), 3u);
  EXPECT_EQ(std::accumulate(r->stream_bytes.begin(), r->stream_bytes.end(), std::uint64_t{0}), r->bytes);
  EXPECT_LE(r->min_stream_bytes, r->max_stream_bytes);
  EXPECT_GT(r->min_stream_bytes, 0u);
  // The samples bucket the same writes by time, so they sum to the total exactly.
  ASSERT_EQ(r->timeline.size(), 2u);
  EXPECT_DOUBLE_EQ(r->timeline[0].t, 1.0);
  EXPECT_DOUBLE_EQ(r->timeline[1].t, 1.5);
  EXPECT_EQ(r->timeline[0].bytes + r->timeline[1].bytes, r->bytes);
  EXPECT_EQ(live, r->timeline);  // the progress callback saw each sample once, complete
  // What was written in the window (and the warm-up before it) reaches the sink.
  const auto deadline = steady_clock::now() + seconds(10);
  while (sink->bytes_received() < r->bytes && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(sink->bytes_received(), r->bytes);
}

TEST(RunBulk, TheStopFlagEndsTheRunWithPartialFigures) {
  auto sink = StartServer(AppServerKind::kSink);
  ASSERT_TRUE(sink);
  std::atomic<bool> stop{false};
  BulkOptions o;
  o.to.target = sink->address();
  o.streams = 2;
  o.warmup_s = 0;
  o.seconds = 60;
  o.timeout_s = 10;
  o.stop = &stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  auto r = RunBulk(o);
  stopper.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->stopped_early);
  EXPECT_LT(r->seconds, 60.0);
  EXPECT_GT(r->bytes, 0u);
  std::uint64_t sum = 0;
  for (const TimelineSample& s : r->timeline) sum += s.bytes;
  EXPECT_EQ(sum, r->bytes);
}

// A SOCKS5 door that answers CONNECT with success and then echoes itself, recording what each CONNECT asked for.
class EchoingSocksDoor {
 public:
  explicit EchoingSocksDoor(int connections) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    timeval tv{10, 0};  // every wait of the door is bounded
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    acceptor_ = std::thread([this, connections, tv] {
      for (int i = 0; i < connections; ++i) {
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (!Handshake(c)) {
          ::close(c);
          continue;
        }
        echoes_.emplace_back([c] {
          std::array<char, 4096> buf;
          for (;;) {
            const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
            if (n <= 0 || ::send(c, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
          }
          ::close(c);
        });
      }
    });
  }
  ~EchoingSocksDoor() {
    acceptor_.join();
    for (std::thread& t : echoes_) t.join();
    ::close(fd_);
  }
  demo::HostPort address() const { return {"127.0.0.1", port_}; }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  static bool ReadExact(int c, void* p, std::size_t n) {
    return ::recv(c, p, n, MSG_WAITALL) == static_cast<ssize_t>(n);
  }
  bool Handshake(int c) {
    std::array<std::uint8_t, 262> b{};
    if (!ReadExact(c, b.data(), 3) || b[0] != 5) return false;
    const std::uint8_t choose[2] = {5, 0};
    if (::send(c, choose, 2, MSG_NOSIGNAL) != 2) return false;
    if (!ReadExact(c, b.data(), 4) || b[1] != 1 || b[3] != 3) return false;  // CONNECT to a name
    std::uint8_t len = 0;
    if (!ReadExact(c, &len, 1) || !ReadExact(c, b.data(), len + 2u)) return false;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(std::string(reinterpret_cast<char*>(b.data()), len) + ":" +
                          std::to_string((b[len] << 8) | b[len + 1]));
    }
    const std::uint8_t ok[10] = {5, 0, 0, 1, 0, 0, 0, 0, 0, 0};
    return ::send(c, ok, sizeof ok, MSG_NOSIGNAL) == sizeof ok;
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> echoes_;  // the acceptor's only, joined after it
  std::mutex mu_;
  std::vector<std::string> requests_;
};

TEST(RunLatency, GoesThroughTheSocksDoorToTheTarget) {
  EchoingSocksDoor door(2);
  LatencyOptions o;
  o.to.target = demo::HostPort{"echo.bench.invalid", 7007};
  o.to.doors = {door.address()};
  o.connections = 2;
  o.rate = 500;
  o.warmup_s = 0;
  o.seconds = 0.5;
  o.timeout_s = 10;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->streams_up, 2u);
  EXPECT_GT(r->completed, 0u);
  ExpectConsistent(*r);
  EXPECT_EQ(door.requests(), (std::vector<std::string>{"echo.bench.invalid:7007", "echo.bench.invalid:7007"}));
}

// Streams spread over several doors (a device each) in turn: 5 streams over 2 doors are 3 and 2.
TEST(RunLatency, StreamsTakeTheDoorsInTurn) {
  EchoingSocksDoor first(3), second(2);
  LatencyOptions o;
  o.to.target = demo::HostPort{"echo.bench.invalid", 7007};
  o.to.doors = {first.address(), second.address()};
  o.connections = 5;
  o.rate = 500;
  o.warmup_s = 0;
  o.seconds = 0.5;
  o.timeout_s = 10;
  auto r = RunLatency(o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->errors, 0u) << r->first_error;
  EXPECT_EQ(r->streams_up, 5u);
  EXPECT_EQ(first.requests().size(), 3u);
  EXPECT_EQ(second.requests().size(), 2u);
}

}  // namespace
}  // namespace strait::bench
