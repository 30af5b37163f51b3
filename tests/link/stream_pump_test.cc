// StreamPump over real loopback TCP on a real event loop, with two in-memory StreamMuxes (device and connector)
// joined by a shuttle that runs as a loop timer (never inside a mux callback). No sleeps: the loop runs until the
// test's condition stops it; a guard timer turns a hang into a failure.
#include "tunnel/link/stream_pump.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tests/link/link_test_util.h"
#include "tunnel/inner_frame.h"

namespace strait::link {
namespace {

using runtime::Buffer;
using runtime::ConnId;
using runtime::EventLoop;
using tunnel::ErrorCode;
using tunnel::StreamId;

std::vector<std::uint8_t> Pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return v;
}

// A loopback TCP server on the test loop. Modes: echo (send back, shut down on EOF), sink (never reads),
// greet (send a greeting, shut the write side, then collect until EOF), reset (abortive close at once).
class TargetServer final : public runtime::AcceptHandler, public runtime::ConnectionHandler {
 public:
  enum class Mode { kEcho, kSink, kGreet, kReset };
  TargetServer(EventLoop& loop, Mode mode) : mode_(mode) {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress("127.0.0.1:0").value(), {});
    EXPECT_TRUE(fd.ok());
    address = runtime::LocalAddress(*fd).value();
    EXPECT_TRUE(loop.Listen(*fd, this).ok());
  }
  void OnAccept(EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    if (mode_ == Mode::kSink) {
      int small = 4096;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    if (mode_ == Mode::kReset) {
      linger l{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(fd);
      return;
    }
    ConnId id = loop.Adopt(fd, this);
    ASSERT_TRUE(id.valid());
    ++accepted;
    if (mode_ == Mode::kSink) loop.PauseRecv(id);
    if (mode_ == Mode::kGreet) {
      static const char kHello[] = "hello from target";
      ASSERT_EQ(loop.Send(id, std::span(reinterpret_cast<const std::uint8_t*>(kHello), sizeof kHello - 1)),
                runtime::SendResult::kQueued);
      loop.ShutdownWrite(id);
    }
  }
  void OnData(EventLoop& loop, ConnId id, Buffer data) override {
    received.insert(received.end(), data.data().begin(), data.data().end());
    if (mode_ == Mode::kEcho) {
      EXPECT_EQ(loop.Send(id, std::move(data)), runtime::SendResult::kQueued);
    }
  }
  void OnReadClosed(EventLoop& loop, ConnId id) override {
    got_eof = true;
    if (notify) notify();
    if (mode_ == Mode::kEcho) loop.Close(id, runtime::CloseMode::kGraceful);  // sends what is queued first
    if (mode_ == Mode::kGreet) loop.Close(id, runtime::CloseMode::kGraceful);
  }
  void OnClose(EventLoop& /*loop*/, ConnId /*id*/, runtime::CloseReason /*reason*/, int /*err*/) override {
    ++closed;
    if (notify) notify();
  }
  std::function<void()> notify;  // the harness re-checks its condition

  runtime::SocketAddress address;
  std::vector<std::uint8_t> received;
  bool got_eof = false;
  int accepted = 0;
  int closed = 0;

 private:
  Mode mode_;
};

// Connector side (pumps) + device side (the test's own stream ends) + the shuttle between the two muxes.
class Harness final : public StreamPumpHost, public runtime::TimerHandler {
 public:
  struct DeviceStream {
    bool accepted = false;
    bool fin = false;
    std::optional<ErrorCode> reset;
    std::vector<std::uint8_t> received;
    std::vector<std::uint8_t> to_send;
    std::size_t sent = 0;
    bool close_after_send = false;
    bool fin_sent = false;
    bool hold = false;  // do not Consume what arrives (a slow device reader)
  };

  explicit Harness(EventLoop& loop) : loop_(loop) {
    tunnel::MuxOptions d;
    d.role = tunnel::MuxRole::kDevice;
    tunnel::MuxOptions c;
    c.role = tunnel::MuxRole::kConnector;
    device_ = std::make_unique<tunnel::StreamMux>(d, &device_visitor_);
    connector_ = std::make_unique<tunnel::StreamMux>(c, &connector_visitor_);
    device_visitor_.h = this;
    connector_visitor_.h = this;
  }

  StreamId Open(const runtime::SocketAddress& to) {
    const auto* v4 = reinterpret_cast<const std::uint8_t*>(&to.u.v4.sin_addr);
    tunnel::OpenTarget t{tunnel::AddrType::kIPv4, std::span(v4, 4), ntohs(to.u.v4.sin_port)};
    auto r = device_->Open(t);
    EXPECT_EQ(r.status, tunnel::CallStatus::kOk);
    streams[r.id];
    Kick();
    return r.id;
  }
  void Send(StreamId id, std::vector<std::uint8_t> bytes, bool close_after) {
    auto& s = streams[id];
    s.to_send = std::move(bytes);
    s.sent = 0;
    s.close_after_send = close_after;
    DeviceWrite(id);
  }

  // ---- StreamPumpHost ----
  tunnel::StreamMux* PumpMux(StreamPump& /*pump*/) override { return connector_.get(); }
  void PumpOutput(StreamPump& /*pump*/) override { Kick(); }
  void PumpConnected(StreamPump& pump) override {
    EXPECT_EQ(connector_->Accept(pump.stream_id()), tunnel::CallStatus::kOk);
    pump.Attach(pump.conn());
    Kick();
  }
  void PumpDone(StreamPump& pump, bool connected, runtime::CloseReason /*reason*/, int /*err*/) override {
    if (!connected) {
      EXPECT_EQ(connector_->Reject(pump.stream_id(), ErrorCode::kConnectFailed), tunnel::CallStatus::kOk);
      Kick();
    }
    ++pumps_done;
    pumps.erase(pump.stream_id());
    Kick();
  }

  void Kick() {
    if (!shuttle_armed_) shuttle_armed_ = loop_.AddTimer(std::chrono::nanoseconds(0), this).valid();
  }
  void OnTimer(EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    shuttle_armed_ = false;
    bool moved = true;
    while (moved) {
      moved = false;
      std::size_t n;
      while ((n = device_->PollOutgoing(buf_)) > 0) {
        EXPECT_EQ(connector_->OnPlaintext(std::span(buf_, n)), tunnel::MuxReason::kOk);
        moved = true;
      }
      while ((n = connector_->PollOutgoing(buf_)) > 0) {
        EXPECT_EQ(device_->OnPlaintext(std::span(buf_, n)), tunnel::MuxReason::kOk);
        moved = true;
      }
    }
    EXPECT_TRUE(device_->CheckInvariants());
    EXPECT_TRUE(connector_->CheckInvariants());
    while (step < steps.size() && steps[step].first()) {
      if (steps[step].second) steps[step].second();
      ++step;
      Kick();
    }
    if (step == steps.size()) loop_.RequestStop();
  }

  void DeviceWrite(StreamId id) {
    auto& s = streams[id];
    if (!s.accepted || s.reset) return;
    while (s.sent < s.to_send.size()) {
      std::size_t n = device_->Write(id, std::span(s.to_send).subspan(s.sent));
      if (n == 0) break;
      s.sent += n;
    }
    if (s.sent == s.to_send.size() && s.close_after_send && !s.fin_sent) {
      if (device_->CloseWrite(id) == tunnel::CallStatus::kOk) s.fin_sent = true;
    }
    Kick();
  }

  struct DeviceVisitor final : tunnel::MuxVisitor {
    Harness* h = nullptr;
    void OnStreamOpen(StreamId, const tunnel::OpenTarget&) override { ADD_FAILURE() << "OPEN to a device"; }
    void OnStreamAccepted(StreamId id) override {
      h->streams[id].accepted = true;
      h->DeviceWrite(id);
    }
    void OnStreamData(StreamId id, std::span<const std::uint8_t> data) override {
      auto& s = h->streams[id];
      s.received.insert(s.received.end(), data.begin(), data.end());
      if (!s.hold) (void)h->device_->Consume(id, data.size());
    }
    void OnStreamFin(StreamId id) override { h->streams[id].fin = true; }
    void OnStreamReset(StreamId id, ErrorCode code) override { h->streams[id].reset = code; }
    void OnStreamWritable(StreamId id) override { h->DeviceWrite(id); }
  };
  struct ConnectorVisitor final : tunnel::MuxVisitor {
    Harness* h = nullptr;
    void OnStreamOpen(StreamId id, const tunnel::OpenTarget& t) override {
      runtime::SocketAddress a;
      a.u.v4.sin_family = AF_INET;
      std::memcpy(&a.u.v4.sin_addr, t.addr.data(), 4);
      a.u.v4.sin_port = htons(t.port);
      a.len = sizeof(sockaddr_in);
      auto p = std::make_unique<StreamPump>(h->loop_, *h, id);
      if (!p->Connect(a)) {
        (void)h->connector_->Reject(id, ErrorCode::kConnectFailed);
        return;
      }
      h->pumps[id] = std::move(p);
    }
    void OnStreamAccepted(StreamId) override { ADD_FAILURE() << "OPEN_OK to a connector"; }
    void OnStreamData(StreamId id, std::span<const std::uint8_t> data) override {
      h->pumps.at(id)->OnStreamData(data);
    }
    void OnStreamFin(StreamId id) override { h->pumps.at(id)->OnStreamFin(); }
    void OnStreamReset(StreamId id, ErrorCode code) override {
      if (auto it = h->pumps.find(id); it != h->pumps.end()) it->second->OnStreamReset(code);
    }
    void OnStreamWritable(StreamId id) override {
      if (auto it = h->pumps.find(id); it != h->pumps.end()) it->second->OnStreamWritable();
    }
  };

  EventLoop& loop_;
  DeviceVisitor device_visitor_;
  ConnectorVisitor connector_visitor_;
  std::unique_ptr<tunnel::StreamMux> device_;
  std::unique_ptr<tunnel::StreamMux> connector_;
  std::map<StreamId, DeviceStream> streams;
  std::map<StreamId, std::unique_ptr<StreamPump>> pumps;
  int pumps_done = 0;
  std::vector<std::pair<std::function<bool()>, std::function<void()>>> steps;  // condition, then action
  std::size_t step = 0;
  bool shuttle_armed_ = false;
  std::uint8_t buf_[tunnel::kMaxSealedPlaintext];
};

// Runs the loop once (Run() may be called only once per loop) through steps: when step i's condition holds, its
// action runs and step i+1 is next. True when every step was reached before the guard fired.
using Step = std::pair<std::function<bool()>, std::function<void()>>;
bool RunSteps(EventLoop& loop, Harness& h, std::vector<Step> steps) {
  h.steps = std::move(steps);
  testing::GuardTimer guard(loop, std::chrono::seconds(30));
  h.Kick();
  loop.Run();
  if (guard.fired) ADD_FAILURE() << "stuck before step " << h.step;
  return !guard.fired;
}
bool RunUntil(EventLoop& loop, Harness& h, std::function<bool()> cond) { return RunSteps(loop, h, {{cond, {}}}); }

struct PumpTest : ::testing::Test {
  std::unique_ptr<EventLoop> loop = testing::MakeLoop();
};

TEST_F(PumpTest, EchoesBytesExactlyBothWaysAndClosesCleanly) {
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kEcho);
  server.notify = [&] { h.Kick(); };
  const auto data = Pattern(3 << 20, 1);
  StreamId id = h.Open(server.address);
  h.Send(id, data, /*close_after=*/true);
  ASSERT_TRUE(RunUntil(*loop, h, [&] { return h.streams[id].fin && h.pumps_done == 1 && server.closed == 1; }));
  EXPECT_EQ(server.received, data);
  EXPECT_EQ(h.streams[id].received, data);
  EXPECT_FALSE(h.streams[id].reset.has_value());
  EXPECT_EQ(h.connector_->live_streams(), 0u);
  EXPECT_EQ(h.device_->live_streams(), 0u);
}

TEST_F(PumpTest, TargetClosesFirstThenDeviceSendsAndCloses) {
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kGreet);
  server.notify = [&] { h.Kick(); };
  StreamId id = h.Open(server.address);
  const auto data = Pattern(100000, 2);
  ASSERT_TRUE(RunSteps(*loop, h,
                       {{[&] { return h.streams[id].fin; },
                         [&] {
                           EXPECT_EQ(std::string(h.streams[id].received.begin(), h.streams[id].received.end()),
                                     "hello from target");
                           h.Send(id, data, true);
                         }},
                        {[&] { return server.got_eof && h.pumps_done == 1 && server.closed == 1; }, {}}}));
  EXPECT_EQ(server.received, data);
  EXPECT_EQ(h.connector_->live_streams(), 0u);
  EXPECT_EQ(h.device_->live_streams(), 0u);
}

