// Unit tests of the runtime's building blocks: user_data packing, timer heap, MPSC mailbox, buffer pool, probe.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "runtime/buffer_pool.h"
#include "runtime/mpsc_queue.h"
#include "runtime/net.h"
#include "runtime/ring.h"
#include "runtime/timer_heap.h"
#include "runtime/user_data.h"

namespace strait::runtime {
namespace {

// One source for the login budget: an IPv4 address (also when IPv4-mapped), or an IPv6 /64.
TEST(Net, SourceKeyIsTheIPv4AddressOrTheIPv6Slash64) {
  auto key = [](const char* text) { return SourceKey(ParseSocketAddress(text).value()); };
  EXPECT_EQ(key("127.0.0.2:1"), 0xffff'ffff'7f00'0002ull);
  EXPECT_EQ(key("127.0.0.2:1"), key("127.0.0.2:9"));  // the port does not matter
  EXPECT_NE(key("127.0.0.2:1"), key("127.0.0.3:1"));
  EXPECT_EQ(key("[::ffff:127.0.0.2]:1"), key("127.0.0.2:1"));
  EXPECT_EQ(key("[2001:db8::1]:1"), key("[2001:db8::ffff:2]:1"));
  EXPECT_NE(key("[2001:db8::1]:1"), key("[2001:db8:0:1::1]:1"));
  EXPECT_EQ(key("[2001:db8::1]:1"), 0x2001'0db8'0000'0000ull);
}

// Issue 8: listen addresses refused host names ("bad IPv4 address in localhost:4443").
TEST(Net, ResolveSocketAddressTakesNamesAndLiterals) {
  EXPECT_EQ(ResolveSocketAddress("localhost:4443").value().ToString(), "127.0.0.1:4443");
  EXPECT_EQ(ResolveSocketAddress("127.0.0.2:0").value().ToString(), "127.0.0.2:0");
  EXPECT_EQ(ResolveSocketAddress("[::1]:80").value().ToString(), "[::1]:80");
  EXPECT_FALSE(ParseSocketAddress("localhost:4443").ok());  // the numeric parser stays numeric
  auto bad_port = ResolveSocketAddress("localhost:http");
  ASSERT_FALSE(bad_port.ok());
  EXPECT_EQ(bad_port.error().reason, "bad port in localhost:http");
  auto unknown = ResolveSocketAddress("no-such-host.invalid:1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().reason.find("cannot resolve no-such-host.invalid"), std::string::npos)
      << unknown.error().reason;
  EXPECT_FALSE(ResolveSocketAddress(":80").ok());
  EXPECT_FALSE(ResolveSocketAddress("[nope]:80").ok());
}

TEST(UserData, RoundTripsEveryField) {
  struct Case {
    Op op;
    std::uint32_t slot;
    std::uint32_t aux;
  };
  const Case cases[] = {{Op::kAccept, 0, 0},          {Op::kRecv, 1, 1},
                        {Op::kSend, 0xffffffffu, kAuxMask}, {Op::kSendZc, 12345, 0x800001},
                        {Op::kClose, 7, 0x1000001 & kAuxMask}};
  for (const Case& c : cases) {
    const UserData u = UnpackUserData(PackUserData(c.op, c.slot, c.aux));
    EXPECT_EQ(u.op, c.op);
    EXPECT_EQ(u.slot, c.slot);
    EXPECT_EQ(u.aux, c.aux & kAuxMask);
  }
}

TEST(UserData, GenerationWrapsModulo24Bits) {
  EXPECT_EQ(GenerationTag(0x1000000u), 0u);
  EXPECT_NE(GenerationTag(5), GenerationTag(6));
}

struct NullHandler : TimerHandler {
  void OnTimer(EventLoop&, TimerId, std::uint64_t) override {}
};

TEST(TimerHeap, PopsByDeadlineThenInsertionOrder) {
  TimerHeap heap(16);
  NullHandler h;
  const std::int64_t deadlines[] = {50, 10, 30, 10, 40, 20, 10};
  for (std::uint64_t i = 0; i < std::size(deadlines); ++i) ASSERT_TRUE(heap.Add(deadlines[i], &h, i).valid());
  std::vector<std::uint64_t> order;
  TimerHeap::Fired f{};
  EXPECT_FALSE(heap.PopExpired(9, f));
  while (heap.PopExpired(100, f)) order.push_back(f.arg);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 6, 5, 2, 4, 0}));
}

TEST(TimerHeap, CancelRemovesAndRejectsStaleIds) {
  TimerHeap heap(4);
  NullHandler h;
  const TimerId a = heap.Add(10, &h, 1);
  const TimerId b = heap.Add(20, &h, 2);
  EXPECT_TRUE(heap.Cancel(a));
  EXPECT_FALSE(heap.Cancel(a));
  const TimerId c = heap.Add(5, &h, 3);  // reuses a's slot with a new generation
  EXPECT_EQ(c.slot, a.slot);
  EXPECT_FALSE(heap.Cancel(a));
  TimerHeap::Fired f{};
  ASSERT_TRUE(heap.PopExpired(100, f));
  EXPECT_EQ(f.arg, 3u);
  ASSERT_TRUE(heap.PopExpired(100, f));
  EXPECT_EQ(f.arg, 2u);
  EXPECT_FALSE(heap.Cancel(b));
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, RefusesBeyondCapacity) {
  TimerHeap heap(2);
  NullHandler h;
  EXPECT_TRUE(heap.Add(1, &h, 0).valid());
  EXPECT_TRUE(heap.Add(1, &h, 0).valid());
  EXPECT_FALSE(heap.Add(1, &h, 0).valid());
}

TEST(BoundedMpscQueue, DeliversEveryItemFromFourProducersExactlyOnce) {
  BoundedMpscQueue<std::uint64_t> q(64);
  constexpr std::uint64_t kPerProducer = 5000;
  std::vector<std::thread> producers;
  std::atomic<bool> give_up{false};  // set if the consumer times out, so the producers cannot spin forever
  for (std::uint64_t p = 0; p < 4; ++p) {
    producers.emplace_back([&q, &give_up, p] {
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        while (!q.TryPush(p * kPerProducer + i)) {
          if (give_up.load()) return;
          std::this_thread::yield();
        }
      }
    });
  }
  std::vector<std::uint64_t> last(4, 0);
  std::set<std::uint64_t> seen;
  std::uint64_t v = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < 4 * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    if (!q.TryPop(v)) {
      std::this_thread::yield();
      continue;
    }
    const std::uint64_t p = v / kPerProducer;
    EXPECT_TRUE(seen.insert(v).second);
    EXPECT_GE(v + 1, last[p]);  // per-producer FIFO
    last[p] = v + 1;
  }
  give_up.store(true);
  for (auto& t : producers) t.join();
  EXPECT_EQ(seen.size(), 4 * kPerProducer);
  EXPECT_FALSE(q.TryPop(v));
}

