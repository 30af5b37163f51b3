// EventLoop behaviour over real loopback sockets (port 0). The loop runs on the test thread; clients are plain
// blocking sockets on helper threads. Every wait is on a loop event; a guard timer turns a hang into a failure.
#include "runtime/event_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;
using testing::AdoptAll;
using testing::ConnectLoopback;
using testing::EchoHandler;
using testing::GuardTimer;
using testing::ListenLoopback;
using testing::MakeLoop;
using testing::Pattern;
using testing::ReadExactly;
using testing::WriteAll;

TEST(EventLoop, AcceptStormOf2000ConnectsAllAccepted) {
  constexpr int kConnects = 2000;
  LoopOptions o;
  o.max_connections = kConnects + 16;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);

  struct Counting : EchoHandler {
    int target = 0;
  } handler;
  struct StopAt : AdoptAll {
    using AdoptAll::AdoptAll;
    void OnAccept(EventLoop& l, ListenerId id, int fd) override {
      AdoptAll::OnAccept(l, id, fd);
      if (accepted == kConnects) l.RequestStop();
    }
  } acceptor(&handler);
  ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());

  std::vector<int> clients(kConnects, -1);
  std::atomic<int> connected{0};
  std::thread storm([&] {
    for (int i = 0; i < kConnects; ++i) {
      clients[i] = ConnectLoopback(port);
      if (clients[i] >= 0) connected.fetch_add(1);
    }
  });
  GuardTimer guard(*loop, 60s);
  loop->Run();
  storm.join();
  EXPECT_FALSE(guard.fired) << "accepted " << acceptor.accepted;
  EXPECT_EQ(connected.load(), kConnects);
  EXPECT_EQ(acceptor.accepted, kConnects);
  EXPECT_EQ(acceptor.rejected, 0);
  EXPECT_EQ(handler.closes, kConnects);  // shutdown closed every adopted connection
  EXPECT_EQ(handler.last_reason, CloseReason::kShutdown);
  EXPECT_EQ(loop->open_connections(), 0u);
  for (int fd : clients) {
    if (fd >= 0) close(fd);
  }
}

// Echo with one client; run for each fallback so every degraded path carries real bytes.
struct FallbackCase {
  const char* name;
  FeatureMask allow;
  std::uint32_t zc_threshold;
};

void PrintTo(const FallbackCase& c, std::ostream* os) { *os << c.name; }

class EventLoopFallback : public ::testing::TestWithParam<FallbackCase> {};

TEST_P(EventLoopFallback, EchoesOneMegabyteInOrder) {
  LoopOptions o;
  o.ring.allow = GetParam().allow;
  o.send_zc_threshold = GetParam().zc_threshold;
  o.recv_buffer_count = 64;
  o.plain_buffer_count = 64;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  if (GetParam().zc_threshold > 0 && !loop->features().send_zc) GTEST_SKIP() << "kernel has no IORING_OP_SEND_ZC";
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  EchoHandler echo;
  echo.stop_on_close = true;
  AdoptAll acceptor(&echo);
  ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());

  const std::vector<std::uint8_t> sent = Pattern(1 << 20);
  std::vector<std::uint8_t> got(sent.size());
  bool ok_read = false;
  std::thread client([&] {
    const int fd = ConnectLoopback(port);
    if (fd < 0) return;
    std::thread writer([&] {
      WriteAll(fd, sent);
      shutdown(fd, SHUT_WR);
    });
    ok_read = ReadExactly(fd, got, 30s) && testing::WaitEof(fd, 30s);
    writer.join();
    close(fd);
  });
  GuardTimer guard(*loop, 60s);
  loop->Run();
  client.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_TRUE(ok_read);
  EXPECT_EQ(got, sent);
  EXPECT_EQ(echo.send_failures, 0);
  EXPECT_EQ(echo.last_reason, CloseReason::kLocal);
  if (GetParam().zc_threshold > 0) {
    EXPECT_GT(loop->stats().sends_zc, 0u);
  }
  EXPECT_EQ(loop->plain_pool().available(), loop->plain_pool().count());
  EXPECT_EQ(loop->recv_pool().available(), loop->recv_pool().count());
}

