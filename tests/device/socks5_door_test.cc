// The SOCKS5 door end to end over loopback: a real SOCKS5 client (a tiny blocking one below, and curl
// --socks5-hostname when installed) → Socks5Door → DeviceClient → TLS link → FakeConnector → loopback targets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "tests/device/device_test_util.h"
#include "tunnel/device/socks5_door.h"

namespace strait::device {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

// Answers every request (once "\r\n\r\n" arrived) with a fixed HTTP/1.0 response and closes.
class HttpServer final : public runtime::AcceptHandler, public runtime::ConnectionHandler {
 public:
  static constexpr std::string_view kBody = "hello through strait\n";
  explicit HttpServer(runtime::EventLoop& loop) {
    const int fd = runtime::ListenTcp(Loopback0(), {}).value();
    address = runtime::LocalAddress(fd).value();
    (void)loop.Listen(fd, static_cast<runtime::AcceptHandler*>(this)).value();
  }
  void OnAccept(runtime::EventLoop& loop, runtime::ListenerId /*id*/, int fd) override {
    if (!loop.Adopt(fd, static_cast<runtime::ConnectionHandler*>(this)).valid()) ::close(fd);
  }
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override {
    request_.append(data.data().begin(), data.data().end());
    if (request_.find("\r\n\r\n") == std::string::npos) return;
    const std::string resp = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                             std::to_string(kBody.size()) + "\r\n\r\n" + std::string(kBody);
    (void)loop.Send(id, std::span(reinterpret_cast<const std::uint8_t*>(resp.data()), resp.size()));
    loop.Close(id, runtime::CloseMode::kGraceful);
    request_.clear();
  }
  void OnClose(runtime::EventLoop& /*l*/, runtime::ConnId /*id*/, runtime::CloseReason /*r*/, int /*e*/) override {}
  runtime::SocketAddress address;

 private:
  std::string request_;
};

struct DoorWorld {
  Pki pki;
  LoopThread loop;
  EchoServer* echo = nullptr;
  HttpServer* http = nullptr;
  FakeConnector* connector = nullptr;
  std::unique_ptr<DeviceClient> client;
  std::unique_ptr<Socks5Door> door;
  runtime::SocketAddress door_address;

  DoorWorld() {
    loop.Call([this] {
      echo = new EchoServer(loop.loop());
      http = new HttpServer(loop.loop());
      runtime::SocketAddress http_name = http->address;
      connector = new FakeConnector(loop.loop(), pki, TestServerTls(),
                                    {{"echo.internal", echo->address}, {"web.internal", http_name}});
      ClientOptions o;
      o.identity = pki.Device();
      o.relay = connector->address;
      o.min_backoff = 20ms;
      client = DeviceClient::Create(loop.loop(), std::move(o)).value();
      client->Start();
      Socks5DoorOptions d;
      d.listen = Loopback0();
      door = Socks5Door::Create(loop.loop(), *client, d).value();
      door_address = door->address();
      loop.AtExit([this] {
        door.reset();
        client.reset();
        delete connector;
        delete http;
        delete echo;
      });
    });
  }
  ~DoorWorld() {
    loop.Call([this] {
      door->Close();
      client->Stop();
    });
    loop.Stop();
  }
  std::uint16_t door_port() const { return ntohs(door_address.u.v4.sin_port); }
};

// ---- A tiny blocking SOCKS5 client (the socket helpers are device_test_util.h's) ----
// Greeting + CONNECT request to a name (atyp 3) or an IPv4 address (atyp 1), with `extra` pipelined behind it.
std::string Request(std::string_view host, std::uint16_t port, bool by_name, std::string_view extra = {}) {
  std::string r("\x05\x01\x00", 3);
  r += std::string("\x05\x01\x00", 3);
  if (by_name) {
    r += '\x03';
    r += static_cast<char>(host.size());
    r += host;
  } else {
    r += '\x01';
    in_addr a{};
    ::inet_pton(AF_INET, std::string(host).c_str(), &a);
    r.append(reinterpret_cast<const char*>(&a), 4);
  }
  r += static_cast<char>(port >> 8);
  r += static_cast<char>(port & 0xff);
  r += extra;
  return r;
}

TEST(Socks5Door, ConnectByIpEchoesBytesIncludingPipelinedOnes) {
  DoorWorld w;
  const int fd = ConnectTo(w.door_port());
  ASSERT_GE(fd, 0);
  const std::string payload = Pattern(200000, 7);
  ASSERT_TRUE(SendAll(fd, Request("127.0.0.1", ntohs(w.echo->address.u.v4.sin_port), false, "early-")));
  EXPECT_EQ(RecvExactly(fd, 2), std::string("\x05\x00", 2));         // method: no auth
  const std::string reply = RecvExactly(fd, 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], '\x00');                                         // succeeded
  ASSERT_TRUE(SendAll(fd, payload));
  ::shutdown(fd, SHUT_WR);                                             // half-close: the echo ends with EOF
  const std::string echoed = RecvToEof(fd);
  ::close(fd);
  EXPECT_EQ(echoed.size(), payload.size() + 6);
  EXPECT_TRUE(echoed == "early-" + payload);
}

