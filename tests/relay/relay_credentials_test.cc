// The relay and credentials while links are up (issue 7): expiry closes a link, the registry offers neither an
// expired connector nor one the device refused, one credential subject holds a bounded number of links, and the
// relay proves its own credential in HELLO_ACK, and a renewed identity (credential, TLS certificate) goes into
// service for new logins while old links stay up. Real TLS and credentials over loopback, as relay_test.cc.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"
#include "relay/metrics.h"
#include "tests/crypto/tls_test_util.h"
#include "tests/relay/relay_test_fixture.h"

namespace strait::relay::testing {
namespace {

using tunnel::ErrorCode;

// Issue 7, attack 4: a credential is checked while its link is up, not only at login.
TEST_F(RelayTest, ALinkWhoseCredentialExpiresIsClosedWithTheReason) {
  Start();
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-short", -60, 2));  // expires in 2-3 s
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(con));
  ASSERT_TRUE(Login(dev));
  const std::uint32_t ch = OpenSession(dev);
  ASSERT_NE(ch, 0u);
  // The relay closes the connector's link at expiry with ERROR bad_credential and a reason that says so...
  ASSERT_TRUE(pl.Wait([&] { return con.down; }, std::chrono::seconds(10)));
  const link::LinkDown d = pl.Exec([&] { return con.down_info; });
  EXPECT_EQ(d.reason, link::DownReason::kPeerError);
  EXPECT_EQ(d.code, static_cast<std::uint16_t>(ErrorCode::kBadCredential));
  EXPECT_NE(d.message.find("credential expired"), std::string::npos) << d.message;
  // ...its sessions end at the device, which keeps its own (valid) link...
  ASSERT_TRUE(pl.Wait([&] { return dev.sessions.at(ch)->closed.has_value(); }));
  EXPECT_EQ(pl.Exec([&] { return *dev.sessions.at(ch)->closed; }), ErrorCode::kConnectorGone);
  EXPECT_TRUE(pl.Exec([&] { return dev.up && !dev.down; }));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.links_expired == 1 && s.connector_links == 0 && s.device_links == 1;
  }));
  // ...and the expired connector is not offered any more.
  pl.Exec([&] { dev.RequestSession("conn-short"); });
  ASSERT_TRUE(pl.Wait([&] { return !dev.errors.empty(); }));
  EXPECT_EQ(pl.Exec([&] { return dev.errors[0].first; }), ErrorCode::kNoConnector);
  // Logging in again with the expired credential is refused.
  Peer& again = AddPeer(con.id());
  EXPECT_FALSE(Login(again));
  EXPECT_EQ(pl.Exec([&] { return again.down_info.code; }), static_cast<std::uint16_t>(ErrorCode::kBadCredential));
}

TEST_F(RelayTest, AnExpiredConnectorIsNeverOfferedEvenBeforeItsLinkCloses) {
  Start();
  Peer& c1 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1", -60, 600));
  Peer& c2 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-2", -60, 3600));
  ASSERT_TRUE(Login(c1));
  ASSERT_TRUE(Login(c2));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(dev));
  const std::uint32_t before = OpenSession(dev, "conn-1");
  ASSERT_NE(before, 0u);
  EXPECT_EQ(ConnectorOf(dev, before), "conn-1");
  // The relay's clock moves 20 minutes on: conn-1's credential has expired on it, though its link's timer (armed for
  // 10 minutes of steady time) has not fired yet. Sticky or not, conn-1 is not offered.
  clock_offset = 1200;
  for (int i = 0; i < 2; ++i) {
    const std::uint32_t ch = OpenSession(dev, "conn-1");
    ASSERT_NE(ch, 0u);
    EXPECT_EQ(ConnectorOf(dev, ch), "conn-2");
  }
}

