// 10,000 concurrent connections held by one loop.
//
// The process fd limit here is 20,000 and cannot be raised, so 10,000 client+server pairs cannot live in one
// process (20,000 socket fds + the loop's own). The client ends live in a forked child process instead; this
// process holds the 10,000 accepted server-side connections, which is what a relay shard holds. The child is forked
// before any thread or ring exists, connects with plain blocking sockets, and exits when the parent closes a pipe.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tests/runtime/test_util.h"

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;

constexpr int kConnections = 10'000;

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Child: connect kConnections times, send one byte on each, then wait for the parent to close `hold`.
[[noreturn]] void ClientChild(std::uint16_t port, int hold, int report) {
  int ok = 0;
  for (int i = 0; i < kConnections; ++i) {
    const int fd = testing::ConnectLoopback(port);
    if (fd < 0) break;
    const std::uint8_t b = 1;
    if (send(fd, &b, 1, MSG_NOSIGNAL) != 1) break;
    ++ok;
  }
  [[maybe_unused]] ssize_t n = write(report, &ok, sizeof ok);
  char c;
  n = read(hold, &c, 1);  // returns 0 when the parent closes its end (or dies)
  _exit(0);
}

TEST(ManyConnections, HoldsTenThousandAcceptedConnectionsInOneLoop) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(kConnections + 100)) {
    GTEST_SKIP() << "fd limit " << rl.rlim_cur << " is below " << kConnections + 100;
  }
  std::uint16_t port = 0;
  const int lfd = testing::ListenLoopback(&port);
  int hold[2];
  int report[2];
  ASSERT_EQ(pipe2(hold, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(report, O_CLOEXEC), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(lfd);
    close(hold[1]);
    close(report[0]);
    ClientChild(port, hold[0], report[1]);
  }
  close(hold[0]);
  close(report[1]);

  LoopOptions o;
  o.max_connections = kConnections + 16;
  o.recv_buffer_count = 256;
  o.plain_buffer_count = 64;
  o.buffer_size = 4096;
  const long rss_before = RssKiB();
  {
    auto loop = testing::MakeLoop(o);
    ASSERT_TRUE(loop);
    const long rss_empty_loop = RssKiB();
    struct Counter : testing::EchoHandler {
      std::size_t got = 0;
      long rss_full = -1;
      std::uint32_t open_at_peak = 0;
      void OnData(EventLoop& l, ConnId, Buffer b) override {
        got += b.size();
        if (got == static_cast<std::size_t>(kConnections)) {
          rss_full = RssKiB();
          open_at_peak = l.open_connections();
          l.RequestStop();
        }
      }
    } counter;
    testing::AdoptAll acceptor(&counter);
    ASSERT_TRUE(loop->Listen(lfd, &acceptor).ok());
    testing::GuardTimer guard(*loop, 120s);
    loop->Run();  // stops once every connection delivered its byte; then shuts down with all 10,000 open
    const long rss_full = counter.rss_full;
    EXPECT_EQ(counter.open_at_peak, static_cast<std::uint32_t>(kConnections));
    EXPECT_FALSE(guard.fired) << "accepted " << acceptor.accepted << ", bytes " << counter.got;
    EXPECT_EQ(acceptor.accepted, kConnections);
    EXPECT_EQ(acceptor.rejected, 0);
    EXPECT_EQ(counter.got, static_cast<std::size_t>(kConnections));
    EXPECT_EQ(counter.closes, kConnections);  // clean shutdown closed them all
    EXPECT_EQ(loop->open_connections(), 0u);
    std::printf("rss: before loop %ld KiB, empty loop %ld KiB, with %d connections %ld KiB (%.0f B/conn incl. "
                "kernel-side user memory)\n",
                rss_before, rss_empty_loop, kConnections, rss_full,
                1024.0 * static_cast<double>(rss_full - rss_empty_loop) / kConnections);
  }
  int child_ok = -1;
  EXPECT_EQ(read(report[0], &child_ok, sizeof child_ok), static_cast<ssize_t>(sizeof child_ok));
  EXPECT_EQ(child_ok, kConnections);
  close(hold[1]);  // lets the child exit
  close(report[0]);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
}

}  // namespace
}  // namespace strait::runtime
