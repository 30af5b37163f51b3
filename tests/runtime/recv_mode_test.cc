// RecvMode::kNoHold and the forward-progress watchdog (docs/runtime.md, "Who holds receive buffers" and
// "Forward-progress watchdog").
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;
using testing::AdoptAll;
using testing::ConnectLoopback;
using testing::GuardTimer;
using testing::ListenLoopback;
using testing::MakeLoop;
using testing::Pattern;
using testing::WriteAll;

// A flow-controlled receiver in the stream pump's manner: it copies what it gets (also what arrives after its
// pause, in kNoHold mode), pauses after `pause_after` bytes, and lets every buffer go back to the loop (a stream
// out of credit holds no ring buffer). With `resume_every` it resumes itself on a timer and pauses again after
// that many more bytes.
class CreditReceiver final : public ConnectionHandler, private TimerHandler {
 public:
  CreditReceiver(RecvMode mode, std::size_t pause_after, std::size_t resume_every = 0)
      : mode_(mode), pause_after_(pause_after), resume_every_(resume_every) {}
  void OnData(EventLoop& loop, ConnId id, Buffer data) override {
    got.insert(got.end(), data.data().begin(), data.data().end());
    if (got.size() >= pause_after_ && !loop.RecvPaused(id)) {
      loop.PauseRecv(id);
      ++pauses;
      if (resume_every_ > 0) {
        pause_after_ = got.size() + resume_every_;
        loop.AddTimer(std::chrono::milliseconds(1), this);
      }
    }
  }
  void OnTimer(EventLoop& loop, TimerId /*id*/, std::uint64_t /*arg*/) override { loop.ResumeRecv(conn); }
  void OnClose(EventLoop& /*loop*/, ConnId /*id*/, CloseReason /*reason*/, int /*err*/) override {}
  RecvMode mode() const { return mode_; }
  std::vector<std::uint8_t> got;
  int pauses = 0;
  ConnId conn;

 private:
  RecvMode mode_;
  std::size_t pause_after_;
  std::size_t resume_every_;
};

class AdoptWithMode final : public AcceptHandler {
 public:
  explicit AdoptWithMode(std::vector<std::unique_ptr<CreditReceiver>>& r) : receivers_(r) {}
  void OnAccept(EventLoop& loop, ListenerId /*id*/, int fd) override {
    CreditReceiver& r = *receivers_[next_++];
    r.conn = loop.Adopt(fd, &r, 0, r.mode());
    ASSERT_TRUE(r.conn.valid());
  }

 private:
  std::vector<std::unique_ptr<CreditReceiver>>& receivers_;
  std::size_t next_ = 0;
};

// Counts bytes and stops the loop once it has `want`.
class Sink final : public ConnectionHandler {
 public:
  explicit Sink(std::size_t want) : want_(want) {}
  void OnData(EventLoop& loop, ConnId /*id*/, Buffer data) override {
    bytes += data.size();
    if (bytes >= want_) loop.RequestStop();
  }
  void OnClose(EventLoop& /*loop*/, ConnId /*id*/, CloseReason /*reason*/, int /*err*/) override {}
  std::size_t bytes = 0;

 private:
  std::size_t want_;
};

// Stops the loop; records what the test reads before Run() closes everything.
class Stopper final : public TimerHandler {
 public:
  void OnTimer(EventLoop& loop, TimerId /*id*/, std::uint64_t /*arg*/) override {
    ring_available = loop.recv_pool().available();
    if (watched.valid()) queued = loop.SendQueueBytes(watched);
    loop.RequestStop();
  }
  std::uint32_t ring_available = 0;
  ConnId watched;
  std::uint32_t queued = 0;
};

// Pausing every 64 KiB and resuming 1 ms later: every byte arrives once, in order, including those the kernel had
// delivered after each pause.
TEST(RecvMode, NoHoldDeliversEverythingInOrderAcrossPauses) {
  LoopOptions o;
  o.recv_buffer_count = 32;
  auto loop = MakeLoop(o);
  ASSERT_NE(loop, nullptr);
  if (!loop->features().multishot_recv || !loop->features().buf_ring) GTEST_SKIP() << "kernel lacks buffer rings";
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  std::vector<std::unique_ptr<CreditReceiver>> rs;
  rs.push_back(std::make_unique<CreditReceiver>(RecvMode::kNoHold, 64 << 10, 64 << 10));
  AdoptWithMode accept(rs);
  ASSERT_TRUE(loop->Listen(lfd, &accept).ok());
  const auto payload = Pattern(4 << 20);
  const int c = ConnectLoopback(port);
  ASSERT_GE(c, 0);
  std::thread writer([&] { EXPECT_TRUE(WriteAll(c, payload)); });
  struct Until final : BatchHandler {
    CreditReceiver* r;
    std::size_t want;
    void OnBatchEnd(EventLoop& l) override {
      if (r->got.size() >= want) l.RequestStop();
    }
  } until;
  until.r = rs[0].get();
  until.want = payload.size();
  loop->AddBatchHandler(&until);
  GuardTimer guard(*loop, 30s);
  loop->Run();
  writer.join();
  close(c);
  EXPECT_FALSE(guard.fired);
  EXPECT_GE(rs[0]->pauses, 5);  // fewer than 64: a pause lets a batch of late bytes through
  EXPECT_EQ(rs[0]->got, payload);
}

