// The connector's packet path through a real TUN (docs/ip-tunnel.md §2, §6), in a network namespace the test makes:
// an in-process device takes a tunnel address, sends a UDP datagram as a SEALED_DATAGRAM to a server that only the
// connector's host can reach (10.20.0.5 on the namespace's loopback), and gets the reply back through the TUN; a packet
// the rules deny is answered with ICMP administratively prohibited; a spoofed source is dropped and counted, and the
// metrics the loop publishes say so. With masquerade, a corp host in a second namespace that has no route to the pool
// answers through the connector's nftables table, which is there while the connector runs and gone after it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "tests/connector/connector_test_fixture.h"
#include "tests/ip/packet_builder.h"
#include "tests/testing/netns.h"
#include "tunnel/connector/connector_metrics.h"
#include "tunnel/connector/nft_table.h"
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

    // The same counters on the metrics endpoint's copy (published on the loop's thread, this one).
    MetricsPublisher publisher(*loop, *connector);
    publisher.Start();
    const std::string text = RenderPrometheus(publisher.Latest());
    for (const char* line : {
             "strait_connector_tunnel_up 1",
             "strait_connector_tunnel_packets_total{direction=\"from_devices\"} 1",
             "strait_connector_tunnel_drops_total{reason=\"spoofed_source\"} 1",
             "strait_connector_tunnel_drops_total{reason=\"denied_by_policy\"} 1",
             "strait_connector_tunnel_drops_total{reason=\"no_session\"} 0",
             "strait_connector_tunnel_icmp_sent_total 1",
         }) {
      EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
    }
    EXPECT_NE(text.find("strait_connector_tunnel_packets_total{direction=\"to_devices\"} "), std::string::npos);
    EXPECT_EQ(text.find("strait_connector_tunnel_packets_total{direction=\"to_devices\"} 0\n"), std::string::npos);
  });
}

