// TunDevice and RtNetlink against the real kernel, each test in a fresh network namespace (tests/testing/netns.h):
// a configured TUN carries a UDP datagram out (read from the fd) and a reply in (written to the fd); the routes
// and errors are the kernel's; closing the device removes the interface and its routes. Skips with the reason when
// not root, without /dev/net/tun, or when `ip netns add` fails.
#include "runtime/tun_device.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/netlink.h"
#include "tests/testing/netns.h"

namespace strait::runtime {
namespace {

using strait::testing::NetNs;

constexpr std::uint32_t kDeviceAddress = 0x64600002;  // 100.96.0.2
constexpr std::uint32_t kRoutePrefix = 0x0a140000;    // 10.20.0.0/16
constexpr std::uint32_t kRemote = 0x0a140005;         // 10.20.0.5
constexpr std::uint16_t kRemotePort = 9;

class TunDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = strait::testing::TunSkipReason();
    if (why.empty()) ns_ = NetNs::Create("tun", &why);
    if (!ns_) GTEST_SKIP() << why;
  }

  std::unique_ptr<NetNs> ns_;
};

// MTU, address /32, up, route: what the device does at start (docs/ip-tunnel.md §5).
void Configure(RtNetlink& nl, const TunDevice& dev) {
  auto mtu = nl.SetMtu(dev.ifindex(), 1400);
  ASSERT_TRUE(mtu.ok()) << mtu.error().reason;
  auto addr = nl.AddAddress(dev.ifindex(), kDeviceAddress, 32);
  ASSERT_TRUE(addr.ok()) << addr.error().reason;
  auto up = nl.SetLinkUp(dev.ifindex());
  ASSERT_TRUE(up.ok()) << up.error().reason;
  auto route = nl.AddRoute(dev.ifindex(), kRoutePrefix, 16);
  ASSERT_TRUE(route.ok()) << route.error().reason;
}

std::uint16_t Be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t Be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
void PutBe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void PutBe32(std::uint8_t* p, std::uint32_t v) {
  PutBe16(p, static_cast<std::uint16_t>(v >> 16));
  PutBe16(p + 2, static_cast<std::uint16_t>(v));
}

// A UDP socket in the calling thread's namespace, bound to port 0; returns its fd and port.
int UdpSocket(std::uint16_t* port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0) << std::strerror(errno);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any), 0) << std::strerror(errno);
  socklen_t len = sizeof any;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&any), &len), 0);
  *port = ntohs(any.sin_port);
  return fd;
}

void SendTo(int fd, std::uint32_t address, std::uint16_t port, const std::string& payload) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(address);
  to.sin_port = htons(port);
  ASSERT_EQ(::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(payload.size()))
      << std::strerror(errno);
}

// Reads packets from the TUN until one is IPv4 (an IPv6 packet the kernel sends on its own is skipped); waits up to
// 5 s in all. Returns the bytes read (header included in vnet_hdr mode), empty on timeout.
std::vector<std::uint8_t> ReadIpv4Packet(const TunDevice& dev) {
  const std::size_t skip = dev.vnet_hdr() ? kVnetHdrSize : 0;
  std::vector<std::uint8_t> buf(65536 + kVnetHdrSize);
  for (int polls = 0; polls < 50; ++polls) {
    pollfd p{dev.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const long n = dev.Read(buf);
    if (n == -EAGAIN) continue;
    EXPECT_GT(n, 0) << std::strerror(static_cast<int>(-n));
    if (n <= 0) return {};
    if (static_cast<std::size_t>(n) > skip && buf[skip] >> 4 == 4) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
  }
  return {};
}

std::uint16_t Ipv4HeaderChecksum(const std::uint8_t* header, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < size; i += 2) sum += Be16(header + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// An IPv4/UDP packet (UDP checksum 0: "none", allowed for IPv4).
std::vector<std::uint8_t> UdpPacket(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport,
                                    const std::string& payload) {
  std::array<std::uint8_t, 28> h{};
  h[0] = 0x45;
  PutBe16(&h[2], static_cast<std::uint16_t>(h.size() + payload.size()));
  h[8] = 64;
  h[9] = IPPROTO_UDP;
  PutBe32(&h[12], src);
  PutBe32(&h[16], dst);
  PutBe16(&h[10], Ipv4HeaderChecksum(h.data(), 20));
  PutBe16(&h[20], sport);
  PutBe16(&h[22], dport);
  PutBe16(&h[24], static_cast<std::uint16_t>(8 + payload.size()));
  std::vector<std::uint8_t> p(h.size() + payload.size());
  std::memcpy(p.data(), h.data(), h.size());
  std::memcpy(p.data() + h.size(), payload.data(), payload.size());
  return p;
}

// Receives one datagram within 5 s; returns its payload and sender.
std::string ReceiveFrom(int fd, sockaddr_in* from) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return "(nothing within 5 s)";
  char buf[2048];
  socklen_t len = sizeof *from;
  const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(from), &len);
  return n < 0 ? std::string("(recv: ") + std::strerror(errno) + ")" : std::string(buf, static_cast<std::size_t>(n));
}

