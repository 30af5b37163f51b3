// EventLoop readiness watches (WatchReadable / Unwatch, docs/runtime.md "Readiness watches") on pipes: level-
// triggered (a handler that reads one byte per call is called again until the pipe is empty), Unwatch from inside the
// callback, the slot bound, a bad fd reported once, and a slot reused after its poll is gone.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "runtime/event_loop.h"
#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;
using testing::GuardTimer;

std::unique_ptr<EventLoop> MakeLoop(std::uint32_t max_watches = 8) {
  LoopOptions o;
  o.max_watches = max_watches;
  o.recv_buffer_count = 64;
  o.plain_buffer_count = 64;
  auto l = EventLoop::Create(o);
  return l.ok() ? std::move(*l) : nullptr;
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
};

// Reads one byte per call; stops the loop after `stop_after` bytes (or Unwatches there, if asked).
struct OneByteReader : ReadableHandler {
  int fd;
  int stop_after;
  bool unwatch_at_end = false;
  std::string got;
  int calls = 0;
  int errors = 0;
  int error = 0;
  OneByteReader(int f, int n) : fd(f), stop_after(n) {}
  void OnReadable(EventLoop& loop, WatchId id) override {
    ++calls;
    char c = 0;
    if (read(fd, &c, 1) == 1) got.push_back(c);
    if (static_cast<int>(got.size()) == stop_after) {
      if (unwatch_at_end) loop.Unwatch(id);
      loop.RequestStop();
    }
  }
  void OnWatchError(EventLoop& loop, WatchId /*id*/, int err) override {
    ++errors;
    error = err;
    loop.RequestStop();
  }
};

TEST(Watch, IsLevelTriggeredAHandlerThatReadsABatchIsCalledAgain) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  Pipe p;
  ASSERT_EQ(write(p.w, "abcdef", 6), 6);
  OneByteReader h(p.r, 6);
  ASSERT_TRUE(loop->WatchReadable(p.r, &h).valid());
  GuardTimer guard(*loop, 20s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(h.got, "abcdef") << "one readiness, six calls: the watch re-arms while bytes are left";
  EXPECT_EQ(h.calls, 6);
}

TEST(Watch, UnwatchFromInsideTheCallbackEndsIt) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  Pipe p;
  ASSERT_EQ(write(p.w, "xyz", 3), 3);
  OneByteReader h(p.r, 1);
  h.unwatch_at_end = true;
  ASSERT_TRUE(loop->WatchReadable(p.r, &h).valid());
  GuardTimer guard(*loop, 20s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(h.got, "x");
  EXPECT_EQ(h.calls, 1) << "bytes were left, but the watch had ended";
}

// At its time, watches `fd` with `handler` from inside the loop (a stopped loop takes no new watches).
struct WatchLater : TimerHandler {
  int fd;
  ReadableHandler* handler;
  bool valid = false;
  WatchLater(int f, ReadableHandler* h) : fd(f), handler(h) {}
  void OnTimer(EventLoop& loop, TimerId, std::uint64_t) override { valid = loop.WatchReadable(fd, handler).valid(); }
};

TEST(Watch, SlotsAreBoundedAndReusedOnceTheirPollIsGone) {
  auto loop = MakeLoop(2);
  ASSERT_TRUE(loop);
  Pipe a, b, c;
  OneByteReader ha(a.r, 1), hb(b.r, 1), hc(c.r, 1);
  const WatchId wa = loop->WatchReadable(a.r, &ha);
  const WatchId wb = loop->WatchReadable(b.r, &hb);
  ASSERT_TRUE(wa.valid());
  ASSERT_TRUE(wb.valid());
  EXPECT_FALSE(loop->WatchReadable(c.r, &hc).valid()) << "max_watches = 2";
  // Unwatch a: its poll is cancelled; once that has completed the slot takes c, and c's byte is read (which stops
  // the loop).
  loop->Unwatch(wa);
  ASSERT_EQ(write(c.w, "c", 1), 1);
  ASSERT_EQ(write(a.w, "a", 1), 1);  // a's handler must not see this: its watch has ended
  WatchLater later(c.r, &hc);
  (void)loop->AddTimer(50ms, &later);
  GuardTimer guard(*loop, 20s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_TRUE(later.valid) << "the slot of the ended watch";
  EXPECT_EQ(hc.got, "c");
  EXPECT_EQ(ha.calls, 0);
}

TEST(Watch, ABadFdIsReportedOnceAndTheWatchEnds) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  close(fds[0]);
  close(fds[1]);
  OneByteReader h(fds[0], 1);
  ASSERT_TRUE(loop->WatchReadable(fds[0], &h).valid());
  GuardTimer guard(*loop, 20s);
  loop->Run();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(h.errors, 1);
  EXPECT_EQ(h.error, EBADF);
  EXPECT_EQ(h.calls, 0);
}

}  // namespace
}  // namespace strait::runtime

namespace strait::runtime {
namespace {

// Bytes that arrive while the loop waits (no timer due) wake it: each write is read within the guard's time, not
// at the next unrelated event.
TEST(Watch, DataArrivingWhileTheLoopWaitsWakesIt) {
  auto loop = MakeLoop();
  ASSERT_TRUE(loop);
  Pipe p;
  OneByteReader h(p.r, 3);
  ASSERT_TRUE(loop->WatchReadable(p.r, &h).valid());
  std::thread writer([w = p.w] {
    for (char c : std::string("abc")) {
      std::this_thread::sleep_for(100ms);
      if (write(w, &c, 1) != 1) return;
    }
  });
  GuardTimer guard(*loop, 20s);
  const auto start = std::chrono::steady_clock::now();
  loop->Run();
  writer.join();
  EXPECT_FALSE(guard.fired);
  EXPECT_EQ(h.got, "abc");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace strait::runtime