// A loop with a small ring, `streams` accepted connections whose handlers pause after their first bytes, and a
// peer for each that sends `bytes` (buffered by the kernel) before the loop runs.
class PausedStreams : public ::testing::Test {
 protected:
  bool SetUpStreams(RecvMode mode, int streams, std::uint32_t ring, std::size_t bytes) {
    LoopOptions o;
    o.recv_buffer_count = ring;
    loop = MakeLoop(o);
    if (loop == nullptr) return false;
    if (!loop->features().multishot_recv || !loop->features().buf_ring) {
      skip = "kernel lacks buffer rings";
      return false;
    }
    std::uint16_t port = 0;
    const int lfd = ListenLoopback(&port);
    for (int i = 0; i < streams; ++i) rs.push_back(std::make_unique<CreditReceiver>(mode, 1));
    accept = std::make_unique<AdoptWithMode>(rs);
    if (!loop->Listen(lfd, accept.get()).ok()) return false;
    const auto chunk = Pattern(bytes);
    for (int i = 0; i < streams; ++i) {
      const int c = ConnectLoopback(port);
      if (c < 0) return false;
      peers.push_back(c);
      if (send(c, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) return false;
    }
    return true;
  }
  void TearDown() override {
    for (int c : peers) close(c);
  }
  int Pauses() const {
    int n = 0;
    for (const auto& r : rs) n += r->pauses;
    return n;
  }
  // Runs the loop until every stream has paused (at the end of that iteration, when the batch's completions are
  // handled), then records how many ring buffers are free and stops. A guard turns a hang into a failure; no
  // fixed wait, so a slow (sanitizer) build gets the time it needs.
  void RunUntilAllPaused() {
    struct AllPaused final : BatchHandler {
      PausedStreams* t;
      void OnBatchEnd(EventLoop& l) override {
        if (t->Pauses() < static_cast<int>(t->rs.size()) || t->ring_available) return;
        t->ring_available = l.recv_pool().available();
        l.RequestStop();
      }
    } all;
    all.t = this;
    loop->AddBatchHandler(&all);
    GuardTimer guard(*loop, 60s);
    loop->Run();
    EXPECT_FALSE(guard.fired) << Pauses() << " of " << rs.size() << " streams paused";
  }
  std::optional<std::uint32_t> ring_available;

  std::unique_ptr<EventLoop> loop;
  std::vector<std::unique_ptr<CreditReceiver>> rs;
  std::unique_ptr<AdoptWithMode> accept;
  std::vector<int> peers;
  std::string skip;
};

// 48 flow-controlled connections whose peers send far more than they take, all paused at once, in a loop whose
// ring (64) is smaller than what they were sent: in kNoHold mode none of them keeps a ring buffer the kernel filled
// after its pause (their handlers copied it), so the ring is whole again.
TEST_F(PausedStreams, NoHoldStreamsLeaveTheRingWhole) {
  if (!SetUpStreams(RecvMode::kNoHold, 48, 64, 512 << 10)) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    FAIL() << "setup";
  }
  RunUntilAllPaused();
  ASSERT_EQ(Pauses(), 48);
  EXPECT_EQ(ring_available, 64u);
}

// The contrast that makes the test above able to fail: the same streams in kMultishot mode keep ring buffers while
// paused (what the kernel delivered before the cancel), so the ring is not whole.
TEST_F(PausedStreams, MultishotStreamsKeepWhatTheKernelReadAhead) {
  if (!SetUpStreams(RecvMode::kMultishot, 48, 64, 512 << 10)) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    FAIL() << "setup";
  }
  // The held buffers starve the streams that have not paused yet, so not all of them ever pause: stop on time.
  Stopper stop;
  loop->AddTimer(300ms, &stop);
  loop->Run();
  EXPECT_GE(Pauses(), 1);
  EXPECT_LT(stop.ring_available, 64u);
}