bool InterfaceListed(const std::string& name) {  // in the calling thread's namespace
  std::ifstream dev("/proc/thread-self/net/dev");
  std::string line;
  while (std::getline(dev, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(' ');
    if (line.substr(start, colon - start) == name) return true;
  }
  return false;
}

TEST(TunDeviceOptions, RejectsNamesLongerThanTheKernelAllows) {
  auto dev = TunDevice::Open({.name = "strait-much-too-long"});
  ASSERT_FALSE(dev.ok());
  EXPECT_EQ(dev.error().err, EINVAL);
  EXPECT_NE(dev.error().reason.find("longer than 15 bytes"), std::string::npos) << dev.error().reason;
}

TEST_F(TunDeviceTest, ConfiguredDeviceCarriesUdpBothWaysAndVanishesOnClose) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0"});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    TunDevice dev = std::move(*opened);
    EXPECT_EQ(dev.name(), "strait0");
    EXPECT_GT(dev.ifindex(), 0);
    EXPECT_FALSE(dev.vnet_hdr());
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, dev));

    // The kernel's view, through netlink and through iproute2.
    auto routes = nl->ListRoutes(dev.ifindex());
    ASSERT_TRUE(routes.ok()) << routes.error().reason;
    bool found = false;
    for (const RouteInfo& r : *routes) {
      if (r.dst == kRoutePrefix && r.prefix_len == 16) {
        found = true;
        EXPECT_EQ(r.table, RtNetlink::kMainTable);
        EXPECT_EQ(r.protocol, RTPROT_STATIC);
        EXPECT_EQ(r.scope, RT_SCOPE_LINK);
        EXPECT_EQ(r.type, RTN_UNICAST);
        EXPECT_EQ(r.gateway, 0u);
      }
    }
    EXPECT_TRUE(found) << routes->size() << " routes on strait0, none 10.20.0.0/16";
    const auto link = ns_->Exec("ip -o link show dev strait0");
    EXPECT_EQ(link.status, 0) << link.output;
    EXPECT_NE(link.output.find("mtu 1400"), std::string::npos) << link.output;
    EXPECT_NE(link.output.find(",UP"), std::string::npos) << link.output;
    EXPECT_EQ(ns_->Exec("cat /sys/class/net/strait0/mtu").output, "1400\n");
    const auto route = ns_->Exec("ip route show 10.20.0.0/16");
    EXPECT_NE(route.output.find("dev strait0"), std::string::npos) << route.output;
    const auto addr = ns_->Exec("ip -o -4 addr show dev strait0");
    EXPECT_NE(addr.output.find("100.96.0.2/32"), std::string::npos) << addr.output;

    // Out: a datagram to the routed prefix comes out of the TUN fd as an IPv4 packet.
    std::uint16_t port = 0;
    const int sock = UdpSocket(&port);
    ASSERT_NO_FATAL_FAILURE(SendTo(sock, kRemote, kRemotePort, "hello"));
    const auto packet = ReadIpv4Packet(dev);
    ASSERT_EQ(packet.size(), 20u + 8u + 5u);
    EXPECT_EQ(packet[0], 0x45);
    EXPECT_EQ(packet[9], IPPROTO_UDP);
    EXPECT_EQ(Be32(&packet[12]), kDeviceAddress);
    EXPECT_EQ(Be32(&packet[16]), kRemote);
    EXPECT_EQ(Be16(&packet[20]), port);
    EXPECT_EQ(Be16(&packet[22]), kRemotePort);
    EXPECT_EQ(std::string(packet.begin() + 28, packet.end()), "hello");
    EXPECT_EQ(Ipv4HeaderChecksum(packet.data(), 20), 0) << "the kernel's header checksum verifies";

    // In: a reply written to the TUN fd reaches the socket.
    const auto reply = UdpPacket(kRemote, kRemotePort, kDeviceAddress, port, "world");
    EXPECT_EQ(dev.Write(reply), static_cast<long>(reply.size()));
    sockaddr_in from{};
    EXPECT_EQ(ReceiveFrom(sock, &from), "world");
    EXPECT_EQ(ntohl(from.sin_addr.s_addr), kRemote);
    EXPECT_EQ(ntohs(from.sin_port), kRemotePort);
    ::close(sock);

    // Closing the device removes the interface, its address and its routes: nothing to clean up after a crash.
    const int ifindex = dev.ifindex();
    EXPECT_TRUE(InterfaceListed("strait0"));
    dev.Close();
    EXPECT_FALSE(dev.is_open());
    EXPECT_FALSE(InterfaceListed("strait0"));
    EXPECT_NE(ns_->Exec("ip link show dev strait0").status, 0);
    EXPECT_EQ(ns_->Exec("ip route show 10.20.0.0/16").output, "");
    auto after = nl->ListRoutes(ifindex);
    ASSERT_TRUE(after.ok()) << after.error().reason;
    EXPECT_TRUE(after->empty()) << after->size() << " routes left on the closed device";
  });
}