TEST_F(PumpTest, DeviceClosesFirstTargetKeepsSending) {
  // The device sends and half-closes at once; the echo target goes on sending back after the device's FIN.
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kEcho);
  server.notify = [&] { h.Kick(); };
  const auto data = Pattern(200000, 3);
  StreamId id = h.Open(server.address);
  h.Send(id, data, true);
  ASSERT_TRUE(RunUntil(*loop, h, [&] { return server.got_eof && h.streams[id].fin && h.pumps_done == 1; }));
  EXPECT_EQ(h.streams[id].received, data);
  EXPECT_EQ(server.received, data);
}

TEST_F(PumpTest, UnreachableTargetIsConnectFailed) {
  runtime::SocketAddress dead;
  {
    auto fd = runtime::ListenTcp(runtime::ParseSocketAddress("127.0.0.1:0").value(), {});
    ASSERT_TRUE(fd.ok());
    dead = runtime::LocalAddress(*fd).value();
    ::close(*fd);
  }
  Harness h(*loop);
  StreamId id = h.Open(dead);
  ASSERT_TRUE(RunUntil(*loop, h, [&] { return h.streams[id].reset.has_value(); }));
  EXPECT_EQ(*h.streams[id].reset, ErrorCode::kConnectFailed);
  EXPECT_EQ(h.pumps_done, 1);
}

