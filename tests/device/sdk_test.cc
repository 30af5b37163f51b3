// The device SDK end to end over loopback: SDK client → TLS link → FakeConnector (strait_link + tunnel::Session +
// link::StreamPump) → a loopback echo server. Real sockets, real TLS, real credentials, port 0.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>

#include "tests/device/device_test_util.h"
#include "tunnel/device/sdk.h"

namespace strait::device {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

// Records one stream's events (callbacks come from the SDK's loop thread).
struct Recorder : sdk::StreamCallbacks {
  std::mutex mu;
  std::string received;
  bool opened = false;
  bool fin = false;
  bool closed = false;
  std::optional<tunnel::ErrorCode> reset;
  std::atomic<int> writable{0};

  void OnOpen() override {
    std::lock_guard<std::mutex> l(mu);
    opened = true;
  }
  void OnData(std::span<const std::uint8_t> d) override {
    std::lock_guard<std::mutex> l(mu);
    received.append(d.begin(), d.end());
  }
  void OnFin() override {
    std::lock_guard<std::mutex> l(mu);
    fin = true;
  }
  void OnWritable() override { ++writable; }
  void OnClose(std::optional<tunnel::ErrorCode> r) override {
    std::lock_guard<std::mutex> l(mu);
    closed = true;
    reset = r;
  }
  std::size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return received.size();
  }
  bool is_closed() {
    std::lock_guard<std::mutex> l(mu);
    return closed;
  }
  bool is_open() {
    std::lock_guard<std::mutex> l(mu);
    return opened;
  }
};

// Collects session events from the SDK's loop thread.
struct Sessions : ClientObserver {
  std::mutex mu;
  std::vector<std::pair<std::string, Path>> ups;
  void OnSessionUp(std::string_view connector, Path path) override {
    std::lock_guard<std::mutex> l(mu);
    ups.emplace_back(std::string(connector), path);
  }
  std::size_t count() {
    std::lock_guard<std::mutex> l(mu);
    return ups.size();
  }
  std::pair<std::string, Path> last() {
    std::lock_guard<std::mutex> l(mu);
    return ups.back();
  }
};

// Writes all of `data`, waiting for OnWritable when the SDK's bound is reached.
void WriteAll(sdk::Stream& s, Recorder& r, std::string_view data) {
  std::size_t off = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (off < data.size()) {
    const int w = r.writable.load();
    const std::size_t n = s.Write(data.substr(off));
    off += n;
    if (n == 0) {
      ASSERT_TRUE(WaitFor([&] { return r.writable.load() != w || r.is_closed(); }));
      ASSERT_FALSE(r.is_closed());
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
  }
}

struct World {
  Pki pki;
  LoopThread server_loop;
  FakeConnector* connector = nullptr;
  EchoServer* echo = nullptr;
  FakeConnector* direct = nullptr;

  World() {
    server_loop.Call([this] {
      echo = new EchoServer(server_loop.loop());
      connector = new FakeConnector(server_loop.loop(), pki, TestServerTls(),
                                    {{"echo.internal", echo->address}});
      server_loop.AtExit([this] {
        delete connector;
        delete echo;
        delete direct;
      });
    });
  }
  void AddDirect() {
    server_loop.Call([this] {
      direct = new FakeConnector(server_loop.loop(), pki, UnknownCaServerTls(), {{"echo.internal", echo->address}});
      direct->ShowConnectorCredential();  // a Direct Connect connector shows the tenant's connector credential
    });
  }
  sdk::SdkOptions Options() {
    sdk::SdkOptions o;
    o.client.identity = pki.Device();
    o.client.relay = connector->address;
    o.client.min_backoff = 20ms;
    o.client.max_backoff = 200ms;
    return o;
  }
};

TEST(DeviceSdk, StreamThroughConnectorToEchoIsByteExact) {
  World w;
  Sessions sessions;
  auto client = sdk::Client::Create(w.Options(), &sessions);
  ASSERT_TRUE(client.ok()) << client.error();
  // session_up() turns true before the observer's OnSessionUp has run: wait for the observer too.
  ASSERT_TRUE(WaitFor([&] { return (*client)->session_up() && sessions.count() >= 1; }));
  EXPECT_EQ(sessions.last().first, "dc1");
  EXPECT_EQ(sessions.last().second, Path::kRelay);

  Recorder r;
  sdk::Stream s = (*client)->OpenStream("127.0.0.1", ntohs(w.echo->address.u.v4.sin_port), &r);
  ASSERT_TRUE(s.valid());
  const std::string data = Pattern(3u << 20);  // 3 MiB: several windows, exercises credit both ways
  WriteAll(s, r, data);
  s.CloseWrite();
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }, 60s)) << "received " << r.size();
  std::lock_guard<std::mutex> l(r.mu);
  EXPECT_TRUE(r.opened);
  EXPECT_TRUE(r.fin);
  EXPECT_FALSE(r.reset.has_value()) << tunnel::ErrorCodeName(*r.reset);
  EXPECT_EQ(r.received.size(), data.size());
  EXPECT_TRUE(r.received == data);
}