// Opens strait0 in a child process inside `ns` that first lost a privilege, and returns the error text Open gave
// ("ok" if it succeeded). Kinds: kNoNetAdmin keeps uid 0 but drops CAP_NET_ADMIN from the effective set;
// kNobody becomes uid 65534 (then /dev/net/tun, mode 0600 root, cannot even be opened).
enum class Lose : std::uint8_t { kNoNetAdmin, kNobody };

// CAP_NET_ADMIN out of this thread's effective set (libc has no wrapper for capget/capset).
bool DropNetAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2]{};
  if (::syscall(SYS_capget, &header, caps) != 0) return false;
  caps[0].effective &= ~(1u << CAP_NET_ADMIN);
  return ::syscall(SYS_capset, &header, caps) == 0;
}
std::string OpenWithout(const NetNs& ns, Lose what) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(out[0]);
    std::string text;
    const int ns_fd = ::open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0 || ::setns(ns_fd, CLONE_NEWNET) != 0) {
      text = "setns failed";
    } else if (what == Lose::kNobody && ::setresuid(65534, 65534, 65534) != 0) {
      text = "setresuid failed";
    } else if (what == Lose::kNoNetAdmin && !DropNetAdmin()) {
      text = "capset failed";
    } else {
      auto dev = TunDevice::Open({.name = "strait0"});
      text = dev.ok() ? "ok" : dev.error().reason;
    }
    (void)!::write(out[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(out[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return text;
}

// The loop's readiness watch (EventLoop::WatchReadable) on a TUN fd: datagrams sent into the routed prefix are read
// in batches from the loop thread, as the device and the connector will read their TUNs.
TEST_F(TunDeviceTest, TheLoopWatchesATunAndReadsItsPacketsInBatches) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0"});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    TunDevice dev = std::move(*opened);
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, dev));
    auto loop = EventLoop::Create(LoopOptions{});
    ASSERT_TRUE(loop.ok()) << loop.error().reason;

    struct Reader : ReadableHandler {
      const TunDevice* dev = nullptr;
      int packets = 0;
      int calls = 0;
      void OnReadable(EventLoop& l, WatchId /*id*/) override {
        ++calls;
        std::array<std::uint8_t, 2048> buf{};
        // A batch, until EAGAIN. Only our datagrams count: the kernel may send its own (IPv6 link-local chatter).
        for (long n = 0, i = 0; i < 64 && (n = dev->Read(buf)) > 0; ++i) {
          if (n >= 20 && buf[0] == 0x45 && buf[9] == IPPROTO_UDP && Be32(&buf[16]) == kRemote) ++packets;
        }
        if (packets >= 5) l.RequestStop();
      }
    } reader;
    reader.dev = &dev;
    ASSERT_TRUE((*loop)->WatchReadable(dev.fd(), &reader).valid());
    std::uint16_t port = 0;
    const int sock = UdpSocket(&port);
    // Two datagrams before the loop runs, three while it waits (each must wake it).
    for (int i = 0; i < 2; ++i) ASSERT_NO_FATAL_FAILURE(SendTo(sock, kRemote, kRemotePort, "p" + std::to_string(i)));
    std::thread later([&] {
      for (int i = 2; i < 5; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        SendTo(sock, kRemote, kRemotePort, "p" + std::to_string(i));
      }
    });
    struct Guard : TimerHandler {
      bool fired = false;
      void OnTimer(EventLoop& l, TimerId, std::uint64_t) override {
        fired = true;
        l.RequestStop();
      }
    } guard;
    (void)(*loop)->AddTimer(std::chrono::seconds(20), &guard);
    const auto start = std::chrono::steady_clock::now();
    (*loop)->Run();
    later.join();
    ::close(sock);
    EXPECT_FALSE(guard.fired) << reader.packets << " packets read";
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "a packet waited for another event";
    EXPECT_EQ(reader.packets, 5);
    EXPECT_LE(reader.calls, 5);
  });
}

