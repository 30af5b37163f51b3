// Port forwards (`strait device --forward LOCAL=HOST:PORT`, issue 9) across real processes: relay, connector with
// its policy, and a device with two forwards; plain TCP clients (no SOCKS) fetch from the in-process internal HTTP
// server through a forward; a forward to a destination the policy denies closes its clients promptly and counts
// it; the per-forward connection bound refuses a hostile client's extra connection while the others keep working.
// The device's /metrics is found through its `metrics listen=` log line and fetched over loopback HTTP.
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

class Forwards : public E2eTest {
 protected:
  // The "device forward <local> -> <target>" lines printed before "device ready": target → local.
  static std::map<std::string, HostPort> ForwardLines(const Device& d) {
    std::map<std::string, HostPort> out;
    for (const std::string& l : d.process->Lines()) {
      if (!l.starts_with("device forward ")) continue;
      const std::string rest = l.substr(std::string_view("device forward ").size());
      const auto arrow = rest.find(" -> ");
      if (arrow == std::string::npos) continue;
      if (auto hp = demo::ParseHostPort(rest.substr(0, arrow))) out[rest.substr(arrow + 4)] = *hp;
    }
    return out;
  }
  // The device's metrics address from its stderr (`info metrics listen=IP:PORT`), waiting for it (bounded).
  static std::optional<HostPort> DeviceMetrics(const Device& d) {
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      const std::string tail = d.process->StderrTail(20);
      if (const auto at = tail.find(" metrics listen="); at != std::string::npos) {
        const auto start = at + std::string_view(" metrics listen=").size();
        const auto end = tail.find_first_of(" |", start);
        return demo::ParseHostPort(tail.substr(start, end == std::string::npos ? end : end - start));
      }
      if (Clock::now() > give_up) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the logger writes from its own thread
    }
  }
  // GET /hello over a plain TCP connection to `at`; empty on success, else the error.
  std::string FetchHelloPlain(const HostPort& at) {
    auto c = demo::Connection::Dial(at, Deadline());
    if (!c) return c.error();
    auto r = demo::HttpGet(*c, "127.0.0.1", "/hello", Deadline());
    if (!r) return r.error();
    if (r->status != 200 || r->body != "hello from the internal server\n") {
      return fmt::format("unexpected response {} {:?}", r->status, r->body);
    }
    return "";
  }
  // Reads from `c` until EOF, a reset or the deadline; true if the peer closed (EOF or reset) within `within`.
  static bool ClosedWithin(demo::Connection& c, std::chrono::seconds within, std::string* why) {
    std::uint8_t b[64];
    auto r = c.ReadSome(b, Clock::now() + within);
    if (r.ok()) {
      *why = *r == 0 ? "" : fmt::format("{} bytes arrived", *r);
      return *r == 0;
    }
    *why = r.error();
    return r.error().find("timed out") == std::string::npos;
  }
};