TEST(Socks5Door, ConnectByHostnameGoesToTheConnectorUnresolved) {
  DoorWorld w;
  const int fd = ConnectTo(w.door_port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, Request("echo.internal", ntohs(w.echo->address.u.v4.sin_port), true)));
  EXPECT_EQ(RecvExactly(fd, 2), std::string("\x05\x00", 2));
  const std::string reply = RecvExactly(fd, 10);
  ASSERT_EQ(reply.size(), 10u);
  EXPECT_EQ(reply[1], '\x00');
  ASSERT_TRUE(SendAll(fd, "by name"));
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(RecvToEof(fd), "by name");
  ::close(fd);
}

TEST(Socks5Door, FailuresGetTheMappedReply) {
  DoorWorld w;
  struct Case {
    std::string host;
    std::uint16_t port;
    bool by_name;
    char rep;
  };
  const Case cases[] = {
      {"127.0.0.1", ntohs(RefusingAddress().u.v4.sin_port), false, '\x05'},  // connect_failed -> refused
      {"nowhere.internal", 80, true, '\x04'},                                 // dns_failed -> host unreachable
  };
  for (const Case& c : cases) {
    const int fd = ConnectTo(w.door_port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, Request(c.host, c.port, c.by_name)));
    EXPECT_EQ(RecvExactly(fd, 2), std::string("\x05\x00", 2));
    const std::string reply = RecvExactly(fd, 10);
    ASSERT_EQ(reply.size(), 10u) << c.host;
    EXPECT_EQ(reply[1], c.rep) << c.host;
    EXPECT_EQ(RecvToEof(fd), "");  // then closed
    ::close(fd);
  }
}

TEST(Socks5Door, NotSocksIsDropped) {
  DoorWorld w;
  const int fd = ConnectTo(w.door_port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, "GET / HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(RecvToEof(fd), "");
  ::close(fd);
}

TEST(Socks5Door, RefusesANonLoopbackAddress) {
  LoopThread loop;
  Pki pki;
  loop.Call([&] {
    ClientOptions o;
    o.identity = pki.Device();
    o.relay = RefusingAddress();
    auto client = DeviceClient::Create(loop.loop(), std::move(o)).value();
    Socks5DoorOptions d;
    d.listen = runtime::ParseSocketAddress("0.0.0.0:0").value();
    auto door = Socks5Door::Create(loop.loop(), *client, d);
    ASSERT_FALSE(door.ok());
    EXPECT_NE(door.error().find("loopback only"), std::string::npos);
    EXPECT_TRUE(IsLoopback(runtime::ParseSocketAddress("127.0.0.2:1").value()));
    EXPECT_TRUE(IsLoopback(runtime::ParseSocketAddress("[::1]:1").value()));
    EXPECT_FALSE(IsLoopback(runtime::ParseSocketAddress("[::]:1").value()));
    EXPECT_FALSE(IsLoopback(runtime::ParseSocketAddress("10.0.0.1:1").value()));
  });
}

TEST(Socks5Door, CurlSocks5HostnameFetchesThroughTheTunnel) {
  if (std::system("command -v curl >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  DoorWorld w;
  const std::string cmd = "curl -sS --max-time 20 --socks5-hostname 127.0.0.1:" + std::to_string(w.door_port()) +
                          " http://web.internal:" + std::to_string(ntohs(w.http->address.u.v4.sin_port)) + "/ 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, HttpServer::kBody);
}

}  // namespace
}  // namespace strait::device