TEST_F(TunDeviceTest, ErrorsNameTheStepThatLackedThePrivilege) {
  EXPECT_EQ(OpenWithout(*ns_, Lose::kNoNetAdmin), "TUNSETIFF strait0: Operation not permitted");
  EXPECT_EQ(OpenWithout(*ns_, Lose::kNobody), "open /dev/net/tun: Permission denied");
}

TEST_F(TunDeviceTest, SecondOpenOfTheSameNameFailsUntilTheFirstCloses) {
  ns_->Run([&] {
    auto first = TunDevice::Open({.name = "strait0"});
    ASSERT_TRUE(first.ok()) << first.error().reason;
    auto second = TunDevice::Open({.name = "strait0"});
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().err, EBUSY);
    EXPECT_EQ(second.error().reason.rfind("TUNSETIFF strait0: Device or resource busy", 0), 0u)
        << second.error().reason;
    first->Close();
    auto third = TunDevice::Open({.name = "strait0"});
    EXPECT_TRUE(third.ok()) << third.error().reason;
  });
}

TEST_F(TunDeviceTest, KernelPicksTheNameWhenNoneIsGiven) {
  ns_->Run([&] {
    auto dev = TunDevice::Open({});
    ASSERT_TRUE(dev.ok()) << dev.error().reason;
    EXPECT_EQ(dev->name().rfind("tun", 0), 0u) << dev->name();
    EXPECT_GT(dev->ifindex(), 0);
    EXPECT_TRUE(InterfaceListed(dev->name()));
  });
}

TEST_F(TunDeviceTest, NameOfAnotherKindOfInterfaceIsRefused) {
  ns_->Run([&] {
    auto dev = TunDevice::Open({.name = "lo"});
    ASSERT_FALSE(dev.ok());
    EXPECT_EQ(dev.error().reason.rfind("TUNSETIFF lo: ", 0), 0u) << dev.error().reason;
  });
}

TEST_F(TunDeviceTest, VnetHdrModePutsTheVirtioHeaderInFront) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0", .vnet_hdr = true});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    TunDevice dev = std::move(*opened);
    EXPECT_TRUE(dev.vnet_hdr());
    // Offloads are best effort; when refused, the reason is reported instead.
    if (dev.offloads() == TunOffloads::kNone) {
      EXPECT_FALSE(dev.offload_error().empty());
    } else {
      EXPECT_TRUE(dev.offload_error().empty()) << dev.offload_error();
    }
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, dev));

    std::uint16_t port = 0;
    const int sock = UdpSocket(&port);
    ASSERT_NO_FATAL_FAILURE(SendTo(sock, kRemote, kRemotePort, "small"));
    const auto got = ReadIpv4Packet(dev);
    ASSERT_EQ(got.size(), kVnetHdrSize + 20 + 8 + 5);
    // A small UDP datagram is never a GSO packet; with TUN_F_CSUM its checksum may be left partial (flags bit 0).
    EXPECT_EQ(got[kVnetHdrGsoTypeOffset], kVnetHdrGsoNone);
    EXPECT_EQ(got[0] & ~kVnetHdrFlagNeedsCsum, 0);
    const std::uint8_t* ip = got.data() + kVnetHdrSize;
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[9], IPPROTO_UDP);
    EXPECT_EQ(Be32(ip + 16), kRemote);
    EXPECT_EQ(Be16(ip + 22), kRemotePort);

    // Writing takes the header too: an all-zero header is "no offload, checksums complete".
    auto reply = UdpPacket(kRemote, kRemotePort, kDeviceAddress, port, "reply");
    reply.insert(reply.begin(), kVnetHdrSize, 0);
    EXPECT_EQ(dev.Write(reply), static_cast<long>(reply.size()));
    sockaddr_in from{};
    EXPECT_EQ(ReceiveFrom(sock, &from), "reply");
    ::close(sock);
  });
}