// Masquerade (docs/ip-tunnel.md §6): the connector's namespace reaches corp (10.20.0.0/24) over a veth; the corp host
// has no route to the pool, so its echo can only come back if the connector rewrote the source to its own corp
// address. A stale table (a connector that crashed) is replaced at start; the table goes when the connector does.
TEST(ConnectorTun, MasqueradeLetsACorpHostWithoutARouteToThePoolAnswer) {
  std::string why = strait::testing::TunSkipReason();
  if (why.empty()) {
    if (auto nft = FindNft({}); !nft) why = nft.error();  // names Debian's nftables package
  }
  std::unique_ptr<strait::testing::NetNs> conn_ns, corp_ns;
  if (why.empty()) conn_ns = strait::testing::NetNs::Create("cmasq", &why);
  if (conn_ns) corp_ns = strait::testing::NetNs::Create("ccorp", &why);
  if (!corp_ns) GTEST_SKIP() << why;
  ASSERT_EQ(strait::testing::AddVethPair(*conn_ns, "corp0", "10.20.0.1/24", *corp_ns, "eth0", "10.20.0.5/24"), "");
  const auto stale = conn_ns->Exec("nft add table ip strait && nft add chain ip strait left_by_a_crash");
  ASSERT_EQ(stale.status, 0) << stale.output;
  const auto off = conn_ns->Exec("echo 0 > /proc/sys/net/ipv4/ip_forward");
  ASSERT_EQ(off.status, 0) << off.output;

  // The corp host's UDP echo, bound inside its namespace, served from a thread of ours; it notes who asked.
  int srv = -1;
  corp_ns->Run([&] {
    srv = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(srv, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(kServer);
    a.sin_port = htons(kServerPort);
    ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{10, 0};
    setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  });
  ASSERT_GE(srv, 0);
  uint32_t asker = 0;
  std::thread echo([srv, &asker] {
    std::array<char, 2048> buf;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(srv, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return;
    asker = ntohl(from.sin_addr.s_addr);
    sendto(srv, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  });

  conn_ns->Run([&] {
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
    o.tunnel_device = "strait-c0";
    o.tunnel_masquerade = true;
    std::vector<std::string> events;
    o.log = [&](const logging::Event& e) { events.push_back(logging::Describe(e)); };
    auto c = Connector::Create(*loop, std::move(o));
    ASSERT_TRUE(c.ok()) << c.error();
    std::unique_ptr<Connector> connector = std::move(*c);
    ASSERT_EQ(connector->Start(), "");
    EXPECT_TRUE(connector->masquerading());

    const auto listed = conn_ns->Exec("nft list table ip strait");
    ASSERT_EQ(listed.status, 0) << listed.output;
    EXPECT_NE(listed.output.find("ip saddr 100.96.0.0/24 oifname != \"strait-c0\" masquerade"), std::string::npos)
        << listed.output;
    EXPECT_EQ(listed.output.find("left_by_a_crash"), std::string::npos) << listed.output;
    EXPECT_EQ(conn_ns->Exec("cat /proc/sys/net/ipv4/ip_forward").output, "1\n");

    Device d(*loop, pki, dev, "acme");
    uint32_t me = 0;
    Stepper s(*loop,
              {{[] { return true; }, [&] { d.Connect(*connector->direct_address()); }},
               {[&] { return d.established(); }, [&] { d.RequestTunnel(1500); }},
               {[&] { return d.tunnel_config.has_value() || d.tunnel_refused.has_value(); },
                [&] {
                  ASSERT_TRUE(d.tunnel_config);
                  me = d.tunnel_config->address;
                  d.SendPacket(Udp(me, kServer, kServerPort, {'m', 'a', 's', 'q'}));
                }},
               {[&] { return !d.datagrams.empty(); }, {}}});
    d.on_change = [&] { s.Check(); };
    link::testing::GuardTimer guard(*loop, std::chrono::seconds(20));
    s.Check();
    loop->Run();
    ASSERT_FALSE(guard.fired) << "stuck before step " << s.step << "; datagrams " << d.datagrams.size();

    const ip::ParsedIpv4 parsed = ip::ParseIpv4(d.datagrams.front());
    ASSERT_TRUE(parsed.ok);
    EXPECT_EQ(parsed.packet.src, kServer);
    EXPECT_EQ(parsed.packet.dst, me);  // conntrack undid the rewrite on the way back
    ASSERT_EQ(parsed.packet.transport, ip::Transport::kUdp);
    EXPECT_EQ(std::string(parsed.packet.udp.payload.begin(), parsed.packet.udp.payload.end()), "masq");

    connector.reset();  // the table goes with the connector
    const auto after = conn_ns->Exec("nft list table ip strait");
    EXPECT_NE(after.status, 0) << after.output;
    bool forwarding_logged = false, installed_logged = false, removed_logged = false;
    for (const std::string& e : events) {
      forwarding_logged |= e.find("ip_forwarding") != std::string::npos && e.find("state=enabled") != std::string::npos;
      installed_logged |= e.find("masquerade_installed") != std::string::npos &&
                          e.find("stale_table=replaced") != std::string::npos;
      removed_logged |= e.find("masquerade_removed") != std::string::npos;
    }
    EXPECT_TRUE(forwarding_logged);
    EXPECT_TRUE(installed_logged);
    EXPECT_TRUE(removed_logged);
  });
  echo.join();
  close(srv);
  EXPECT_EQ(asker, 0x0a140001u) << "the corp host saw the device's own address: not masqueraded";
}

// A Start that fails after the table went in (here: the Direct Connect port is taken) takes it out again.
TEST(ConnectorTun, AFailedStartRemovesTheMasqueradeTable) {
  std::string why = strait::testing::TunSkipReason();
  if (why.empty()) {
    if (auto nft = FindNft({}); !nft) why = nft.error();
  }
  std::unique_ptr<strait::testing::NetNs> ns;
  if (why.empty()) ns = strait::testing::NetNs::Create("cfail", &why);
  if (!ns) GTEST_SKIP() << why;
  ns->Run([&] {
    const int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(taken, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(listen(taken, 1), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&a), &len), 0);

    auto loop = runtime::EventLoop::Create({}).value();
    Pki pki;
    Pki::Member conn = pki.Issue(pki.acme, crypto::Role::kConnector, "dc1");
    ConnectorOptions o = testing::BaseOptions(pki, conn, kPolicy);
    o.direct_listen = runtime::ParseSocketAddress("127.0.0.1:" + std::to_string(ntohs(a.sin_port))).value();
    AddressPoolOptions pool;
    ASSERT_TRUE(ParsePoolCidr("100.96.0.0/24", &pool).ok());
    o.tunnel_pool = pool;
    o.tunnel_device = "strait-c0";
    o.tunnel_masquerade = true;
    auto c = Connector::Create(*loop, std::move(o));
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_NE((*c)->Start(), "");
    EXPECT_FALSE((*c)->masquerading());
    EXPECT_EQ((*c)->tunnel_port(), nullptr);
    const auto listed = ns->Exec("nft list table ip strait");
    EXPECT_NE(listed.status, 0) << listed.output;
    close(taken);
  });
}

}  // namespace
}  // namespace strait::connector