FeatureMask Without(bool FeatureMask::*field) {
  FeatureMask m;
  m.*field = false;
  return m;
}

INSTANTIATE_TEST_SUITE_P(
    Paths, EventLoopFallback,
    ::testing::Values(FallbackCase{"AllFeatures", FeatureMask{}, 0},
                      FallbackCase{"NoMultishotRecv", Without(&FeatureMask::multishot_recv), 0},
                      FallbackCase{"NoBufRing", Without(&FeatureMask::buf_ring), 0},
                      FallbackCase{"NoMultishotAccept", Without(&FeatureMask::multishot_accept), 0},
                      FallbackCase{"NoDeferTaskrun", Without(&FeatureMask::defer_taskrun), 0},
                      FallbackCase{"NoSingleIssuer", Without(&FeatureMask::single_issuer), 0},
                      FallbackCase{"SendZcForEverySend", FeatureMask{}, 1}),
    [](const ::testing::TestParamInfo<FallbackCase>& param) { return std::string(param.param.name); });

TEST(EventLoop, PeerThatStopsReadingPausesRecvAndQueueStaysBounded) {
  LoopOptions o;
  o.send_queue_limit = 256 << 10;
  o.send_high_watermark = 128 << 10;
  o.send_low_watermark = 32 << 10;
  o.buffer_size = 16 << 10;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);

  // Echo server whose client writes 16 MiB before it reads anything: the echo queue must hit the high watermark,
  // recv must pause (the client's writes then block), and everything must flow once the client reads.
  struct Echo : EchoHandler {
    std::atomic<bool>* paused_seen = nullptr;
    void OnSendQueueHigh(EventLoop& l, ConnId id) override {
      EchoHandler::OnSendQueueHigh(l, id);
      paused_seen->store(true);
      paused_seen->notify_all();
    }
  } echo;
  std::atomic<bool> paused_seen{false};
  echo.paused_seen = &paused_seen;
  echo.stop_on_close = true;
  struct SmallSndBuf : AdoptAll {
    using AdoptAll::AdoptAll;
    void OnAccept(EventLoop& l, ListenerId id, int fd) override {
      const int sz = 64 << 10;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
      AdoptAll::OnAccept(l, id, fd);
    }
  } acceptor(&echo);
  ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());

  const std::vector<std::uint8_t> sent = Pattern(16 << 20, 7);
  std::vector<std::uint8_t> got(sent.size());
  bool ok_read = false;
  std::thread client([&] {
    const int fd = ConnectLoopback(port, 64 << 10);
    if (fd < 0) return;
    std::thread writer([&] {
      WriteAll(fd, sent);
      shutdown(fd, SHUT_WR);
    });
    // Read only once the server has paused its reads (bounded wait: the guard timer stops the loop otherwise).
    while (!paused_seen.load()) paused_seen.wait(false);
    ok_read = ReadExactly(fd, got, 60s) && testing::WaitEof(fd, 30s);
    writer.join();
    close(fd);
  });
  GuardTimer guard(*loop, 90s);
  loop->Run();
  if (guard.fired) {
    paused_seen.store(true);
    paused_seen.notify_all();
  }
  client.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_GE(echo.highs, 1);
  EXPECT_GE(echo.lows, 1);
  EXPECT_GE(loop->stats().recv_pauses, 1u);
  EXPECT_GE(loop->stats().recv_resumes, 1u);
  EXPECT_FALSE(echo.data_while_paused);
  EXPECT_EQ(echo.send_failures, 0);
  EXPECT_LE(echo.max_queue, o.send_queue_limit);
  EXPECT_LE(echo.max_queue, o.send_high_watermark + o.buffer_size);
  EXPECT_TRUE(ok_read);
  EXPECT_TRUE(got == sent);
}

