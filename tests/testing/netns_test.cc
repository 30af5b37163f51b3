// The network-namespace test helper (tests/testing/netns.h): code run in a namespace sees only that namespace, a
// veth pair carries traffic between two, and the destructor leaves nothing behind.
#include "tests/testing/netns.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace strait::testing {
namespace {

std::string ThreadNetnsLink() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/thread-self/ns/net", ec).string();
}

TEST(NetNs, RunsCodeInsideAndRemovesTheNamespaceAfterwards) {
  std::string why = NetNsSkipReason();
  auto ns = why.empty() ? NetNs::Create("helper", &why) : nullptr;
  if (!ns) GTEST_SKIP() << why;
  const std::string path = "/run/netns/" + ns->name();
  EXPECT_TRUE(std::filesystem::exists(path));
  const std::string outside = ThreadNetnsLink();
  std::string inside;
  ns->Run([&] { inside = ThreadNetnsLink(); });
  EXPECT_FALSE(inside.empty());
  EXPECT_NE(inside, outside);
  EXPECT_EQ(ThreadNetnsLink(), outside) << "the test thread never changes namespace";
  const CommandResult links = ns->Exec("ip -o link show");
  EXPECT_EQ(links.status, 0) << links.output;
  EXPECT_NE(links.output.find("lo:"), std::string::npos);
  EXPECT_NE(links.output.find("UP"), std::string::npos) << "loopback is up: " << links.output;
  ns.reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(NetNs, VethPairCarriesUdpBetweenTwoNamespaces) {
  std::string why = NetNsSkipReason();
  auto a = why.empty() ? NetNs::Create("veth-a", &why) : nullptr;
  auto b = a ? NetNs::Create("veth-b", &why) : nullptr;
  if (!b) GTEST_SKIP() << why;
  const std::string error = AddVethPair(*a, "sveth-a", "10.99.0.1/24", *b, "sveth-b", "10.99.0.2/24");
  ASSERT_EQ(error, "");
  // The receiving socket is made in b and used from this thread: a socket keeps its namespace.
  int receiver = -1;
  std::uint16_t port = 0;
  b->Run([&] {
    receiver = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(0x0a630002);
    ASSERT_EQ(::bind(receiver, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::getsockname(receiver, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port = ntohs(addr.sin_port);
  });
  ASSERT_GE(receiver, 0);
  a->Run([&] {
    const int sender = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(0x0a630002);
    to.sin_port = htons(port);
    EXPECT_EQ(::sendto(sender, "ping", 4, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 4)
        << std::strerror(errno);
    ::close(sender);
  });
  pollfd p{receiver, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "nothing arrived over the veth pair within 5 s";
  char buf[16];
  sockaddr_in from{};
  socklen_t len = sizeof from;
  const ssize_t n = ::recvfrom(receiver, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "ping");
  EXPECT_EQ(ntohl(from.sin_addr.s_addr), 0x0a630001u);
  ::close(receiver);
  // Either namespace going takes the pair with it.
  const std::string a_name = a->name();
  b.reset();
  EXPECT_NE(RunCommand("ip -n " + a_name + " link show sveth-a").status, 0);
}

TEST(NetNs, CreateDeletesWhatACrashedTestBinaryLeft) {
  std::string why = NetNsSkipReason();
  if (!why.empty()) GTEST_SKIP() << why;
  const pid_t gone = ::fork();  // a pid whose process has exited: what a crashed test binary leaves
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  const std::string leftover = "strait-nt-crashed-" + std::to_string(gone) + "-0";
  const std::string alive = "strait-nt-alive-" + std::to_string(::getpid()) + "-999";
  ASSERT_EQ(RunCommand("ip netns add " + leftover).status, 0);
  ASSERT_EQ(RunCommand("ip netns add " + alive).status, 0);
  auto ns = NetNs::Create("sweeper", &why);
  ASSERT_TRUE(ns) << why;
  EXPECT_FALSE(std::filesystem::exists("/run/netns/" + leftover));
  EXPECT_TRUE(std::filesystem::exists("/run/netns/" + alive)) << "a running process's namespace is kept";
  (void)RunCommand("ip netns del " + alive);
  (void)RunCommand("ip netns del " + leftover);
}

}  // namespace
}  // namespace strait::testing