TEST_F(PumpTest, TargetResetResetsStream) {
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kReset);
  StreamId id = h.Open(server.address);
  h.Send(id, Pattern(1000, 4), false);
  ASSERT_TRUE(RunUntil(*loop, h, [&] { return h.streams[id].reset.has_value() || h.streams[id].fin; }));
  // An abortive close shows as a reset; a kernel that reports EOF first still ends the stream (FIN).
  if (h.streams[id].reset) {
    EXPECT_EQ(*h.streams[id].reset, ErrorCode::kConnectFailed);
  }
}

TEST_F(PumpTest, DeviceResetAbortsTargetConnection) {
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kEcho);
  server.notify = [&] { h.Kick(); };
  StreamId id = h.Open(server.address);
  h.Send(id, Pattern(5000, 5), false);
  ASSERT_TRUE(RunSteps(*loop, h,
                       {{[&] { return h.streams[id].received.size() == 5000; },
                         [&] { ASSERT_EQ(h.device_->Reset(id, ErrorCode::kCancelled), tunnel::CallStatus::kOk); }},
                        {[&] { return h.pumps_done == 1 && server.closed == 1; }, {}}}));
  EXPECT_EQ(h.connector_->live_streams(), 0u);
}

TEST_F(PumpTest, SlowTargetReaderHoldsBackOnlyItsOwnStream) {
  Harness h(*loop);
  TargetServer sink(*loop, TargetServer::Mode::kSink);
  TargetServer echo(*loop, TargetServer::Mode::kEcho);
  sink.notify = echo.notify = [&] { h.Kick(); };
  // Far more than socket buffers + the loop's send queue + one window: the stream must stall.
  const std::size_t big = 64u << 20;
  StreamId slow = h.Open(sink.address);
  h.Send(slow, std::vector<std::uint8_t>(big, 0x5a), false);
  const auto data = Pattern(2 << 20, 6);
  std::size_t sent_when_stalled = 0;
  StreamId fast = 0;
  ASSERT_TRUE(RunSteps(
      *loop, h,
      {// Stalled: credit is owed (Consume deferred), the device cannot write more and nothing is in flight.
       {[&] {
          auto it = h.pumps.find(slow);
          return it != h.pumps.end() && it->second->owed_credit() > 0 && h.device_->SendCapacity(slow) == 0 &&
                 !h.device_->HasOutgoing() && !h.connector_->HasOutgoing();
        },
        [&] {
          sent_when_stalled = h.streams[slow].sent;
          EXPECT_LT(sent_when_stalled, big);
          const auto& pump = *h.pumps.at(slow);
          // Credit accounting: the device is ahead of the socket by at most one stream window.
          EXPECT_LE(pump.stats().bytes_to_socket, sent_when_stalled);
          EXPECT_LE(sent_when_stalled - pump.stats().bytes_to_socket, std::size_t{tunnel::kDefaultStreamWindow});
          EXPECT_LE(loop->SendQueueBytes(pump.conn()), loop->options().send_queue_limit);
          EXPECT_GE(loop->SendQueueBytes(pump.conn()), loop->options().send_high_watermark);
          EXPECT_EQ(pump.stats().send_refused, 0u);
          // Another stream on the same session still moves everything.
          fast = h.Open(echo.address);
          h.Send(fast, data, true);
        }},
       {[&] { return fast != 0 && h.streams[fast].fin; },
        [&] {
          EXPECT_EQ(h.streams[fast].received, data);
          // The slow stream is still held back: never more than one window past what reached its socket.
          const auto& pump = *h.pumps.at(slow);
          EXPECT_LT(h.streams[slow].sent, big);
          EXPECT_LE(h.streams[slow].sent - pump.stats().bytes_to_socket,
                    std::size_t{tunnel::kDefaultStreamWindow});
          ASSERT_EQ(h.device_->Reset(slow, ErrorCode::kCancelled), tunnel::CallStatus::kOk);
        }},
       {[&] { return h.pumps.empty(); }, {}}}));
}