TEST(EventLoop, PeerThatVanishesMidSendIsClosedAndSlotReleased) {
  LoopOptions o;
  o.plain_buffer_count = 128;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);

  // Keeps the send queue full of 16 KiB chunks until the peer resets.
  struct Flood : ConnectionHandler, AcceptHandler {
    std::vector<std::uint8_t> chunk = Pattern(16 << 10);
    CloseReason reason = CloseReason::kLocal;
    int closes = 0;
    ConnId conn;
    void Fill(EventLoop& l, ConnId id) {
      while (l.Send(id, chunk) == SendResult::kQueued && l.SendQueueBytes(id) < (512u << 10)) {
      }
    }
    void OnAccept(EventLoop& l, ListenerId, int fd) override {
      conn = l.Adopt(fd, this);
      Fill(l, conn);
    }
    void OnData(EventLoop&, ConnId, Buffer) override {}
    void OnSendQueueLow(EventLoop& l, ConnId id) override { Fill(l, id); }
    void OnClose(EventLoop& l, ConnId, CloseReason r, int) override {
      reason = r;
      ++closes;
      l.RequestStop();
    }
  } flood;
  ASSERT_TRUE(loop->Listen(lfd, &flood).ok());

  std::thread client([&] {
    const int fd = ConnectLoopback(port, 4096);
    if (fd < 0) return;
    std::uint8_t some[1000];
    ReadExactly(fd, some, 30s);  // the server is mid-send now
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);  // RST
  });
  GuardTimer guard(*loop, 30s);
  loop->Run();
  client.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(flood.closes, 1);
  EXPECT_EQ(flood.reason, CloseReason::kPeerReset);
  EXPECT_FALSE(loop->IsOpen(flood.conn));
  EXPECT_EQ(loop->open_connections(), 0u);
  EXPECT_EQ(loop->plain_pool().available(), loop->plain_pool().count());
}

TEST(EventLoop, WakesUpForAMessagePostedFromAnotherThread) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  struct Receiver : MessageHandler {
    Message got;
    int count = 0;
    void OnMessage(EventLoop& l, const Message& m) override {
      got = m;
      ++count;
      l.RequestStop();
    }
  } receiver;
  loop->SetMessageHandler(&receiver);
  std::thread poster([&] { EXPECT_TRUE(loop->Post(Message{7, -1, 42, 43})); });
  GuardTimer guard(*loop, 30s);
  loop->Run();
  poster.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(receiver.count, 1);
  EXPECT_EQ(receiver.got.kind, 7u);
  EXPECT_EQ(receiver.got.a, 42u);
  EXPECT_EQ(receiver.got.b, 43u);
}

TEST(EventLoop, RequestStopFromAnotherThreadEndsAnIdleRun) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  // Nothing else is armed but the guard, which ends the run after 30 s: only the wake-up ends it sooner.
  GuardTimer guard(*loop, 30s);
  std::thread stopper([&] { loop->RequestStop(); });
  loop->Run();
  stopper.join();
  EXPECT_FALSE(guard.fired) << "RequestStop from another thread did not wake the loop";
}

TEST(EventLoop, MailboxRefusesWhenFullAndKeepsFdOwnershipWithCaller) {
  LoopOptions o;
  o.mailbox_capacity = 4;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += loop->Post(Message{1, -1, 0, 0}) ? 1 : 0;
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(loop->post_failures(), 6u);
}

TEST(EventLoop, TimersFireInDeadlineOrderTiesInInsertionOrder) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  struct Recorder : TimerHandler {
    std::vector<std::uint64_t> order;
    std::vector<std::int64_t> late_ns;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::vector<std::chrono::milliseconds> delays;
    void OnTimer(EventLoop& l, TimerId, std::uint64_t arg) override {
      order.push_back(arg);
      const auto elapsed = std::chrono::steady_clock::now() - start;
      late_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed - delays[arg]).count());
      if (order.size() == 6) l.RequestStop();
    }
  } rec;
  rec.delays = {30ms, 10ms, 20ms, 10ms, 0ms, 40ms, 15ms};
  std::vector<TimerId> ids;
  for (std::uint64_t i = 0; i < rec.delays.size(); ++i) ids.push_back(loop->AddTimer(rec.delays[i], &rec, i));
  EXPECT_TRUE(loop->CancelTimer(ids[6]));
  EXPECT_FALSE(loop->CancelTimer(ids[6]));
  GuardTimer guard(*loop, 30s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(rec.order, (std::vector<std::uint64_t>{4, 1, 3, 2, 0, 5}));
  for (std::int64_t late : rec.late_ns) EXPECT_GE(late, 0) << "a timer fired before its deadline";
}