TEST_F(Forwards, PlainTcpThroughForwardsWithPolicyAndConnectionBound) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id, {relay.connector});
  WaitConnectorLinkUp(conn);
  // The policy allows the internal server's port only (MakePolicy): a neighbouring port is denied.
  const std::string allowed = fmt::format("127.0.0.1:{}", http_port());
  const std::string denied = fmt::format("127.0.0.1:{}", http_port() == 1 ? 2 : http_port() - 1);
  Device dev = StartDevice(dev_id, relay.device, std::nullopt,
                           {"--forward", "0=" + allowed, "--forward", "0=" + denied, "--forward-max-connections", "3",
                            "--metrics-listen", "127.0.0.1:0"});
  ASSERT_NE(dev.process, nullptr);
  WaitSessionUp(dev);
  ASSERT_FALSE(HasFailure());
  const auto forwards = ForwardLines(dev);
  ASSERT_EQ(forwards.size(), 2u) << fmt::format("{}", fmt::join(dev.process->Lines(), " | "));
  ASSERT_TRUE(forwards.contains(allowed) && forwards.contains(denied));
  const HostPort ok_at = forwards.at(allowed);
  const HostPort denied_at = forwards.at(denied);
  const std::optional<HostPort> metrics = DeviceMetrics(dev);
  ASSERT_TRUE(metrics) << dev.process->StderrTail(5);

  // A plain TCP client, no SOCKS: the request and the response go through the forward.
  const uint64_t requests_before = http_->stats().requests.load();
  EXPECT_EQ(FetchHelloPlain(ok_at), "");
  EXPECT_EQ(http_->stats().requests.load(), requests_before + 1);

  // Denied by the connector's policy: the client's connection is closed promptly (far below the 30 s I/O deadline)
  // and nothing reaches the internal server.
  const uint64_t conns_before = http_->stats().connections.load();
  {
    auto c = demo::Connection::Dial(denied_at, Deadline());
    ASSERT_TRUE(c) << c.error();
    std::string why;
    const auto start = Clock::now();
    EXPECT_TRUE(ClosedWithin(*c, std::chrono::seconds(10), &why)) << why;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  }
  EXPECT_EQ(http_->stats().connections.load(), conns_before);

  // The bound (3 per forward): a hostile client holds three connections open and asks for a fourth, which is
  // closed at accept; the three held ones still carry a request each. First the fetch's connection must have left
  // the door (its close travels to the server and back): the forward's connections gauge, polled, bounded.
  const std::string ok_label = fmt::format("{{forward=\"{}:{}\"}}", ok_at.host, ok_at.port);
  bool scraped = false;
  std::string text;
  for (const auto stop = Clock::now() + kIoDeadline; Clock::now() < stop;) {
    text = ScrapeMetrics(*metrics, &scraped);
    ASSERT_TRUE(scraped) << text;
    if (SampleValue(text, "strait_device_forward_connections" + ok_label) == 0u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // between scrapes while the close completes
  }
  ASSERT_EQ(SampleValue(text, "strait_device_forward_connections" + ok_label), 0u) << text;
  std::vector<demo::Connection> held;
  for (int i = 0; i < 3; ++i) {
    auto c = demo::Connection::Dial(ok_at, Deadline());
    ASSERT_TRUE(c) << c.error();
    held.push_back(std::move(*c));
  }
  // The server has accepted all three (their streams are open) before the extra one comes.
  const auto give_up = Clock::now() + kIoDeadline;
  while (http_->stats().connections.load() < conns_before + 3 && Clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // bounded: the streams open in milliseconds
  }
  ASSERT_GE(http_->stats().connections.load(), conns_before + 3);
  {
    auto extra = demo::Connection::Dial(ok_at, Deadline());
    ASSERT_TRUE(extra) << extra.error();
    std::string why;
    EXPECT_TRUE(ClosedWithin(*extra, std::chrono::seconds(10), &why)) << why;
  }
  for (auto& c : held) {
    auto r = demo::HttpGet(c, "127.0.0.1", "/hello", Deadline());
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200);
  }
  held.clear();

  // The device's counters: per forward, labelled with the local address.
  const std::string denied_label = fmt::format("forward=\"{}:{}\"", denied_at.host, denied_at.port);
  text = ScrapeMetrics(*metrics, &scraped);
  ASSERT_TRUE(scraped) << text;
  EXPECT_EQ(SampleValue(text, "strait_device_forward_accepted_total" + ok_label), 4u) << text;
  EXPECT_EQ(SampleValue(text, "strait_device_forward_refused_full_total" + ok_label), 1u) << text;
  EXPECT_EQ(SampleValue(text, "strait_device_forward_open_ok_total" + ok_label), 4u) << text;
  EXPECT_EQ(SampleValue(text, fmt::format("strait_device_forward_open_failed_total{{{},reason=\"refused_by_policy\"}}",
                                          denied_label)),
            1u)
      << text;
  EXPECT_EQ(SampleValue(text, fmt::format("strait_device_forward_open_ok_total{{{}}}", denied_label)), 0u) << text;
  // The SOCKS5 door is still there and untouched.
  EXPECT_EQ(SampleValue(text, "strait_device_socks_accepted_total"), 0u) << text;
  EXPECT_EQ(FetchHello(dev, "127.0.0.1"), "");
}

TEST_F(Forwards, ConfigFileForwardsAndBadSpecsAtStart) {
  MakeOperator();
  const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
  const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
  Relay relay = StartRelay();
  ASSERT_NE(relay.process, nullptr);
  Connector conn = StartConnector(conn_id, {relay.connector});
  WaitConnectorLinkUp(conn);

  // `forward = [...]` in the config file.
  const std::string config = dir_ + "/device.toml";
  std::ofstream(config) << fmt::format("forward = [\"0=localhost:{}\"]\n", http_port());
  Device dev = StartDevice(dev_id, relay.device, std::nullopt, {"--config", config});
  ASSERT_NE(dev.process, nullptr);
  WaitSessionUp(dev);
  const auto forwards = ForwardLines(dev);
  const std::string target = fmt::format("localhost:{}", http_port());
  ASSERT_TRUE(forwards.contains(target)) << fmt::format("{}", fmt::join(dev.process->Lines(), " | "));
  EXPECT_EQ(FetchHelloPlain(forwards.at(target)), "");  // the name goes to the connector, which resolves it

  // Refused before anything listens (exit 1, one line naming the spec and the part): a bad port, a LOCAL given
  // twice, a non-loopback LOCAL.
  struct Bad {
    std::vector<std::string> flags;
    std::string error;
  };
  const Bad cases[] = {
      {{"--forward", "8080=db.corp:0"}, "--forward 8080=db.corp:0: port 0 outside 1..65535"},
      {{"--forward", "1=a:1", "--forward", "127.0.0.1:1=b:2"}, "local 127.0.0.1:1 is already taken"},
      {{"--forward", "10.0.0.1:1=a:1"}, "is not loopback"},
  };
  for (const Bad& c : cases) {
    std::vector<std::string> args = {"device", "--identity", dev_id, "--relay", "127.0.0.1:1", "--socks-listen",
                                     "127.0.0.1:0"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    ChildProcess* p = Spawn("device-bad", args);
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(p->WaitExit(Deadline()));
    ASSERT_TRUE(p->wait_status());
    EXPECT_TRUE(WIFEXITED(*p->wait_status()) && WEXITSTATUS(*p->wait_status()) == 1) << p->StatusText();
    EXPECT_NE(p->StderrTail(2).find(c.error), std::string::npos) << p->StderrTail(2);
    EXPECT_TRUE(p->Lines().empty());  // nothing listened, nothing was announced
  }
}

}  // namespace
}  // namespace strait::e2e