TEST(DeviceSdk, HostnameGoesToTheConnectorUnresolved) {
  World w;
  auto client = sdk::Client::Create(w.Options());
  ASSERT_TRUE(client.ok()) << client.error();
  Recorder r;
  sdk::Stream s = (*client)->OpenStream("echo.internal", ntohs(w.echo->address.u.v4.sin_port), &r);
  ASSERT_TRUE(s.valid());
  ASSERT_TRUE(WaitFor([&] { return r.is_open() || r.is_closed(); }));
  s.Write(std::string_view("hello"));
  s.CloseWrite();
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  std::lock_guard<std::mutex> l(r.mu);
  EXPECT_EQ(r.received, "hello");
  EXPECT_FALSE(r.reset.has_value());

  // A name the connector cannot resolve fails with dns_failed.
  Recorder bad;
  (*client)->OpenStream("nowhere.internal", 80, &bad);
  ASSERT_TRUE(WaitFor([&] { return bad.is_closed(); }));
  std::lock_guard<std::mutex> l2(bad.mu);
  ASSERT_TRUE(bad.reset.has_value());
  EXPECT_EQ(*bad.reset, tunnel::ErrorCode::kDnsFailed);
}

TEST(DeviceSdk, ConnectFailedIsReported) {
  World w;
  auto client = sdk::Client::Create(w.Options());
  ASSERT_TRUE(client.ok()) << client.error();
  Recorder r;
  (*client)->OpenStream("127.0.0.1", ntohs(RefusingAddress().u.v4.sin_port), &r);
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  std::lock_guard<std::mutex> l(r.mu);
  ASSERT_TRUE(r.reset.has_value());
  EXPECT_EQ(*r.reset, tunnel::ErrorCode::kConnectFailed);
}

TEST(DeviceSdk, StreamAcrossReconnectFailsAndNewStreamsWork) {
  World w;
  Sessions sessions;
  auto client = sdk::Client::Create(w.Options(), &sessions);
  ASSERT_TRUE(client.ok()) << client.error();
  const std::uint16_t port = ntohs(w.echo->address.u.v4.sin_port);

  Recorder first;
  sdk::Stream s = (*client)->OpenStream("127.0.0.1", port, &first);
  ASSERT_TRUE(WaitFor([&] { return first.is_open(); }));
  s.Write(std::string_view("ping"));
  ASSERT_TRUE(WaitFor([&] { return first.size() == 4; }));

  w.server_loop.Call([&] { w.connector->DropAll(); });
  ASSERT_TRUE(WaitFor([&] { return first.is_closed(); }));
  {
    std::lock_guard<std::mutex> l(first.mu);
    ASSERT_TRUE(first.reset.has_value());
    EXPECT_EQ(*first.reset, tunnel::ErrorCode::kConnectorGone);
  }
  ASSERT_TRUE(WaitFor([&] { return (*client)->sessions_established() >= 2 && (*client)->session_up(); }));

  Recorder second;
  sdk::Stream s2 = (*client)->OpenStream("127.0.0.1", port, &second);
  ASSERT_TRUE(WaitFor([&] { return second.is_open(); }));
  s2.Write(std::string_view("again"));
  s2.CloseWrite();
  ASSERT_TRUE(WaitFor([&] { return second.is_closed(); }));
  {
    std::lock_guard<std::mutex> l(second.mu);
    EXPECT_EQ(second.received, "again");
    EXPECT_FALSE(second.reset.has_value());
  }
  // Sticky: the second SESSION_REQUEST asked for the connector of the first session.
  std::vector<std::string> seen;
  w.server_loop.Call([&] { seen = w.connector->preferred_seen; });
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0], "");
  EXPECT_EQ(seen.back(), "dc1");
}