TEST(EventLoop, CleanShutdownWithConnectionsOpenClosesEveryFd) {
  const int fds_before = testing::CountOpenFds();
  {
    auto loop = MakeLoop();
    ASSERT_TRUE(loop);
    std::uint16_t port = 0;
    const int lfd = ListenLoopback(&port);
    EchoHandler server_side;
    struct StopAfter : AdoptAll {
      using AdoptAll::AdoptAll;
      int want = 0;
      void OnAccept(EventLoop& l, ListenerId id, int fd) override {
        AdoptAll::OnAccept(l, id, fd);
        if (accepted == want) l.RequestStop();
      }
    } acceptor(&server_side);
    // 20 outbound connections made by the loop itself plus 20 from a blocking client: 60 loop-owned fds.
    acceptor.want = 40;
    ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());
    EchoHandler outbound;
    for (int i = 0; i < 20; ++i) {
      const ConnId id = loop->Connect(testing::Loopback(port), &outbound);
      ASSERT_TRUE(id.valid());
      const std::uint8_t hello[] = {'h', 'i'};
      EXPECT_EQ(loop->Send(id, hello), SendResult::kQueued);  // queued before the connect completes
    }
    std::vector<int> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(ConnectLoopback(port));
    GuardTimer guard(*loop, 30s);
    loop->Run();
    EXPECT_FALSE(guard.fired);
    EXPECT_EQ(server_side.closes, 40);
    EXPECT_EQ(outbound.closes, 20);
    EXPECT_EQ(outbound.last_reason, CloseReason::kShutdown);
    EXPECT_EQ(loop->open_connections(), 0u);
    for (int fd : clients) {
      EXPECT_TRUE(testing::WaitEof(fd, 10s));  // the server side really closed
      close(fd);
    }
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before);
}

TEST(EventLoop, BufferRingExhaustionRecoversWhenBuffersComeBack) {
  LoopOptions o;
  o.recv_buffer_count = 8;
  o.buffer_size = 4096;
  o.buffer_headroom = 0;
  o.recv_rearm_min_buffers = 4;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  if (!loop->features().multishot_recv) GTEST_SKIP() << "no provided buffer rings / multishot recv on this kernel";
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);

  // Holds every received buffer until the ring has run dry (ENOBUFS counted), then releases them all; the
  // starved recv must be re-armed and the rest of the stream must arrive intact.
  struct Hoarder : ConnectionHandler, TimerHandler {
    std::vector<Buffer> held;
    std::vector<std::uint8_t> got;
    bool released = false;
    void OnData(EventLoop&, ConnId, Buffer b) override {
      got.insert(got.end(), b.data().begin(), b.data().end());
      if (!released) held.push_back(std::move(b));
    }
    void OnTimer(EventLoop& l, TimerId, std::uint64_t) override {
      if (l.stats().recv_enobufs > 0 && !released) {
        released = true;
        held.clear();
      }
      if (!released) l.AddTimer(1ms, this);
    }
    void OnReadClosed(EventLoop& l, ConnId id) override { l.Close(id); }
    void OnClose(EventLoop& l, ConnId, CloseReason, int) override { l.RequestStop(); }
  } hoarder;
  AdoptAll acceptor(&hoarder);
  ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());
  loop->AddTimer(1ms, &hoarder);

  const std::vector<std::uint8_t> sent = Pattern(256 << 10, 3);
  std::thread client([&] {
    const int fd = ConnectLoopback(port);
    if (fd < 0) return;
    WriteAll(fd, sent);
    shutdown(fd, SHUT_WR);
    testing::WaitEof(fd, 30s);
    close(fd);
  });
  GuardTimer guard(*loop, 30s);
  loop->Run();
  client.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_TRUE(hoarder.released);
  EXPECT_GE(loop->stats().recv_enobufs, 1u);
  EXPECT_GE(loop->stats().recv_rearms, 1u);
  EXPECT_TRUE(hoarder.got == sent);
  EXPECT_EQ(loop->recv_pool().available(), loop->recv_pool().count());
}