// A target that sends far more than the stream's window to a device that does not read: once the stream is out of
// credit, the pump holds the rest on the heap and its socket is paused in kNoHold mode, so every receive buffer
// of the loop is back in the ring (docs/runtime.md, "Who holds receive buffers"). Then the device reads again and
// every byte arrives, in order.
TEST_F(PumpTest, StreamOutOfCreditHoldsNoReceiveBuffer) {
  Harness h(*loop);
  const auto data = Pattern(8u << 20, 9);
  auto lfd = runtime::ListenTcp(runtime::ParseSocketAddress("127.0.0.1:0").value(), {});
  ASSERT_TRUE(lfd.ok());
  const runtime::SocketAddress addr = runtime::LocalAddress(*lfd).value();
  std::thread target([&, fd = *lfd] {
    const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    ::close(fd);
    if (c < 0) return;
    for (std::size_t off = 0; off < data.size();) {
      const ssize_t n = ::send(c, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(c);
  });
  const StreamId id = h.Open(addr);
  h.streams[id].hold = true;
  ASSERT_TRUE(RunSteps(
      *loop, h,
      {{[&] {
          auto it = h.pumps.find(id);
          return it != h.pumps.end() && h.streams[id].received.size() >= tunnel::kDefaultStreamWindow &&
                 loop->RecvPaused(it->second->conn()) && !h.connector_->HasOutgoing();
        },
        [&] {
          const StreamPump& pump = *h.pumps.at(id);
          EXPECT_EQ(loop->recv_pool().available(), loop->options().recv_buffer_count);
          EXPECT_GE(pump.stats().pending_copies, 1u);
          // The bound on what a paused stream keeps instead: its rest plus one batch of late bytes, never more
          // than the ring could deliver in one batch, although the target keeps sending 8 MiB.
          EXPECT_GT(pump.pending_bytes(), 0u);
          EXPECT_LE(pump.pending_bytes(),
                    std::size_t{loop->options().recv_buffer_count} * loop->options().buffer_size);
          EXPECT_EQ(h.streams[id].received.size(), std::size_t{tunnel::kDefaultStreamWindow});
          h.streams[id].hold = false;
          (void)h.device_->Consume(id, h.streams[id].received.size());
        }},
       {[&] { return h.streams[id].fin; }, {}}}));
  target.join();
  EXPECT_EQ(h.streams[id].received, data);
}

TEST_F(PumpTest, ManyConcurrentStreams) {
  Harness h(*loop);
  TargetServer server(*loop, TargetServer::Mode::kEcho);
  server.notify = [&] { h.Kick(); };
  constexpr int kStreams = 200;
  std::vector<StreamId> ids;
  for (int i = 0; i < kStreams; ++i) {
    StreamId id = h.Open(server.address);
    h.Send(id, Pattern(3000 + i, 100 + i), true);
    ids.push_back(id);
  }
  ASSERT_TRUE(RunUntil(*loop, h, [&] { return h.pumps_done == kStreams; }));
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_TRUE(h.streams[ids[i]].fin);
    EXPECT_EQ(h.streams[ids[i]].received, Pattern(3000 + i, 100 + i)) << i;
  }
}

}  // namespace
}  // namespace strait::link
