// End-of-iteration work: BatchHandler calls, and sends deferred to the end of the iteration so that every buffer
// queued for one connection during an iteration leaves in one IORING_OP_SENDMSG.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "runtime/event_loop.h"
#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;
using testing::ConnectLoopback;
using testing::GuardTimer;
using testing::ListenLoopback;
using testing::MakeLoop;
using testing::Pattern;
using testing::ReadExactly;

// On accept, queues `pieces` buffers of `piece` bytes in one callback, then closes gracefully.
class BurstSender final : public ConnectionHandler, public AcceptHandler {
 public:
  BurstSender(std::span<const std::uint8_t> data, std::size_t piece) : data_(data), piece_(piece) {}

  void OnAccept(EventLoop& loop, ListenerId /*id*/, int fd) override {
    conn = loop.Adopt(fd, this);
    for (std::size_t at = 0; at < data_.size(); at += piece_) {
      Buffer b = loop.AllocateBuffer();
      ASSERT_TRUE(b);
      const std::size_t n = std::min(piece_, data_.size() - at);
      std::copy_n(data_.data() + at, n, b.tailroom().data());
      b.Commit(n);
      ASSERT_EQ(loop.Send(conn, std::move(b)), SendResult::kQueued);
    }
    sends_before_batch_end = loop.stats().sends;
    loop.Close(conn, CloseMode::kGraceful);
  }
  void OnData(EventLoop& /*loop*/, ConnId /*id*/, Buffer /*data*/) override {}
  void OnClose(EventLoop& loop, ConnId /*id*/, CloseReason /*r*/, int /*err*/) override { loop.RequestStop(); }

  ConnId conn;
  std::uint64_t sends_before_batch_end = ~0ull;

 private:
  std::span<const std::uint8_t> data_;
  std::size_t piece_;
};

TEST(DeferredSend, BuffersQueuedInOneCallbackLeaveInOneSend) {
  LoopOptions o;
  o.send_max_iov = 16;
  auto loop = MakeLoop(o);
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  const std::vector<std::uint8_t> sent = Pattern(8 * 1000, 3);  // 8 buffers: far below the socket buffer
  BurstSender sender(sent, 1000);
  ASSERT_TRUE(loop->Listen(lfd, &sender).ok());
  std::vector<std::uint8_t> got(sent.size());
  bool ok = false;
  std::thread client([&] {
    const int fd = ConnectLoopback(port);
    if (fd < 0) return;
    ok = ReadExactly(fd, got, 20s) && testing::WaitEof(fd, 20s);
    close(fd);
  });
  GuardTimer guard(*loop, 20s);
  loop->Run();
  client.join();
  EXPECT_FALSE(guard.fired);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(got == sent);
  EXPECT_EQ(sender.sends_before_batch_end, 0u) << "a send was issued before the iteration ended";
  const LoopStats& s = loop->stats();
  EXPECT_EQ(s.send_bytes, sent.size());
  EXPECT_EQ(s.sends, 1u) << "8 buffers queued in one callback should leave in one SENDMSG";
  EXPECT_EQ(s.send_buffers, 8u);
  EXPECT_EQ(s.sends_coalesced, 1u);
}

// Counts OnBatchEnd calls; on the first one after `armed`, sends a byte on `conn` (which must go out in the same
// iteration's submission) and removes itself on the call after that.
class Counter final : public BatchHandler {
 public:
  void OnBatchEnd(EventLoop& loop) override {
    ++calls;
    if (remove_next) {
      loop.RemoveBatchHandler(this);
      calls_at_removal = calls;
      batches_at_removal = loop.stats().batches;
      remove_next = false;
      return;
    }
    if (armed) {
      armed = false;
      const std::uint8_t byte = 0x5a;
      sent = loop.Send(conn, std::span(&byte, 1)) == SendResult::kQueued;
      remove_next = true;
    }
  }
  ConnId conn;
  bool armed = false;
  bool sent = false;
  bool remove_next = false;
  int calls = 0;
  int calls_at_removal = -1;
  std::uint64_t batches_at_removal = 0;
};

class ArmOnAccept final : public ConnectionHandler, public AcceptHandler {
 public:
  explicit ArmOnAccept(Counter& c) : counter_(c) {}
  void OnAccept(EventLoop& loop, ListenerId /*id*/, int fd) override {
    counter_.conn = loop.Adopt(fd, this);
    counter_.armed = true;  // the send happens in this iteration's OnBatchEnd, not here
  }
  void OnData(EventLoop& loop, ConnId id, Buffer /*data*/) override { loop.Close(id, CloseMode::kGraceful); }
  void OnClose(EventLoop& loop, ConnId /*id*/, CloseReason /*r*/, int /*err*/) override { loop.RequestStop(); }

 private:
  Counter& counter_;
};

TEST(BatchHandler, RunsEveryIterationAndItsSendsGoOut) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  std::uint16_t port = 0;
  const int lfd = ListenLoopback(&port);
  Counter counter;
  ArmOnAccept acceptor(counter);
  loop->AddBatchHandler(&counter);
  ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());
  bool echoed = false;
  std::thread client([&] {
    const int fd = ConnectLoopback(port);
    if (fd < 0) return;
    std::uint8_t b = 0;
    echoed = ReadExactly(fd, std::span(&b, 1), 20s) && b == 0x5a;
    const std::uint8_t reply = 1;
    if (echoed) (void)testing::WriteAll(fd, std::span(&reply, 1));
    (void)testing::WaitEof(fd, 20s);
    close(fd);
  });
  GuardTimer guard(*loop, 20s);
  loop->Run();
  client.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_TRUE(counter.sent);
  EXPECT_TRUE(echoed) << "the byte sent from OnBatchEnd never arrived";
  ASSERT_GE(counter.calls_at_removal, 2) << "never removed itself";
  // Removed: later iterations (the client's reply, the close) ran but no longer called it.
  EXPECT_GT(loop->stats().batches, counter.batches_at_removal);
  EXPECT_EQ(counter.calls, counter.calls_at_removal);
}

}  // namespace
}  // namespace strait::runtime