TEST(EventLoop, ConnectFailureReportsConnectFailed) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  close(lfd);  // nothing listens on `port` now: connect gets ECONNREFUSED
  struct H : EchoHandler {
    int err = 0;
    bool connected = false;
    void OnConnected(EventLoop&, ConnId) override { connected = true; }
    void OnClose(EventLoop& l, ConnId id, CloseReason r, int e) override {
      err = e;
      EchoHandler::OnClose(l, id, r, e);
      l.RequestStop();
    }
  } h;
  ASSERT_TRUE(loop->Connect(testing::Loopback(port), &h).valid());
  GuardTimer guard(*loop, 30s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_FALSE(h.connected);
  EXPECT_EQ(h.last_reason, CloseReason::kConnectFailed);
  EXPECT_EQ(h.err, ECONNREFUSED);
}

TEST(EventLoop, ConnectFromASourceAddress) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  struct H : EchoHandler {
    bool connected = false;
    void OnConnected(EventLoop& l, ConnId /*id*/) override {
      connected = true;
      l.RequestStop();
    }
    void OnClose(EventLoop& l, ConnId id, CloseReason r, int e) override {
      EchoHandler::OnClose(l, id, r, e);
      l.RequestStop();
    }
  } h;
  auto source = ParseSocketAddress("127.0.0.7:0");
  ASSERT_TRUE(source);
  const ConnId id = loop->Connect(testing::Loopback(port), &h, 0, nullptr, &*source);
  ASSERT_TRUE(id.valid());
  // A source the host does not have: the bind fails, no slot is used and no callback follows.
  auto foreign = ParseSocketAddress("192.0.2.1:0");
  ASSERT_TRUE(foreign);
  int err = 0;
  EXPECT_FALSE(loop->Connect(testing::Loopback(port), &h, 0, &err, &*foreign).valid());
  EXPECT_EQ(err, EADDRNOTAVAIL);
  EXPECT_EQ(loop->open_connections(), 1u);  // only the first one
  GuardTimer guard(*loop, 30s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  ASSERT_TRUE(h.connected);
  sockaddr_in peer{};
  socklen_t len = sizeof(peer);
  const int afd = accept4(lfd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
  ASSERT_GE(afd, 0);
  EXPECT_EQ(ntohl(peer.sin_addr.s_addr), 0x7f000007u);  // the connection came from 127.0.0.7
  close(afd);
  close(lfd);
}

TEST(EventLoop, StaleConnIdIsRejectedAfterSlotReuse) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  int a[2];
  int b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
  struct H : EchoHandler {
    int reuse_fd = -1;
    ConnId first;
    ConnId second;
    SendResult stale_send = SendResult::kQueued;
    SendResult fresh_send = SendResult::kClosed;
    void OnClose(EventLoop& l, ConnId id, CloseReason r, int e) override {
      EchoHandler::OnClose(l, id, r, e);
      if (id == first) {
        second = l.Adopt(reuse_fd, this);  // the free list is LIFO: same slot, next generation
        const std::uint8_t x = 1;
        stale_send = l.Send(first, std::span<const std::uint8_t>(&x, 1));
        fresh_send = l.Send(second, std::span<const std::uint8_t>(&x, 1));
        l.Close(second);
      } else {
        l.RequestStop();
      }
    }
  } h;
  h.reuse_fd = b[0];
  h.first = loop->Adopt(a[0], &h);
  ASSERT_TRUE(h.first.valid());
  loop->Close(h.first);
  GuardTimer guard(*loop, 30s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(h.closes, 2);
  EXPECT_EQ(h.second.slot, h.first.slot);
  EXPECT_NE(h.second.gen, h.first.gen);
  EXPECT_EQ(h.stale_send, SendResult::kClosed);
  EXPECT_EQ(h.fresh_send, SendResult::kQueued);
  EXPECT_FALSE(loop->IsOpen(h.first));
  close(a[1]);
  close(b[1]);
}

}  // namespace
}  // namespace strait::runtime