TEST_F(RelayTest, ADeviceThatRefusesAConnectorIsOfferedAnother) {
  Start();
  Peer& c1 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& c2 = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-2"));
  ASSERT_TRUE(Login(c1));
  ASSERT_TRUE(Login(c2));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-pinned"));
  dev.pinned = std::vector<crypto::X25519PublicKey>{c2.id().noise.public_key};  // it trusts conn-2 only
  ASSERT_TRUE(Login(dev));
  // Least loaded (a tie: the first registered) is conn-1, which the device refuses with SESSION_CLOSE bad_credential.
  pl.Exec([&] { dev.RequestSession(); });
  ASSERT_TRUE(pl.Wait([&] { return dev.offers.size() == 1 && dev.sessions.at(dev.offers[0])->closed.has_value(); }));
  const std::uint32_t refused = pl.Exec([&] { return dev.offers[0]; });
  EXPECT_EQ(pl.Exec([&] { return *dev.sessions.at(refused)->closed; }), ErrorCode::kBadCredential);
  // Asked again, it gets conn-2; and conn-1 is not offered to it again, though it is now the least loaded.
  for (int i = 0; i < 2; ++i) {
    const std::uint32_t ch = OpenSession(dev);
    ASSERT_NE(ch, 0u) << i;
    EXPECT_EQ(ConnectorWith(ch), &c2);
  }
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.offers_refused == 1 && s.sessions == 2; }));
  // Another device is still offered conn-1 (the refusal belongs to the link that made it).
  Peer& other = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-other"));
  ASSERT_TRUE(Login(other));
  const std::uint32_t ch = OpenSession(other);
  ASSERT_NE(ch, 0u);
  EXPECT_EQ(ConnectorWith(ch), &c1);
}

TEST_F(RelayTest, ANewerLoginOfTheSameCredentialReplacesItsOldestLink) {
  RelayOptions o = DefaultOptions(2);  // logins alternate shards: every replacement crosses shards
  o.max_links_per_credential = 1;
  Start(o);
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  ASSERT_TRUE(Login(con));
  const PeerId id = Pki::Issue(acme, crypto::Role::kDevice, "dev-cloned");
  std::vector<Peer*> links;
  for (int i = 0; i < 3; ++i) {
    links.push_back(&AddPeer(id));
    ASSERT_TRUE(Login(*links.back())) << i;
    if (i > 0) {
      Peer& old = *links[static_cast<std::size_t>(i) - 1];
      ASSERT_TRUE(pl.Wait([&] { return old.down; })) << i;
      const link::LinkDown d = pl.Exec([&] { return old.down_info; });
      EXPECT_EQ(d.code, static_cast<std::uint16_t>(ErrorCode::kUnauthorized)) << i;
      EXPECT_NE(d.message.find("replaced by a newer login"), std::string::npos) << d.message;
    }
  }
  // The newest works; another subject and the connector were never touched.
  Peer& newest = *links.back();
  EXPECT_NE(OpenSession(newest), 0u);
  Peer& other = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-other"));
  ASSERT_TRUE(Login(other));
  EXPECT_NE(OpenSession(other), 0u);
  EXPECT_TRUE(pl.Exec([&] { return con.up && !con.down && newest.up && !newest.down; }));
  EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) {
    return s.links_replaced == 2 && s.device_links == 2 && s.connector_links == 1;
  }));

  RelayIdentity rid;
  rid.tls = &ServerTls();
  rid.root_key = pki.root.public_key;
  RelayOptions bad = DefaultOptions();
  bad.max_links_per_credential = 0;
  auto r = Relay::Start(bad, rid);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().reason.find("max_links_per_credential"), std::string::npos);
}