// The one's-complement sum of a TCP segment with its IPv4 pseudo-header (for the SYN-ACK the test plays).
std::uint16_t TcpChecksum(std::uint32_t src, std::uint32_t dst, const std::uint8_t* segment, std::size_t size) {
  std::uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + IPPROTO_TCP +
                      static_cast<std::uint32_t>(size);
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += Be16(segment + i);
  if (size % 2 != 0) sum += std::uint32_t{segment[size - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// With TUN_F_TSO4 the kernel hands the TUN whole TCP bursts: one read, many segments, to be split by the reader
// (docs/ip-tunnel.md §5 "Batches"). The test plays the remote end's SYN-ACK so a real connection sends.
TEST_F(TunDeviceTest, VnetHdrWithTso4ReadsTcpBurstsAsOneGsoPacket) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0", .vnet_hdr = true});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    TunDevice dev = std::move(*opened);
    if (dev.offloads() != TunOffloads::kCsumTso4) GTEST_SKIP() << "no offloads here: " << dev.offload_error();
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, dev));

    const int sock = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(sock, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(kRemote);
    to.sin_port = htons(80);
    ASSERT_EQ(::connect(sock, reinterpret_cast<const sockaddr*>(&to), sizeof to), -1);
    ASSERT_EQ(errno, EINPROGRESS);
    const auto syn = ReadIpv4Packet(dev);
    ASSERT_GE(syn.size(), kVnetHdrSize + 40);
    const std::uint8_t* syn_ip = syn.data() + kVnetHdrSize;
    ASSERT_EQ(syn_ip[9], IPPROTO_TCP);
    const std::uint8_t* syn_tcp = syn_ip + (syn_ip[0] & 0x0f) * 4;
    ASSERT_EQ(syn_tcp[13], 0x02) << "SYN";

    // SYN-ACK: MSS 1360 (MTU 1400 - 40), no other options, window 65535.
    constexpr std::uint16_t kMss = 1360;
    std::array<std::uint8_t, 10 + 20 + 24> synack{};
    std::uint8_t* ip = synack.data() + kVnetHdrSize;
    ip[0] = 0x45;
    PutBe16(ip + 2, 44);
    ip[8] = 64;
    ip[9] = IPPROTO_TCP;
    PutBe32(ip + 12, kRemote);
    PutBe32(ip + 16, kDeviceAddress);
    PutBe16(ip + 10, Ipv4HeaderChecksum(ip, 20));
    std::uint8_t* tcp = ip + 20;
    PutBe16(tcp, 80);
    PutBe16(tcp + 2, Be16(syn_tcp));
    PutBe32(tcp + 4, 1000);                      // our initial sequence number
    PutBe32(tcp + 8, Be32(syn_tcp + 4) + 1);     // acknowledges the SYN
    tcp[12] = 6 << 4;                            // 24-byte header
    tcp[13] = 0x12;                              // SYN | ACK
    PutBe16(tcp + 14, 65535);
    tcp[20] = 2;                                 // MSS option
    tcp[21] = 4;
    PutBe16(tcp + 22, kMss);
    PutBe16(tcp + 16, TcpChecksum(kRemote, kDeviceAddress, tcp, 24));
    ASSERT_EQ(dev.Write(synack), static_cast<long>(synack.size()));
    pollfd p{sock, POLLOUT, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the connection did not complete";

    const std::vector<char> data(60000, 'x');
    ASSERT_GT(::send(sock, data.data(), data.size(), 0), 0) << std::strerror(errno);
    // Skip the handshake's ACK; the first packet with data carries a burst (initial window: 10 segments).
    bool seen_gso = false;
    for (int packets = 0; packets < 8 && !seen_gso; ++packets) {
      const auto got = ReadIpv4Packet(dev);
      ASSERT_FALSE(got.empty()) << "no data packet from the TUN";
      if (got.size() <= kVnetHdrSize + 40) continue;  // a pure ACK
      std::uint16_t hdr_len, gso_size;
      std::memcpy(&hdr_len, &got[2], 2);  // host order (little-endian), see tun_device.h
      std::memcpy(&gso_size, &got[4], 2);
      EXPECT_EQ(got[kVnetHdrGsoTypeOffset], kVnetHdrGsoTcpv4);
      EXPECT_EQ(got[0] & kVnetHdrFlagNeedsCsum, kVnetHdrFlagNeedsCsum) << "the checksum is left to the reader";
      EXPECT_EQ(hdr_len, 40);
      EXPECT_EQ(gso_size, kMss);
      EXPECT_GT(got.size() - kVnetHdrSize - hdr_len, std::size_t{kMss}) << "one read, several segments";
      seen_gso = got[kVnetHdrGsoTypeOffset] == kVnetHdrGsoTcpv4;
    }
    EXPECT_TRUE(seen_gso);
    ::close(sock);
  });
}