TEST(DeviceSdk, StreamOpenedWithoutSessionWaitsThenFails) {
  World w;
  sdk::SdkOptions o = w.Options();
  o.client.relay = RefusingAddress();
  o.client.open_wait_timeout = 300ms;
  auto client = sdk::Client::Create(std::move(o));
  ASSERT_TRUE(client.ok()) << client.error();
  Recorder r;
  const auto t0 = std::chrono::steady_clock::now();
  (*client)->OpenStream("127.0.0.1", 9, &r);
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  std::lock_guard<std::mutex> l(r.mu);
  ASSERT_TRUE(r.reset.has_value());
  EXPECT_EQ(*r.reset, tunnel::ErrorCode::kNoConnector);
}

TEST(DeviceSdk, StreamOpenedBeforeTheSessionGoesOutWhenItComesUp) {
  World w;
  auto client = sdk::Client::Create(w.Options());
  ASSERT_TRUE(client.ok()) << client.error();
  Recorder r;  // opened at once: the session is most likely not up yet
  sdk::Stream s = (*client)->OpenStream("127.0.0.1", ntohs(w.echo->address.u.v4.sin_port), &r);
  s.Write(std::string_view("early"));  // queued before OPEN_OK; sent after it
  s.CloseWrite();
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  std::lock_guard<std::mutex> l(r.mu);
  EXPECT_EQ(r.received, "early");
  EXPECT_FALSE(r.reset.has_value());
}

TEST(DeviceSdk, DirectConnectIsPreferredWithoutVerifyingItsCertificate) {
  World w;
  w.AddDirect();
  Sessions sessions;
  sdk::SdkOptions o = w.Options();
  o.client.direct = w.direct->address;
  auto client = sdk::Client::Create(std::move(o), &sessions);
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE(WaitFor([&] { return sessions.count() >= 1; }));
  EXPECT_EQ(sessions.last().second, Path::kDirect);
  EXPECT_EQ(w.direct->sessions_up.load(), 1);
  EXPECT_EQ(w.connector->sessions_up.load(), 0);
  Recorder r;
  sdk::Stream s = (*client)->OpenStream("127.0.0.1", ntohs(w.echo->address.u.v4.sin_port), &r);
  s.Write(std::string_view("direct"));
  s.CloseWrite();
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  std::lock_guard<std::mutex> l(r.mu);
  EXPECT_EQ(r.received, "direct");
}

TEST(DeviceSdk, FallsBackToTheRelayWhenDirectRefuses) {
  World w;
  Sessions sessions;
  sdk::SdkOptions o = w.Options();
  o.client.direct = RefusingAddress();
  auto client = sdk::Client::Create(std::move(o), &sessions);
  ASSERT_TRUE(client.ok()) << client.error();
  ASSERT_TRUE(WaitFor([&] { return sessions.count() >= 1; }));
  EXPECT_EQ(sessions.last().second, Path::kRelay);
  EXPECT_EQ(w.connector->sessions_up.load(), 1);
}

TEST(DeviceSdk, RelayCertificateIsVerified) {
  // A relay whose certificate does not chain to the bundle's CA never gets a session.
  World w;
  w.AddDirect();  // serves with an unknown CA
  sdk::SdkOptions o = w.Options();
  o.client.relay = w.direct->address;
  o.client.open_wait_timeout = 500ms;
  auto client = sdk::Client::Create(std::move(o));
  ASSERT_TRUE(client.ok()) << client.error();
  Recorder r;
  (*client)->OpenStream("127.0.0.1", 9, &r);
  ASSERT_TRUE(WaitFor([&] { return r.is_closed(); }));
  EXPECT_FALSE((*client)->session_up());
  EXPECT_EQ(w.direct->links_up.load(), 0);
}

TEST(DeviceSdk, BadOptionsAreRefused) {
  Pki pki;
  sdk::SdkOptions o;
  o.client.identity = pki.Device();
  auto none = sdk::Client::Create(o);  // neither relay nor direct
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("relay or a direct"), std::string::npos);
  o.client.relay = RefusingAddress();
  o.client.identity.credential = pki.connector_cred;  // not a device credential
  auto wrong = sdk::Client::Create(o);
  ASSERT_FALSE(wrong.ok());
}

TEST(DeviceTarget, MakeTargetSortsLiteralsFromNames) {
  auto v4 = MakeTarget("10.1.2.3", 80);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->type, AddressType::kIpv4);
  auto v6 = MakeTarget("[::1]", 443);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->type, AddressType::kIpv6);
  auto name = MakeTarget("intranet.example", 8080);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->type, AddressType::kDomain);
  EXPECT_EQ(name->domain(), "intranet.example");
  EXPECT_FALSE(MakeTarget("", 1));
}

}  // namespace
}  // namespace strait::device