// protocol.md §3: the relay shows its credential and a proof in HELLO_ACK, and peers check it against the operator
// root. A relay whose credential is another root's (a TLS CA key alone is not enough to stand one up), or that shows
// none, gets no device and no connector.
TEST_F(RelayTest, PeersRefuseARelayThatCannotProveItsCredential) {
  Pki other;
  const crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  const std::uint64_t now = NowUnix();
  for (const bool show_none : {false, true}) {
    relay_credential = show_none ? std::vector<std::uint8_t>{}
                                 : crypto::IssueRelayCredential(other.root, {crypto::Role::kRelay, "relay-rogue",
                                                                             key.public_key, crypto::X25519PublicKey{},
                                                                             1, now - 60, now + 3600})
                                       .value();
    relay_key = key;
    Start();
    Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
    Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
    EXPECT_FALSE(Login(dev)) << show_none;
    EXPECT_FALSE(Login(con)) << show_none;
    for (Peer* p : {&dev, &con}) {
      const link::LinkDown d = pl.Exec([&] { return p->down_info; });
      EXPECT_EQ(d.reason, link::DownReason::kLoginRefused) << show_none;
      EXPECT_EQ(d.code, static_cast<std::uint16_t>(ErrorCode::kBadCredential)) << show_none;
      EXPECT_NE(d.message.find(show_none ? "showed no credential" : "server credential"), std::string::npos)
          << d.message;
    }
    EXPECT_TRUE(WaitMetrics([](const MetricsSnapshot& s) { return s.device_links == 0 && s.connector_links == 0; }));
    relay->Stop();
    relay.reset();
  }
}

// The common name of the certificate a new TLS handshake with `addr` is shown (a blocking client on the test thread,
// the test CA's trust; the handshake only, no HELLO). Empty when the handshake fails.
std::string ServedCommonName(const runtime::SocketAddress& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, addr.get(), addr.len) != 0) {
    if (fd >= 0) ::close(fd);
    return {};
  }
  const crypto::TlsContext& ctx = ClientTls();
  auto session = crypto::TlsSession::Create(ctx);
  std::string name;
  std::vector<std::uint8_t> out, plain;
  if (session && session->Start(out)) {
    std::uint8_t buf[16384];
    for (int i = 0; i < 100 && !session->handshake_complete(); ++i) {
      if (!out.empty() && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) break;
      out.clear();
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0 || !session->Receive(std::span<const std::uint8_t>(buf, static_cast<std::size_t>(n)), plain, out)) {
        break;
      }
    }
    if (session->handshake_complete()) {
      bssl::UniquePtr<X509> leaf(SSL_get_peer_certificate(session->native_handle()));
      char cn[256] = {};
      if (leaf && X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof(cn)) > 0) {
        name = cn;
      }
    }
  }
  ::close(fd);
  return name;
}

