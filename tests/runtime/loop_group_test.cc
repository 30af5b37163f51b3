// Cross-loop hand-off: loop 0 accepts, hands the fd to loop 1 by message, loop 1 serves it. Run with the MSG_RING
// doorbell and with the eventfd fallback.
#include "runtime/loop_group.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kHandOff = 1;

// Per loop: receives handed-off fds and echoes on them.
class Worker final : public MessageHandler, public testing::EchoHandler {
 public:
  void OnMessage(EventLoop& loop, const Message& msg) override {
    if (msg.kind != kHandOff) return;
    if (!loop.Adopt(msg.fd, this).valid()) close(msg.fd);
    served.fetch_add(1);
  }
  std::atomic<int> served{0};
};

class HandToNext final : public AcceptHandler {
 public:
  explicit HandToNext(LoopGroup* g) : group(g) {}
  void OnAccept(EventLoop& loop, ListenerId, int fd) override {
    if (!loop.PostTo(group->loop(1), Message{kHandOff, fd, 0, 0})) close(fd);
  }
  LoopGroup* group;
};

class LoopGroupHandOff : public ::testing::TestWithParam<bool> {};

TEST_P(LoopGroupHandOff, AcceptedConnectionIsServedByTheOtherLoop) {
  LoopOptions o;
  o.ring.allow.msg_ring = GetParam();
  o.recv_buffer_count = 64;
  o.plain_buffer_count = 64;
  std::uint16_t port = 0;
  const int lfd = testing::ListenLoopback(&port);
  Worker workers[2];
  std::unique_ptr<HandToNext> acceptor;
  bool msg_ring_in_use = false;
  auto group = LoopGroup::Start(2, o, [&](LoopGroup& g, EventLoop& loop, std::size_t i) {
    loop.SetMessageHandler(&workers[i]);
    if (i == 0) {
      msg_ring_in_use = loop.features().msg_ring;
      acceptor = std::make_unique<HandToNext>(&g);
      ASSERT_TRUE(loop.Listen(lfd, acceptor.get()).ok());
    }
  });
  ASSERT_TRUE(group.ok()) << group.error().reason;
  if (GetParam()) {
    EXPECT_TRUE(msg_ring_in_use) << "kernel without IORING_OP_MSG_RING: eventfd fallback used instead";
  }

  constexpr int kClients = 8;
  for (int c = 0; c < kClients; ++c) {
    const int fd = testing::ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    const auto msg = testing::Pattern(1000, static_cast<std::uint32_t>(c));
    ASSERT_TRUE(testing::WriteAll(fd, msg));
    std::vector<std::uint8_t> back(msg.size());
    EXPECT_TRUE(testing::ReadExactly(fd, back, 30s));
    EXPECT_EQ(back, msg);
    close(fd);
  }
  group.value()->Stop();
  EXPECT_EQ(workers[1].served.load(), kClients);
  EXPECT_EQ(workers[0].served.load(), 0);
  EXPECT_EQ(workers[1].send_failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Doorbell, LoopGroupHandOff, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return std::string(p.param ? "MsgRing" : "EventFd");
                         });

TEST(LoopGroup, StopWithUndeliveredFdMessagesClosesThem) {
  const int fds_before = testing::CountOpenFds();
  {
    auto group = LoopGroup::Start(2, LoopOptions{}, nullptr);
    ASSERT_TRUE(group.ok());
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    // No message handler is set: the loop closes the fd it was given.
    EXPECT_TRUE(group.value()->loop(1).Post(Message{kHandOff, sv[0], 0, 0}));
    group.value()->Stop();
    close(sv[1]);
  }
  EXPECT_EQ(testing::CountOpenFds(), fds_before);
}

}  // namespace
}  // namespace strait::runtime
