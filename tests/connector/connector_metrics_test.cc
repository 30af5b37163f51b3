// The connector's metrics pieces in one process: the Prometheus text of ConnectorMetrics (every counter under its
// name, HELP/TYPE once per family), metrics::HttpEndpoint serving a render callback over real loopback HTTP, and
// MetricsPublisher copying a real Connector's counters from its loop. The whole path with streams carried by
// `strait connector` processes is tests/e2e/connector_metrics_test.cc.
#include "tunnel/connector/connector_metrics.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "crypto/credential.h"
#include "metrics/http_endpoint.h"
#include "metrics/prometheus_text.h"
#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/connector/connector.h"

namespace strait::connector {
namespace {

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool HasLine(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

// One request over a fresh loopback connection; the whole response (the endpoint closes after answering).
std::string Request(const runtime::SocketAddress& at, const std::string& request) {
  const int fd = ::socket(at.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, at.get(), at.len) != 0) {
    if (fd >= 0) ::close(fd);
    return "connect failed";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string resp;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) resp.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return resp;
}

TEST(ConnectorMetricsText, EveryCounterUnderItsNameWithHelpAndTypeOnce) {
  ConnectorMetrics m;
  m.relays = 2;
  m.relays_up = 1;
  m.stats.relay_links_up = 3;
  m.stats.relay_links_down = 2;
  m.stats.relay_login_failures = 9;
  m.stats.direct_links_up = 4;
  m.direct.refused_tenant = 5;
  m.direct.refused_full = 23;
  m.direct.refused_source = 24;
  m.direct.logins_evicted = 25;
  m.direct.logins_failed = 33;
  m.stats.sessions_active = 6;
  m.stats.sessions_up = 7;
  m.stats.sessions_refused = 8;
  m.stats.streams_open = 9;
  m.stats.streams_opened = 10;
  m.stats.streams_refused[static_cast<std::size_t>(RefuseReason::kPolicy)] = 11;
  m.stats.streams_refused[static_cast<std::size_t>(RefuseReason::kOverloaded)] = 12;
  m.stats.bytes_to_targets = 13;
  m.stats.bytes_from_targets = 14;
  m.stats.frames_unknown_channel = 15;
  m.stats.datagrams_dropped = 16;
  m.stats.tunnel_answered = 40;
  m.stats.tunnel_refused_off = 41;
  m.stats.tunnel_refused_full = 42;
  m.stats.tunnel_leases = 43;
  m.stats.direct_logins_refused_revoked = 50;
  m.stats.sessions_refused_revoked = 51;
  m.stats.sessions_refused_suspended = 52;
  m.stats.sessions_closed_revoked = 53;
  m.stats.sessions_closed_suspended = 54;
  m.stats.relay_links_refused_revoked = 55;
  m.policy_set_over_bound = 56;
  m.stats.revoked_relays_over_bound = 57;
  m.loop_connects = 17;
  m.loop_recv_bytes = 18;
  m.loop_send_bytes = 19;
  m.loop_send_queue_full = 20;
  m.loop_recv_starved = 21;
  m.link_stalls = 22;
  m.init_replay.checks[static_cast<std::size_t>(tunnel::InitCheck::kAccepted)] = 26;  // not a refusal: not shown
  m.init_replay.checks[static_cast<std::size_t>(tunnel::InitCheck::kReplayed)] = 27;
  m.init_replay.checks[static_cast<std::size_t>(tunnel::InitCheck::kBelowFloor)] = 28;
  m.init_replay.checks[static_cast<std::size_t>(tunnel::InitCheck::kTooOld)] = 29;
  m.init_replay.checks[static_cast<std::size_t>(tunnel::InitCheck::kTooNew)] = 30;
  m.init_replay_entries = 31;
  m.init_replay.dropped_full = 32;
  const std::string text = RenderPrometheus(m);

  for (const char* line : {
           "strait_connector_relays 2",
           "strait_connector_relay_links_up 1",
           "strait_connector_relay_logins_total 3",
           "strait_connector_relay_links_down_total 2",
           "strait_connector_relay_login_failures_total 9",
           "strait_connector_direct_logins_total{result=\"ok\"} 4",
           "strait_connector_direct_logins_total{result=\"other_tenant\"} 5",
           "strait_connector_direct_logins_total{result=\"failed\"} 33",
           "strait_connector_direct_logins_total{result=\"revoked\"} 50",
           "strait_connector_control_denials_total{what=\"session_init_revoked\"} 51",
           "strait_connector_control_denials_total{what=\"session_init_suspended\"} 52",
           "strait_connector_control_denials_total{what=\"session_closed_revoked\"} 53",
           "strait_connector_control_denials_total{what=\"session_closed_suspended\"} 54",
           "strait_connector_control_denials_total{what=\"relay_revoked\"} 55",
           "strait_connector_control_over_bound_total{table=\"policy_set\"} 56",
           "strait_connector_control_over_bound_total{table=\"revoked_relays\"} 57",
           "strait_connector_direct_refused_total{reason=\"listener_full\"} 23",
           "strait_connector_direct_refused_total{reason=\"source_limit\"} 24",
           "strait_connector_direct_refused_total{reason=\"login_evicted\"} 25",
           "strait_connector_sessions 6",
           "strait_connector_sessions_opened_total 7",
           "strait_connector_sessions_refused_total 8",
           "strait_connector_streams 9",
           "strait_connector_streams_opened_total 10",
           "strait_connector_streams_refused_total{reason=\"refused_by_policy\"} 11",
           "strait_connector_streams_refused_total{reason=\"dns_failed\"} 0",
           "strait_connector_streams_refused_total{reason=\"connect_failed\"} 0",
           "strait_connector_streams_refused_total{reason=\"timeout\"} 0",
           "strait_connector_streams_refused_total{reason=\"overloaded\"} 12",
           "strait_connector_stream_bytes_to_targets_total 13",
           "strait_connector_stream_bytes_from_targets_total 14",
           "strait_connector_frames_unknown_channel_total 15",
           "strait_connector_datagrams_dropped_total 16",
           "strait_connector_tunnel_requests_total{result=\"answered\"} 40",
           "strait_connector_tunnel_requests_total{result=\"refused_off\"} 41",
           "strait_connector_tunnel_requests_total{result=\"refused_full\"} 42",
           "strait_connector_tunnel_leases 43",
           "strait_connector_loop_connects_total 17",
           "strait_connector_loop_recv_bytes_total 18",
           "strait_connector_loop_send_bytes_total 19",
           "strait_connector_loop_send_queue_full_total 20",
           "strait_connector_loop_recv_starved_total 21",
           "strait_connector_link_stalls_total 22",
           "strait_connector_session_inits_stale_total{reason=\"replay\"} 27",
           "strait_connector_session_inits_stale_total{reason=\"below_floor\"} 28",
           "strait_connector_session_inits_stale_total{reason=\"too_old\"} 29",
           "strait_connector_session_inits_stale_total{reason=\"too_new\"} 30",
           "strait_connector_init_replay_devices 31",
           "strait_connector_init_replay_dropped_full_total 32",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  EXPECT_TRUE(HasLine(text, "# TYPE strait_connector_streams gauge"));
  EXPECT_TRUE(HasLine(text, "# TYPE strait_connector_streams_opened_total counter"));
  EXPECT_EQ(Count(text, "# TYPE strait_connector_streams_refused_total "), 1u);
  // Every family has one HELP and one TYPE line, and every sample belongs to a declared family.
  EXPECT_EQ(Count(text, "# HELP "), Count(text, "# TYPE "));
  EXPECT_EQ(Count(text, "# TYPE "), 38u) << text;
  EXPECT_EQ(Count(text, "reason=\"accepted\""), 0u);
}

TEST(ConnectorMetricsText, TunnelCountersUnderTheirNamesWithEveryDropReason) {
  ConnectorMetrics m;
  m.tunnel_up = true;
  m.tunnel_pool_free = 250;
  m.tunnel.packets_from_devices = 1;
  m.tunnel.bytes_from_devices = 2;
  m.tunnel.packets_to_devices = 3;
  m.tunnel.bytes_to_devices = 4;
  m.tunnel.no_session = 5;
  m.tunnel.tun_write_errors = 6;
  m.stats.tunnel_link_full = 7;
  m.tunnel_filter.drops[static_cast<std::size_t>(PacketDrop::kMalformed)] = 8;  // the sum of the malformed_* below
  m.tunnel_filter.malformed[static_cast<std::size_t>(ip::DropReason::kBadHeaderChecksum)] = 8;
  m.tunnel_filter.drops[static_cast<std::size_t>(PacketDrop::kSpoofedSource)] = 9;
  m.tunnel_filter.drops[static_cast<std::size_t>(PacketDrop::kDeniedByPolicy)] = 10;
  m.tunnel_filter.mss_clamped = 11;
  m.tunnel_filter.icmp_sent = 12;
  m.tunnel_filter.icmp_limited = 13;
  const std::string text = RenderPrometheus(m);
  for (const char* line : {
           "strait_connector_tunnel_up 1",
           "strait_connector_tunnel_pool_free 250",
           "strait_connector_tunnel_packets_total{direction=\"from_devices\"} 1",
           "strait_connector_tunnel_bytes_total{direction=\"from_devices\"} 2",
           "strait_connector_tunnel_packets_total{direction=\"to_devices\"} 3",
           "strait_connector_tunnel_bytes_total{direction=\"to_devices\"} 4",
           "strait_connector_tunnel_drops_total{reason=\"no_session\"} 5",
           "strait_connector_tunnel_drops_total{reason=\"tun_write_error\"} 6",
           "strait_connector_tunnel_drops_total{reason=\"link_full\"} 7",
           "strait_connector_tunnel_drops_total{reason=\"malformed_bad_header_checksum\"} 8",
           "strait_connector_tunnel_drops_total{reason=\"malformed_too_short\"} 0",
           "strait_connector_tunnel_drops_total{reason=\"spoofed_source\"} 9",
           "strait_connector_tunnel_drops_total{reason=\"denied_by_policy\"} 10",
           "strait_connector_tunnel_drops_total{reason=\"too_big\"} 0",
           "strait_connector_tunnel_drops_total{reason=\"to_gateway\"} 0",
           "strait_connector_tunnel_drops_total{reason=\"peer_address\"} 0",
           "strait_connector_tunnel_mss_clamped_total 11",
           "strait_connector_tunnel_icmp_sent_total 12",
           "strait_connector_tunnel_icmp_limited_total 13",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  // Every reason once: the parser's ten as malformed_*, the filter's other five, and the port's and link's three; no
  // aggregate `malformed` sample, which would count those packets twice in a sum.
  EXPECT_EQ(Count(text, "strait_connector_tunnel_drops_total{"), ip::kDropReasonCount + kPacketDropCount - 1 + 3);
  EXPECT_EQ(Count(text, "reason=\"malformed\""), 0u);
  EXPECT_TRUE(HasLine(RenderPrometheus({}), "strait_connector_tunnel_up 0"));
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  metrics::PrometheusText out;
  out.Family("x_total", metrics::MetricType::kCounter, "a\\b\nc");
  out.Sample("x_total", {"k", "q\"\\\n"}, 1);
  EXPECT_EQ(out.text(), "# HELP x_total a\\\\b\\nc\n# TYPE x_total counter\nx_total{k=\"q\\\"\\\\\\n\"} 1\n");
}

TEST(HttpEndpoint, ServesTheRenderCallbackOverLoopbackPerRequest) {
  std::atomic<int> calls{0};
  auto e = metrics::HttpEndpoint::Start(runtime::ParseSocketAddress("127.0.0.1:0").value(), [&calls] {
    return "n " + std::to_string(calls.fetch_add(1) + 1) + "\n";
  });
  ASSERT_TRUE(e.ok()) << e.error().reason;
  auto endpoint = std::move(e).value();
  EXPECT_TRUE(metrics::IsLoopback(endpoint->address()));
  EXPECT_NE(endpoint->address().ToString(), "127.0.0.1:0");

  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string first = Request(endpoint->address(), get);
  EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
  EXPECT_NE(first.find("text/plain; version=0.0.4"), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with("\r\n\r\nn 1\n")) << first;
  EXPECT_TRUE(Request(endpoint->address(), get).ends_with("\r\n\r\nn 2\n"));
  const std::string post = Request(endpoint->address(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405", 0), 0u) << post;
  EXPECT_EQ(calls.load(), 2);
}

TEST(HttpEndpoint, IsLoopbackAcceptsOnlyLoopback) {
  EXPECT_TRUE(metrics::IsLoopback(runtime::ParseSocketAddress("127.0.0.1:1").value()));
  EXPECT_TRUE(metrics::IsLoopback(runtime::ParseSocketAddress("127.9.9.9:1").value()));
  EXPECT_TRUE(metrics::IsLoopback(runtime::ParseSocketAddress("[::1]:1").value()));
  EXPECT_FALSE(metrics::IsLoopback(runtime::ParseSocketAddress("0.0.0.0:1").value()));
  EXPECT_FALSE(metrics::IsLoopback(runtime::ParseSocketAddress("10.0.0.1:1").value()));
  EXPECT_FALSE(metrics::IsLoopback(runtime::ParseSocketAddress("[::]:1").value()));
}

// A Connector that is created but not started (no sockets), so its counters are known (one relay configured).
std::unique_ptr<Connector> IdleConnector(runtime::EventLoop& loop) {
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  const auto root = crypto::Ed25519KeyPair::Generate();
  const auto tenant = crypto::Ed25519KeyPair::Generate();
  const auto tenant_cert =
      crypto::IssueTenantCert(root, {"acme", tenant.public_key, now - 3600, now + 86400}).value();
  ConnectorOptions o;
  o.signing_key = crypto::Ed25519KeyPair::Generate();
  o.noise_key = crypto::X25519KeyPair::Generate();
  o.root_key = root.public_key;
  o.credential = crypto::IssueCredential(tenant, tenant_cert,
                                         {crypto::Role::kConnector, "conn-1", o.signing_key.public_key,
                                          o.noise_key.public_key, 1, now - 60, now + 3600})
                     .value();
  o.relays.push_back({runtime::ParseSocketAddress("127.0.0.1:1").value(), "127.0.0.1"});
  auto conn = Connector::Create(loop, std::move(o));
  EXPECT_TRUE(conn) << conn.error();
  return conn ? std::move(*conn) : nullptr;
}

// The publisher copies the counters at Start and then once per interval, from the loop thread.
TEST(MetricsPublisher, PublishesAtStartThenEveryIntervalFromTheLoop) {
  auto loop = runtime::EventLoop::Create({}).value();
  auto conn = IdleConnector(*loop);
  ASSERT_NE(conn, nullptr);

  MetricsPublisher publisher(*loop, *conn, std::chrono::milliseconds(5));
  EXPECT_EQ(publisher.Latest().publishes, 0u);
  publisher.Start();
  ConnectorMetrics first = publisher.Latest();
  EXPECT_EQ(first.publishes, 1u);
  EXPECT_EQ(first.relays, 1u);
  EXPECT_EQ(first.relays_up, 0u);
  EXPECT_EQ(first.stats.streams_opened, 0u);

  // Stop the loop once three more copies were published (checked from a loop timer), or after a guard.
  struct Watch final : runtime::TimerHandler {
    MetricsPublisher* p;
    int rounds = 0;
    void OnTimer(runtime::EventLoop& l, runtime::TimerId, std::uint64_t) override {
      if (p->Latest().publishes >= 4 || ++rounds > 2000) {
        l.RequestStop();
        return;
      }
      l.AddTimer(std::chrono::milliseconds(5), this);
    }
  } watch;
  watch.p = &publisher;
  loop->AddTimer(std::chrono::milliseconds(5), &watch);
  loop->Run();
  EXPECT_GE(publisher.Latest().publishes, 4u);
}

// Fresh() from another thread wakes the loop, which publishes a new copy at once (the interval is an hour here);
// once the loop has stopped, Fresh() gives up after its wait and returns the last copy. The ring belongs to the
// thread that made it, so the loop, the connector and the publisher are all made on the runner thread.
TEST(MetricsPublisher, FreshAsksTheRunningLoopForANewCopy) {
  std::promise<std::pair<runtime::EventLoop*, MetricsPublisher*>> ready;
  std::promise<void> asked;
  std::uint64_t after_stop = 0;
  std::thread runner([&] {
    auto loop = runtime::EventLoop::Create({}).value();
    auto conn = IdleConnector(*loop);
    if (conn == nullptr) {
      ready.set_value({nullptr, nullptr});
      return;
    }
    MetricsPublisher publisher(*loop, *conn, std::chrono::hours(1));
    publisher.Start();
    ready.set_value({loop.get(), &publisher});
    loop->Run();
    asked.get_future().wait();
    after_stop = publisher.Fresh(std::chrono::milliseconds(20)).publishes;
  });
  auto [loop, publisher] = ready.get_future().get();
  ConnectorMetrics a, b;
  if (publisher != nullptr) {
    a = publisher->Fresh(std::chrono::seconds(20));
    b = publisher->Fresh(std::chrono::seconds(20));
    loop->RequestStop();
  }
  asked.set_value();
  runner.join();
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(a.publishes, 2u);
  EXPECT_EQ(b.publishes, 3u);
  EXPECT_EQ(b.relays, 1u);
  EXPECT_EQ(after_stop, 3u);
}

}  // namespace
}  // namespace strait::connector
