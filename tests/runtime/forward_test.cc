// strait-forward end to end: the real binary (path from CMake) between a blocking client and an in-process echo
// server. Checks the stdout address contract, bytes both ways, half-close propagation in both directions, hand-off
// across --threads, and a clean exit on SIGTERM.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/runtime/test_util.h"

extern char** environ;

namespace strait::runtime {
namespace {

using namespace std::chrono_literals;

#ifdef STRAIT_FORWARD_EXE

// Echoes each connection until EOF, then shuts down its write side; serves `count` connections one at a time.
void EchoServer(int lfd, int count) {
  for (int i = 0; i < count; ++i) {
    const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::uint8_t buf[65536];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (!testing::WriteAll(fd, std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)))) break;
    }
    shutdown(fd, SHUT_WR);
    testing::WaitEof(fd, 10s);
    close(fd);
  }
}

struct Forwarder {
  pid_t pid = -1;
  int out = -1;
  std::string address;
};

Forwarder StartForwarder(std::uint16_t target_port, int threads) {
  Forwarder f;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return f;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDOUT_FILENO);
  const std::string target = "127.0.0.1:" + std::to_string(target_port);
  const std::string nthreads = std::to_string(threads);
  const char* argv[] = {STRAIT_FORWARD_EXE, "--listen", "127.0.0.1:0", "--target", target.c_str(),
                        "--threads", nthreads.c_str(), nullptr};
  const int rc = posix_spawn(&f.pid, STRAIT_FORWARD_EXE, &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  if (rc != 0) {
    f.pid = -1;
    close(pipefd[0]);
    return f;
  }
  f.out = pipefd[0];
  // First stdout line is the bound address.
  char c;
  pollfd p{f.out, POLLIN, 0};
  while (f.address.size() < 64 && poll(&p, 1, 30000) == 1 && read(f.out, &c, 1) == 1 && c != '\n') f.address += c;
  return f;
}

// SIGTERM, then wait (bounded, via pidfd) for a clean exit. Returns the exit status or -1.
int StopForwarder(Forwarder& f) {
  if (f.pid <= 0) return -1;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, f.pid, 0));
  kill(f.pid, SIGTERM);
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    if (poll(&p, 1, 30000) != 1) kill(f.pid, SIGKILL);
    close(pidfd);
  }
  int status = 0;
  waitpid(f.pid, &status, 0);
  close(f.out);
  f.pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::uint16_t PortOf(const std::string& address) {
  const auto colon = address.rfind(':');
  return colon == std::string::npos ? 0 : static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
}

class StraitForward : public ::testing::TestWithParam<int> {};

TEST_P(StraitForward, ForwardsBothWaysPropagatesHalfCloseAndExitsCleanly) {
  constexpr int kClients = 4;
  std::uint16_t echo_port = 0;
  const int lfd = testing::ListenLoopback(&echo_port);
  std::thread echo(EchoServer, lfd, kClients);
  Forwarder fwd = StartForwarder(echo_port, GetParam());
  ASSERT_GT(fwd.pid, 0) << "could not start " << STRAIT_FORWARD_EXE;
  ASSERT_EQ(fwd.address.rfind("127.0.0.1:", 0), 0u) << "stdout: " << fwd.address;
  const std::uint16_t port = PortOf(fwd.address);
  ASSERT_NE(port, 0);

  for (int c = 0; c < kClients; ++c) {
    const int fd = testing::ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    const auto sent = testing::Pattern(2 << 20, static_cast<std::uint32_t>(c + 10));
    std::thread writer([&] {
      testing::WriteAll(fd, sent);
      shutdown(fd, SHUT_WR);  // half-close: must reach the echo server, whose own FIN must come back
    });
    std::vector<std::uint8_t> got(sent.size());
    EXPECT_TRUE(testing::ReadExactly(fd, got, 60s));
    EXPECT_TRUE(testing::WaitEof(fd, 30s)) << "the echo server's FIN did not come back through the forwarder";
    writer.join();
    EXPECT_TRUE(got == sent);
    close(fd);
  }
  echo.join();
  close(lfd);
  EXPECT_EQ(StopForwarder(fwd), 0);
}

INSTANTIATE_TEST_SUITE_P(Threads, StraitForward, ::testing::Values(1, 2));

#else
#error "forward_test is built only with STRAIT_BUILD_BENCH (tests/runtime/CMakeLists.txt)"
#endif

}  // namespace
}  // namespace strait::runtime