TEST(BoundedMpscQueue, TryPushFailsWhenFull) {
  BoundedMpscQueue<int> q(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.TryPush(i));
  EXPECT_FALSE(q.TryPush(9));
  int v = -1;
  EXPECT_TRUE(q.TryPop(v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(q.TryPush(9));
}

TEST(BufferPool, PlainPoolHandsOutEachBufferOnceAndCountsExhaustion) {
  auto pool = BufferPool::Create(BufferPool::Kind::kPlain, 1, 4, 256, 32);
  ASSERT_TRUE(pool.ok());
  std::vector<Buffer> held;
  for (int i = 0; i < 4; ++i) held.push_back((*pool)->Allocate());
  EXPECT_EQ((*pool)->available(), 0u);
  EXPECT_FALSE((*pool)->Allocate());
  EXPECT_EQ((*pool)->exhausted_count(), 1u);
  held.pop_back();
  EXPECT_EQ((*pool)->available(), 1u);
  held.clear();
  EXPECT_EQ((*pool)->available(), 4u);
}

TEST(BufferPool, RegionsHeadroomDataTailroom) {
  auto pool = BufferPool::Create(BufferPool::Kind::kPlain, 1, 1, 256, 32);
  ASSERT_TRUE(pool.ok());
  Buffer b = (*pool)->Allocate();
  EXPECT_EQ(b.headroom().size(), 32u);
  EXPECT_EQ(b.tailroom().size(), 224u);
  b.tailroom()[0] = 'x';
  b.Commit(1);
  EXPECT_EQ(b.size(), 1u);
  b.headroom().back() = 'h';
  b.Prepend(1);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.data()[0], 'h');
  EXPECT_EQ(b.data()[1], 'x');
  b.Consume(1);
  EXPECT_EQ(b.data()[0], 'x');
}

TEST(BufferPool, PinnedBufferReturnsOnLastUnpin) {
  auto pool = BufferPool::Create(BufferPool::Kind::kPlain, 1, 1, 256, 0);
  ASSERT_TRUE(pool.ok());
  Buffer b = (*pool)->Allocate();
  const std::uint32_t id = b.id();
  (*pool)->Pin(id);
  b.reset();
  EXPECT_EQ((*pool)->available(), 0u);  // still pinned (a zero-copy send in flight)
  (*pool)->Unpin(id);
  EXPECT_EQ((*pool)->available(), 1u);
}

TEST(BufferPool, RejectsBadGeometry) {
  EXPECT_FALSE(BufferPool::Create(BufferPool::Kind::kProvided, 0, 3, 256, 0).ok());  // not a power of two
  EXPECT_FALSE(BufferPool::Create(BufferPool::Kind::kPlain, 1, 4, 256, 256).ok());  // headroom eats it all
}

TEST(Ring, ProbesFeaturesAndHonoursTheMask) {
  auto full = Ring::Create(RingOptions{});
  ASSERT_TRUE(full.ok()) << full.error().reason;
  std::printf("features: %s\n", (*full)->features().Describe().c_str());
  RingOptions masked;
  masked.allow = FeatureMask{false, false, false, false, false, false, false, false};
  auto degraded = Ring::Create(masked);
  ASSERT_TRUE(degraded.ok());
  const Features& f = (*degraded)->features();
  EXPECT_FALSE(f.single_issuer);
  EXPECT_FALSE(f.defer_taskrun);
  EXPECT_FALSE(f.multishot_accept);
  EXPECT_FALSE(f.multishot_recv);
  EXPECT_FALSE(f.buf_ring);
  EXPECT_FALSE(f.send_zc);
  EXPECT_FALSE(f.msg_ring);
}

}  // namespace
}  // namespace strait::runtime
