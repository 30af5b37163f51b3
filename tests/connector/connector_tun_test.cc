// The connector's packet path through a real TUN (docs/ip-tunnel.md §2, §6), in a network namespace the test makes:
// an in-process device takes a tunnel address, sends a UDP datagram as a SEALED_DATAGRAM to a server that only the
// connector's host can reach (10.20.0.5 on the namespace's loopback), and gets the reply back through the TUN; a packet
// the rules deny is answered with ICMP administratively prohibited; a spoofed source is dropped and counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "tests/connector/connector_test_fixture.h"
#include "tests/ip/packet_builder.h"
#include "tests/testing/netns.h"
#include "tunnel/ip/ipv4.h"

namespace strait::connector {
namespace {

using testing::Device;
using testing::Pki;
using testing::Stepper;

constexpr uint32_t kServer = 0x0a140005;  // 10.20.0.5, on the namespace's loopback
constexpr uint16_t kServerPort = 7007;

constexpr char kPolicy[] = R"(
[[allow]]
cidrs = ["127.0.0.0/8"]
ports = ["*"]
[tunnel]
routes = ["10.20.0.0/16"]
[[tunnel.allow]]
cidrs = ["10.20.0.0/16"]
protocols = ["udp", "icmp"]
ports = ["7007"]
)";

std::vector<uint8_t> Udp(uint32_t src, uint32_t dst, uint16_t dst_port, std::vector<uint8_t> data) {
  ip::testing::PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.protocol = 17;
  s.l4 = ip::testing::Udp(std::move(data), 40000, dst_port);
  return ip::testing::Build(s);
}

TEST(ConnectorTun, DatagramsCrossTheTunBothWaysAndDeniedOnesAreAnswered) {
  std::string why = strait::testing::TunSkipReason();
  std::unique_ptr<strait::testing::NetNs> ns;
  if (why.empty()) ns = strait::testing::NetNs::Create("ctun", &why);
  if (!ns) GTEST_SKIP() << why;
  const auto setup = ns->Exec("ip addr add 10.20.0.5/32 dev lo");  // no dummy module in every kernel
  ASSERT_EQ(setup.status, 0) << setup.output;

  ns->Run([&] {
    // A UDP echo server at 10.20.0.5:7007, on its own thread (inside the namespace: sockets keep theirs).
    const int srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(srv, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kServer);
    a.sin_port = htons(kServerPort);
    ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{10, 0};
    setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::thread echo([srv] {
      std::array<char, 2048> buf;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n = recvfrom(srv, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) sendto(srv, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    });

    runtime::LoopOptions lo;
    lo.graceful_close_timeout = std::chrono::milliseconds(2000);
    auto loop = runtime::EventLoop::Create(lo).value();
    Pki pki;
    Pki::Member conn = pki.Issue(pki.acme, crypto::Role::kConnector, "dc1");
    Pki::Member dev = pki.Issue(pki.acme, crypto::Role::kDevice, "phone");
    ConnectorOptions o = testing::BaseOptions(pki, conn, kPolicy);
    AddressPoolOptions pool;
    ASSERT_TRUE(ParsePoolCidr("100.96.0.0/24", &pool).ok());
    o.tunnel_pool = pool;
    o.tunnel_mtu = 1400;
    o.tunnel_device = "strait-c0";
    auto c = Connector::Create(*loop, std::move(o));
    ASSERT_TRUE(c.ok()) << c.error();
    std::unique_ptr<Connector> connector = std::move(*c);
    ASSERT_EQ(connector->Start(), "");
    ASSERT_NE(connector->tunnel_port(), nullptr);

    Device d(*loop, pki, dev, "acme");
    uint32_t me = 0;
    Stepper s(*loop,
              {{[] { return true; }, [&] { d.Connect(*connector->direct_address()); }},
               {[&] { return d.established(); }, [&] { d.RequestTunnel(1500); }},
               {[&] { return d.tunnel_config.has_value() || d.tunnel_refused.has_value(); },
                [&] {
                  ASSERT_TRUE(d.tunnel_config);
                  me = d.tunnel_config->address;
                  d.SendPacket(Udp(me, kServer, kServerPort, {'p', 'i', 'n', 'g'}));  // allowed: echoed
                  d.SendPacket(Udp(me, kServer, 22, {'n', 'o'}));                     // denied: ICMP answer
                  d.SendPacket(Udp(me + 1, kServer, kServerPort, {'s'}));             // spoofed: dropped
                }},
               {[&] { return d.datagrams.size() >= 2; }, {}}});
    d.on_change = [&] { s.Check(); };
    link::testing::GuardTimer guard(*loop, std::chrono::seconds(20));
    s.Check();
    loop->Run();
    echo.join();
    close(srv);
    ASSERT_FALSE(guard.fired) << "stuck before step " << s.step << "; datagrams " << d.datagrams.size();

    // The echo (from the server to the device's address) and the ICMP answer (from the gateway), in either order.
    bool echoed = false, prohibited = false;
    for (const auto& p : d.datagrams) {
      const ip::ParsedIpv4 parsed = ip::ParseIpv4(p);
      ASSERT_TRUE(parsed.ok);
      EXPECT_EQ(parsed.packet.dst, me);
      if (parsed.packet.transport == ip::Transport::kUdp) {
        EXPECT_EQ(parsed.packet.src, kServer);
        EXPECT_EQ(std::string(parsed.packet.udp.payload.begin(), parsed.packet.udp.payload.end()), "ping");
        echoed = true;
      } else if (parsed.packet.transport == ip::Transport::kIcmp) {
        EXPECT_EQ(parsed.packet.src, 0x64600001u);
        EXPECT_EQ(parsed.packet.icmp.type, 3);
        EXPECT_EQ(parsed.packet.icmp.code, 13);
        prohibited = true;
      }
    }
    EXPECT_TRUE(echoed);
    EXPECT_TRUE(prohibited);
    const auto& fs = connector->tunnel_port()->filter_stats();
    EXPECT_EQ(fs.drops[static_cast<size_t>(PacketDrop::kSpoofedSource)], 1u);
    EXPECT_EQ(fs.drops[static_cast<size_t>(PacketDrop::kDeniedByPolicy)], 1u);
    EXPECT_EQ(connector->tunnel_port()->stats().packets_from_devices, 1u);
    EXPECT_GE(connector->tunnel_port()->stats().packets_to_devices, 1u);
  });
}

}  // namespace
}  // namespace strait::connector