TEST_F(TunDeviceTest, VnetHdrWithoutOffloadsAsksForNone) {
  ns_->Run([&] {
    auto dev = TunDevice::Open({.name = "strait0", .vnet_hdr = true, .offloads = false});
    ASSERT_TRUE(dev.ok()) << dev.error().reason;
    EXPECT_TRUE(dev->vnet_hdr());
    EXPECT_EQ(dev->offloads(), TunOffloads::kNone);
    EXPECT_EQ(dev->offload_error(), "");
  });
}

TEST_F(TunDeviceTest, NetlinkErrorsCarryTheRequestAndTheKernelsText) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0"});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    TunDevice dev = std::move(*opened);
    auto nl = RtNetlink::Open();
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, dev));

    auto again = nl->AddRoute(dev.ifindex(), kRoutePrefix, 16);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().err, EEXIST);
    EXPECT_EQ(again.error().reason.rfind("RTM_NEWROUTE 10.20.0.0/16 dev strait0: File exists", 0), 0u)
        << again.error().reason;
    auto address_again = nl->AddAddress(dev.ifindex(), kDeviceAddress, 32);
    ASSERT_FALSE(address_again.ok());
    EXPECT_EQ(address_again.error().err, EEXIST);
    EXPECT_EQ(address_again.error().reason.rfind("RTM_NEWADDR 100.96.0.2/32 dev strait0: File exists", 0), 0u)
        << address_again.error().reason;
    auto host_bits = nl->AddRoute(dev.ifindex(), kRemote, 16);
    ASSERT_FALSE(host_bits.ok());
    EXPECT_EQ(host_bits.error().err, EINVAL) << host_bits.error().reason;
    // The kernel's extended ack (NETLINK_EXT_ACK) follows its errno text.
    EXPECT_EQ(host_bits.error().reason,
              "RTM_NEWROUTE 10.20.0.5/16 dev strait0: Invalid argument (Invalid prefix for given prefix length)");
    auto tiny_mtu = nl->SetMtu(dev.ifindex(), 10);
    ASSERT_FALSE(tiny_mtu.ok());
    EXPECT_EQ(tiny_mtu.error().err, EINVAL) << tiny_mtu.error().reason;
    EXPECT_EQ(tiny_mtu.error().reason.rfind("RTM_NEWLINK mtu 10 dev strait0: Invalid argument", 0), 0u)
        << tiny_mtu.error().reason;

    // An address goes and comes back (DeviceTun re-addresses its interface this way).
    auto address_gone = nl->DeleteAddress(dev.ifindex(), kDeviceAddress, 32);
    ASSERT_TRUE(address_gone.ok()) << address_gone.error().reason;
    auto address_gone_again = nl->DeleteAddress(dev.ifindex(), kDeviceAddress, 32);
    ASSERT_FALSE(address_gone_again.ok());
    EXPECT_EQ(address_gone_again.error().err, EADDRNOTAVAIL) << address_gone_again.error().reason;
    EXPECT_EQ(address_gone_again.error().reason.rfind("RTM_DELADDR 100.96.0.2/32 dev strait0: ", 0), 0u)
        << address_gone_again.error().reason;
    auto address_back = nl->AddAddress(dev.ifindex(), kDeviceAddress, 32);
    ASSERT_TRUE(address_back.ok()) << address_back.error().reason;
    // The kernel dropped the interface's routes with its last IPv4 address (so DeviceTun adds a new address before
    // it removes the old one). Put the route back.
    auto route_gone = nl->DeleteRoute(dev.ifindex(), kRoutePrefix, 16);
    EXPECT_EQ(route_gone.ok() ? 0 : route_gone.error().err, ESRCH);
    ASSERT_TRUE(nl->AddRoute(dev.ifindex(), kRoutePrefix, 16).ok());

    // Delete, and a table above 255 (RTA_TABLE).
    auto deleted = nl->DeleteRoute(dev.ifindex(), kRoutePrefix, 16);
    ASSERT_TRUE(deleted.ok()) << deleted.error().reason;
    auto deleted_again = nl->DeleteRoute(dev.ifindex(), kRoutePrefix, 16);
    ASSERT_FALSE(deleted_again.ok());
    EXPECT_EQ(deleted_again.error().err, ESRCH) << deleted_again.error().reason;
    EXPECT_EQ(deleted_again.error().reason.rfind("RTM_DELROUTE 10.20.0.0/16 dev strait0: No such process", 0), 0u)
        << deleted_again.error().reason;
    auto in_table = nl->AddRoute(dev.ifindex(), kRoutePrefix, 16, 1000);
    ASSERT_TRUE(in_table.ok()) << in_table.error().reason;
    auto routes = nl->ListRoutes(dev.ifindex());
    ASSERT_TRUE(routes.ok()) << routes.error().reason;
    int main_table = 0;
    int table_1000 = 0;
    for (const RouteInfo& r : *routes) {
      if (r.dst != kRoutePrefix || r.prefix_len != 16) continue;
      if (r.table == RtNetlink::kMainTable) ++main_table;
      if (r.table == 1000) ++table_1000;
    }
    EXPECT_EQ(main_table, 0);
    EXPECT_EQ(table_1000, 1);
    EXPECT_NE(ns_->Exec("ip route show table 1000").output.find("10.20.0.0/16 dev strait0"), std::string::npos);
    EXPECT_EQ(nl->stale_replies(), 0u);
  });
}