// More paused streams (96) than ring buffers (32): a multishot "link" on the same loop still receives 2 MiB.
TEST_F(PausedStreams, LinkReceivesWhileManyNoHoldStreamsWaitForCredit) {
  if (!SetUpStreams(RecvMode::kNoHold, 96, 32, 256 << 10)) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    FAIL() << "setup";
  }
  // The "link": a socketpair end adopted in multishot mode, fed 2 MiB (four rings' worth) by a writer thread.
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  constexpr std::size_t kLinkBytes = 2 << 20;
  Sink link(kLinkBytes);
  ASSERT_TRUE(loop->Adopt(sp[0], &link).valid());
  std::thread writer([&] {
    const auto data = Pattern(kLinkBytes, 7);
    EXPECT_TRUE(WriteAll(sp[1], data));
  });
  GuardTimer guard(*loop, 30s);
  loop->Run();
  writer.join();
  close(sp[1]);
  EXPECT_FALSE(guard.fired) << "the link got " << link.bytes << " of " << kLinkBytes << " bytes";
  EXPECT_EQ(link.bytes, kLinkBytes);
}

// A handler that never sends on its own; the test queues bytes from outside the callbacks.
class Quiet final : public ConnectionHandler {
 public:
  void OnData(EventLoop& /*loop*/, ConnId /*id*/, Buffer /*data*/) override {}
  void OnClose(EventLoop& /*loop*/, ConnId /*id*/, CloseReason /*reason*/, int /*err*/) override {}
};

// A watched connection whose peer stops reading has bytes to move and moves none: the watchdog counts it, once
// per interval. An unwatched one in the same state is not counted.
TEST(Watchdog, CountsAWatchedConnectionThatCannotMove) {
  LoopOptions o;
  o.watchdog_interval = 20ms;
  auto loop = MakeLoop(o);
  ASSERT_NE(loop, nullptr);
  Quiet quiet;
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
  const ConnId watched = loop->Adopt(a[0], &quiet);
  const ConnId plain = loop->Adopt(b[0], &quiet);
  loop->Watch(watched);
  // Fill both: the peers never read, so the kernel buffers fill and the loop keeps bytes queued.
  struct Filler final : TimerHandler {
    ConnId ids[2];
    void OnTimer(EventLoop& l, TimerId /*id*/, std::uint64_t /*arg*/) override {
      const auto bytes = Pattern(16000);
      for (const ConnId id : ids) {
        while (l.SendQueueBytes(id) < (512u << 10) && l.Send(id, bytes) == SendResult::kQueued) {
        }
      }
    }
  } filler;
  filler.ids[0] = watched;
  filler.ids[1] = plain;
  loop->AddTimer(0ms, &filler);
  Stopper stop;
  stop.watched = watched;
  loop->AddTimer(500ms, &stop);
  loop->Run();
  EXPECT_GT(stop.queued, 0u);
  // 500 ms at 20 ms per tick: ~24 stalled intervals; the first tick only learns that there is work.
  EXPECT_GE(loop->stats().stalls, 5u);
  EXPECT_LE(loop->stats().stalls, 26u) << "one per interval, and only for the watched connection";
  close(a[1]);
  close(b[1]);
}

// A watched connection that sends steadily to a peer that reads steadily has bytes queued at most ticks, but they
// move: nothing is counted (six ticks).
TEST(Watchdog, AConnectionThatMovesIsNotCounted) {
  LoopOptions o;
  o.watchdog_interval = 250ms;  // long enough that a loaded machine does not deschedule the reader for a tick
  auto loop = MakeLoop(o);
  ASSERT_NE(loop, nullptr);
  int sp[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
  struct Pusher final : ConnectionHandler {
    std::vector<std::uint8_t> chunk = Pattern(16000);
    void Top(EventLoop& l, ConnId id) {
      while (l.SendQueueBytes(id) < (256u << 10) && l.Send(id, chunk) == SendResult::kQueued) {
      }
    }
    void OnData(EventLoop& /*l*/, ConnId /*id*/, Buffer /*data*/) override {}
    void OnSendQueueLow(EventLoop& l, ConnId id) override { Top(l, id); }
    void OnClose(EventLoop& /*l*/, ConnId /*id*/, CloseReason /*r*/, int /*e*/) override {}
  } pusher;
  const ConnId id = loop->Adopt(sp[0], &pusher);
  loop->Watch(id);
  struct Start final : TimerHandler {
    Pusher* p;
    ConnId id;
    void OnTimer(EventLoop& l, TimerId /*t*/, std::uint64_t /*a*/) override { p->Top(l, id); }
  } start;
  start.p = &pusher;
  start.id = id;
  loop->AddTimer(0ms, &start);
  std::atomic<std::uint64_t> read{0};
  std::thread reader([&] {
    std::vector<std::uint8_t> buf(64 << 10);
    for (;;) {
      const ssize_t n = recv(sp[1], buf.data(), buf.size(), 0);
      if (n <= 0) return;
      read += static_cast<std::uint64_t>(n);
    }
  });
  Stopper stop;
  loop->AddTimer(1500ms, &stop);
  loop->Run();  // closes the adopted end on the way out: the reader sees EOF
  reader.join();
  close(sp[1]);
  EXPECT_GT(read.load(), 1u << 20);
  EXPECT_EQ(loop->stats().stalls, 0u);
}

}  // namespace
}  // namespace strait::runtime
