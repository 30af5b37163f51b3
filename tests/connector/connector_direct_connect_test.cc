// The connector's Direct Connect listener (tunnel/connector/direct_listener.h) under attack and refusal: a login
// flood does not lock out a device, another tenant's device is refused at login, every refusal is logged with its
// reason, at most 10 lines a second. The fixture is connector_test_fixture.h.
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>

#include "tests/connector/connector_test_fixture.h"

namespace strait::connector {
namespace {

using runtime::EventLoop;
using tunnel::ErrorCode;
using testing::ConnectorTest;
using testing::Count;
using testing::Device;
using testing::Pattern;
using testing::Pki;
using testing::Stepper;
using testing::TargetServer;

// Issue 7, attack 1 on Direct Connect: sockets that never log in used to fill max_links (1,100 of them let 0 of 20
// logins through). Now one source holds at most its cap of logins, a full budget closes its oldest, and sockets
// that send nothing are not even accepted (TCP_DEFER_ACCEPT): a real device still gets its session.
TEST_F(ConnectorTest, DirectConnectFloodDoesNotLockOutADevice) {
  ConnectorOptions o = Options();
  o.direct.max_links = 64;
  o.direct.max_logins = 8;
  o.direct.max_logins_per_source = 4;
  o.direct.link.handshake_timeout = std::chrono::seconds(30);
  o.direct.link.client_hello_timeout = std::chrono::seconds(30);  // no deadline rescues the device: the budget must
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  link::testing::Fds flood;
  for (int i = 0; i < 100; ++i) {  // idle: connected, nothing sent
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_EQ(::connect(fd, port.get(), port.len), 0);
    flood.fds.push_back(fd);
  }
  for (int i = 0; i < 100; ++i) flood.fds.push_back(link::testing::Trickle(port, "127.0.0.2"));
  for (int i = 0; i < 100; ++i) {
    flood.fds.push_back(link::testing::Trickle(port, ("127.0.2." + std::to_string(i + 1)).c_str()));
  }
  // The kernel holds every one of them in the listen backlog; the loop accepts them before the device's.
  Device d(*loop, pki, dev, "acme");
  Stepper s(*loop, {{[&] { return d.established(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(port);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  const DirectListenerStats& st = connector->direct()->stats();
  EXPECT_EQ(st.refused_source, 96u);  // 100 from one source, 4 admitted
  EXPECT_GE(st.logins_evicted, 96u);  // 4 + 100 from many sources + the device through a budget of 8
  EXPECT_EQ(st.refused_full, 0u);
  EXPECT_LE(connector->direct()->links(), 9u);
}

TEST_F(ConnectorTest, DeviceOfAnotherTenantIsRefusedAtLogin) {
  StartConnector(Options());
  Pki::Member stranger = pki.Issue(pki.other, crypto::Role::kDevice, "stranger");
  Device d(*loop, pki, stranger, "other");
  Stepper s(*loop, {{[&] { return d.link_down.has_value(); }, {}}});
  d.on_change = [&] { s.Check(); };
  d.Connect(*connector->direct_address());
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(d.link_down->reason, link::DownReason::kPeerError);
  EXPECT_EQ(d.link_down->code, static_cast<std::uint16_t>(ErrorCode::kUnauthorized));
  EXPECT_FALSE(d.established());
  EXPECT_EQ(connector->direct()->stats().refused_tenant, 1u);
  EXPECT_EQ(connector->stats().sessions_up, 0u);
}


// Issue 7 (every refusal is visible): the Direct Connect listener logs each refusal with the peer and the reason,
// at most 10 lines a second, and counts a failed login.
TEST_F(ConnectorTest, DirectConnectRefusalsAreLoggedWithTheirReason) {
  ConnectorOptions o = Options();
  o.direct.max_logins_per_source = 4;
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  auto has = [&](std::string_view what) {
    return std::any_of(log.begin(), log.end(), [&](const std::string& l) {
      return l.starts_with("direct_refused from=127.0.0.") && l.find(what) != std::string::npos;
    });
  };
  // Another tenant's device; a client that speaks HTTP instead of TLS; six idle sockets from one source.
  Pki::Member stranger = pki.Issue(pki.other, crypto::Role::kDevice, "stranger");
  Device d(*loop, pki, stranger, "other");
  link::testing::Fds fds;
  const int garbage = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(garbage, port.get(), port.len), 0);
  ASSERT_EQ(::send(garbage, "GET / HTTP/1.0\r\n\r\n", 18, MSG_NOSIGNAL), 18);
  fds.fds.push_back(garbage);
  for (int i = 0; i < 6; ++i) fds.fds.push_back(link::testing::Trickle(port, "127.0.0.3"));
  Stepper s(*loop, {{[&] {
                       return has("reason=other_tenant subject=stranger tenant=other") &&
                              has("reason=login_failed down=tls_error") && has("reason=source_limit");
                     },
                     {}}});
  d.on_change = on_log = [&] { s.Check(); };
  d.Connect(port);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  const DirectListenerStats& st = connector->direct()->stats();
  EXPECT_EQ(st.refused_tenant, 1u);
  EXPECT_EQ(st.refused_source, 2u);  // 6 from 127.0.0.3, 4 admitted
  EXPECT_GE(st.logins_failed, 1u);
}

// ...and a flood is summed up, not logged line by line.
TEST_F(ConnectorTest, DirectConnectRefusalLogsAreRateLimited) {
  ConnectorOptions o = Options();
  o.direct.max_logins_per_source = 1;
  StartConnector(o);
  const runtime::SocketAddress port = *connector->direct_address();
  link::testing::Fds fds;
  for (int i = 0; i < 200; ++i) fds.fds.push_back(link::testing::Trickle(port, "127.0.0.4"));
  Stepper s(*loop, {{[&] { return connector->direct()->stats().refused_source == 199; }, {}}});
  // Most refusals log nothing, so the step is also checked every 20 ms.
  struct Every final : runtime::TimerHandler {
    Every(EventLoop& l, Stepper& st) : loop(l), s(st) { id = loop.AddTimer(std::chrono::milliseconds(20), this); }
    ~Every() override { loop.CancelTimer(id); }
    void OnTimer(EventLoop& /*l*/, runtime::TimerId /*t*/, std::uint64_t /*arg*/) override {
      s.Check();
      id = loop.AddTimer(std::chrono::milliseconds(20), this);
    }
    EventLoop& loop;
    Stepper& s;
    runtime::TimerId id;
  } every(*loop, s);
  ASSERT_TRUE(Run(s, std::chrono::seconds(30)));
  // 199 refusals, nearly all within a second: at most 10 lines a second of them.
  const int lines = Count(log, "direct_refused ");
  EXPECT_GE(lines, 1);
  EXPECT_LE(lines, 40) << "rate limit: at most 10 a second";
}


}  // namespace
}  // namespace strait::connector