TEST_F(TunDeviceTest, DumpBeyondItsBoundAbandonsTheNetlinkSocket) {
  ns_->Run([&] {
    auto opened = TunDevice::Open({.name = "strait0"});
    ASSERT_TRUE(opened.ok()) << opened.error().reason;
    auto nl = RtNetlink::Open({.max_dump_messages = 1});
    ASSERT_TRUE(nl.ok()) << nl.error().reason;
    ASSERT_NO_FATAL_FAILURE(Configure(*nl, *opened));  // the local and main tables now hold several routes
    auto routes = nl->ListRoutes(opened->ifindex());
    ASSERT_FALSE(routes.ok());
    EXPECT_EQ(routes.error().err, E2BIG) << routes.error().reason;
    // The rest of the dump is still queued: the socket refuses further use rather than misread it.
    auto after = nl->SetLinkUp(opened->ifindex());
    ASSERT_FALSE(after.ok());
    EXPECT_NE(after.error().reason.find("abandoned"), std::string::npos) << after.error().reason;
    auto fresh = RtNetlink::Open();
    ASSERT_TRUE(fresh.ok()) << fresh.error().reason;
    auto listed = fresh->ListRoutes(opened->ifindex());
    ASSERT_TRUE(listed.ok()) << listed.error().reason;
    EXPECT_GE(listed->size(), 2u);  // 10.20.0.0/16 in main, 100.96.0.2 in local
  });
}

}  // namespace
}  // namespace strait::runtime