// docs/control-plane.md §6.5: a relay renewed while running shows the new credential in the HELLO_ACKs of new links
// and the new certificate in new TLS handshakes, on every shard; links already up stay up with what they started with.
TEST_F(RelayTest, ARenewedIdentityServesNewLoginsOnEveryShardWhileOldLinksStayUp) {
  Start(DefaultOptions(2));
  Peer& con = AddPeer(Pki::Issue(acme, crypto::Role::kConnector, "conn-1"));
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(con));
  ASSERT_TRUE(Login(dev));
  EXPECT_EQ(pl.Exec([&] { return dev.relay_serial; }), 1u);
  EXPECT_EQ(ServedCommonName(relay->device_address()), "strait-test");

  const std::uint64_t now = NowUnix();
  const std::vector<std::uint8_t> renewed =
      crypto::IssueRelayCredential(pki.root, {crypto::Role::kRelay, "relay-test", relay_key.public_key,
                                              crypto::X25519PublicKey{}, 2, now - 60, now + 7200})
          .value();
  const crypto::PemCertificate leaf = crypto::IssueLeafCertificate(crypto::testing::SharedTestPki().ca,
                                                                    {"strait-renewed", {"localhost"}, {"127.0.0.1"}})
                                          .value();
  ASSERT_TRUE(relay->Renew({{leaf.cert_pem, leaf.key_pem}, renewed}));

  // New TLS handshakes (accepted round-robin: both shards) show the new leaf once the shards took it...
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int renewed_in_a_row = 0;  // two in a row: both shards took it
  while (renewed_in_a_row < 2 && std::chrono::steady_clock::now() < deadline) {
    renewed_in_a_row = ServedCommonName(relay->device_address()) == "strait-renewed" ? renewed_in_a_row + 1 : 0;
  }
  ASSERT_EQ(renewed_in_a_row, 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ServedCommonName(relay->connector_address()), "strait-renewed") << i;
  // ...new logins on both shards the new credential...
  for (int i = 0; i < 2; ++i) {
    Peer& d = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-new-" + std::to_string(i)));
    ASSERT_TRUE(Login(d)) << i;
    EXPECT_EQ(pl.Exec([&] { return d.relay_serial; }), 2u) << i;
  }
  // ...and the links from before are up and carry sessions.
  EXPECT_TRUE(pl.Exec([&] { return con.up && !con.down && dev.up && !dev.down; }));
  EXPECT_NE(OpenSession(dev), 0u);

  // A renewal without a certificate changes the credential and keeps each shard's TLS context.
  const std::vector<std::uint8_t> third =
      crypto::IssueRelayCredential(pki.root, {crypto::Role::kRelay, "relay-test", relay_key.public_key,
                                              crypto::X25519PublicKey{}, 3, now - 60, now + 7200})
          .value();
  ASSERT_TRUE(relay->Renew({crypto::TlsServerConfig{}, third}));
  bool both_shards = false;  // two logins in a row (one per shard) show serial 3
  for (int i = 0; i < 50 && !both_shards; ++i) {
    const PeerId id = Pki::Issue(acme, crypto::Role::kDevice, "dev-third-" + std::to_string(i));
    Peer& d1 = AddPeer(id);
    Peer& d2 = AddPeer(id);
    both_shards = Login(d1) && Login(d2) && pl.Exec([&] { return d1.relay_serial == 3 && d2.relay_serial == 3; });
  }
  EXPECT_TRUE(both_shards);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(ServedCommonName(relay->device_address()), "strait-renewed") << i;
}

// What a renewal may not change: the relay's key, its subject, the root; and a pair that does not load.
TEST_F(RelayTest, ARenewalThatChangesTheRelaysKeyOrSubjectIsRefused) {
  Start();
  const std::uint64_t now = NowUnix();
  const crypto::Ed25519KeyPair other_key = crypto::Ed25519KeyPair::Generate();
  Pki other_root;
  auto issue = [&](const crypto::Ed25519KeyPair& root, std::string_view subject, const crypto::Ed25519KeyPair& key) {
    return crypto::IssueRelayCredential(root, {crypto::Role::kRelay, subject, key.public_key, crypto::X25519PublicKey{},
                                               2, now - 60, now + 7200})
        .value();
  };
  const crypto::TlsServerConfig keep{};
  auto another_key = relay->Renew({keep, issue(pki.root, "relay-test", other_key)});
  ASSERT_FALSE(another_key);
  EXPECT_NE(another_key.error().find("another signing key"), std::string::npos) << another_key.error();
  auto another_subject = relay->Renew({keep, issue(pki.root, "relay-other", relay_key)});
  ASSERT_FALSE(another_subject);
  EXPECT_NE(another_subject.error().find("relay-other"), std::string::npos) << another_subject.error();
  EXPECT_FALSE(relay->Renew({keep, issue(other_root.root, "relay-test", relay_key)}));
  EXPECT_FALSE(relay->Renew({{"not a certificate", "not a key"}, issue(pki.root, "relay-test", relay_key)}));
  // Nothing changed: a new login still sees serial 1.
  Peer& dev = AddPeer(Pki::Issue(acme, crypto::Role::kDevice, "dev-1"));
  ASSERT_TRUE(Login(dev));
  EXPECT_EQ(pl.Exec([&] { return dev.relay_serial; }), 1u);
}

}  // namespace
}  // namespace strait::relay::testing
