#include "crypto/tls_session.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <array>
#include <random>

#include "crypto/keys.h"
#include "crypto/x509_issue.h"
#include "tests/crypto/tls_test_util.h"

namespace strait::crypto {
namespace {

using testing::Handshake;
using testing::SharedTestPki;
using testing::TestClientContext;
using testing::TestServerContext;
using testing::TlsPair;

std::vector<uint8_t> RandomData(size_t n) {
  std::vector<uint8_t> b(n);
  RandomBytes(b);
  return b;
}

TEST(TlsSession, HandshakeNegotiatesTls13) {
  TlsPair p;
  EXPECT_FALSE(p.client.handshake_complete());
  auto r = Handshake(p.client, p.server);
  ASSERT_TRUE(r.ok()) << r.error().reason;
  EXPECT_TRUE(p.client.handshake_complete());
  EXPECT_TRUE(p.server.handshake_complete());
  EXPECT_EQ(SSL_version(p.client.native_handle()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_version(p.server.native_handle()), TLS1_3_VERSION);
}

TEST(TlsSession, HandshakeOneByteAtATime) {
  TlsPair p;
  auto r = Handshake(p.client, p.server, /*chunk=*/1);
  ASSERT_TRUE(r.ok()) << r.error().reason;
}

TEST(TlsSession, VerifiesIpAddressName) {
  TlsContext server = TestServerContext();
  TlsContext client = TestClientContext("127.0.0.1");
  EXPECT_TRUE(client.server_name_is_ip());
  TlsSession s = TlsSession::Create(server).value();
  TlsSession c = TlsSession::Create(client).value();
  auto r = Handshake(c, s);
  EXPECT_TRUE(r.ok()) << r.error().reason;
}

// Moves `bytes` from one side to the other through Receive, split at random points so records arrive in pieces.
void Deliver(TlsSession& to, const std::vector<uint8_t>& bytes, std::vector<uint8_t>& plaintext,
             std::mt19937& rng) {
  std::vector<uint8_t> reply;
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t n = std::min<size_t>(bytes.size() - off, 1 + rng() % 20000);
    auto r = to.Receive(std::span(bytes).subspan(off, n), plaintext, reply);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    off += n;
  }
  EXPECT_TRUE(reply.empty());
}

TEST(TlsSession, BulkDataBothWays) {
  TlsPair p;
  ASSERT_TRUE(Handshake(p.client, p.server).ok());
  std::mt19937 rng(7);
  const std::vector<uint8_t> up = RandomData(1 << 20);
  const std::vector<uint8_t> down = RandomData((1 << 20) + 12345);
  std::vector<uint8_t> wire, got_up, got_down;
  // Many writes of odd sizes, including empty and larger than one record.
  for (size_t off = 0; off < up.size();) {
    const size_t n = std::min<size_t>(up.size() - off, rng() % 40000);
    ASSERT_TRUE(p.client.Send(std::span(up).subspan(off, n), wire).ok());
    off += n;
  }
  EXPECT_GT(wire.size(), up.size());
  Deliver(p.server, wire, got_up, rng);
  EXPECT_EQ(got_up, up);

  wire.clear();
  ASSERT_TRUE(p.server.Send(down, wire).ok());
  Deliver(p.client, wire, got_down, rng);
  EXPECT_EQ(got_down, down);
}

TEST(TlsSession, CloseNotifyIsReported) {
  TlsPair p;
  ASSERT_TRUE(Handshake(p.client, p.server).ok());
  std::vector<uint8_t> wire, plain, reply;
  const std::vector<uint8_t> last = {'b', 'y', 'e'};
  ASSERT_TRUE(p.client.Send(last, wire).ok());
  ASSERT_TRUE(p.client.Close(wire).ok());
  ASSERT_TRUE(p.server.Receive(wire, plain, reply).ok());
  EXPECT_EQ(plain, last);
  EXPECT_TRUE(p.server.peer_closed());
  EXPECT_FALSE(p.client.peer_closed());
}

TEST(TlsSession, WrongCaFails) {
  const PemCertificate other_ca = GenerateCa({"other CA"}).value();
  TlsContext server = TestServerContext();
  TlsContext client = TlsContext::CreateClient({other_ca.cert_pem, "localhost"}).value();
  TlsSession s = TlsSession::Create(server).value();
  TlsSession c = TlsSession::Create(client).value();
  auto r = Handshake(c, s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, TlsError::kHandshake);
  EXPECT_NE(r.error().reason.find("certificate verification failed"), std::string::npos) << r.error().reason;
}

TEST(TlsSession, WrongHostnameFails) {
  for (const char* name : {"example.com", "127.0.0.2", "local"}) {
    SCOPED_TRACE(name);
    TlsContext server = TestServerContext();
    TlsContext client = TestClientContext(name);
    TlsSession s = TlsSession::Create(server).value();
    TlsSession c = TlsSession::Create(client).value();
    auto r = Handshake(c, s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, TlsError::kHandshake) << r.error().reason;
  }
}

TEST(TlsSession, RefusesTls12OnlyServer) {
  TlsContext server = TestServerContext();
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(server.native_handle(), TLS1_2_VERSION));
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(server.native_handle(), TLS1_2_VERSION));
  TlsContext client = TestClientContext();
  TlsSession s = TlsSession::Create(server).value();
  TlsSession c = TlsSession::Create(client).value();
  auto r = Handshake(c, s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, TlsError::kHandshake) << r.error().reason;
}

TEST(TlsSession, RefusesTls12OnlyClient) {
  TlsContext server = TestServerContext();
  TlsContext client = TestClientContext();
  ASSERT_TRUE(SSL_CTX_set_min_proto_version(client.native_handle(), TLS1_2_VERSION));
  ASSERT_TRUE(SSL_CTX_set_max_proto_version(client.native_handle(), TLS1_2_VERSION));
  TlsSession s = TlsSession::Create(server).value();
  TlsSession c = TlsSession::Create(client).value();
  auto r = Handshake(c, s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, TlsError::kHandshake) << r.error().reason;
}

TEST(TlsSession, ExporterMatchesAcrossPeersAndDiffersAcrossSessions) {
  TlsPair a, b;
  ASSERT_TRUE(Handshake(a.client, a.server).ok());
  ASSERT_TRUE(Handshake(b.client, b.server).ok());
  std::array<uint8_t, 32> ac{}, as{}, bc{}, ctx_differs{};
  ASSERT_TRUE(a.client.ExportKeyingMaterial("EXPORTER-test", {}, ac).ok());
  ASSERT_TRUE(a.server.ExportKeyingMaterial("EXPORTER-test", {}, as).ok());
  ASSERT_TRUE(b.client.ExportKeyingMaterial("EXPORTER-test", {}, bc).ok());
  const std::array<uint8_t, 1> context = {1};
  ASSERT_TRUE(a.client.ExportKeyingMaterial("EXPORTER-test", context, ctx_differs).ok());
  EXPECT_EQ(ac, as);
  EXPECT_NE(ac, bc);
  EXPECT_NE(ac, ctx_differs);
}

TEST(TlsSession, ExporterAndSendNeedCompletedHandshake) {
  TlsPair p;
  std::array<uint8_t, 32> out{};
  auto e = p.client.ExportKeyingMaterial("EXPORTER-test", {}, out);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, TlsError::kState);
  std::vector<uint8_t> wire;
  auto s = p.client.Send(std::vector<uint8_t>{1}, wire);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, TlsError::kState);
}

TEST(TlsSession, GarbageBeforeHandshakeIsAnError) {
  TlsContext server = TestServerContext();
  std::mt19937 rng(1);
  for (int i = 0; i < 50; ++i) {
    TlsSession s = TlsSession::Create(server).value();
    std::vector<uint8_t> junk = RandomData(1 + rng() % 4000);
    junk[0] = static_cast<uint8_t>(i % 2 == 0 ? 0x16 : junk[0]);  // sometimes look like a handshake record
    std::vector<uint8_t> plain, reply;
    auto r = s.Receive(junk, plain, reply);
    if (r.ok()) continue;  // a short prefix of a plausible record is just "need more"
    EXPECT_EQ(r.error().code, TlsError::kHandshake);
    EXPECT_FALSE(r.error().reason.empty());
    auto again = s.Receive(junk, plain, reply);  // dead sessions stay dead
    EXPECT_FALSE(again.ok());
  }
}

TEST(TlsSession, GarbageAfterHandshakeIsAProtocolError) {
  TlsPair p;
  ASSERT_TRUE(Handshake(p.client, p.server).ok());
  std::vector<uint8_t> wire, plain, reply;
  ASSERT_TRUE(p.client.Send(RandomData(100), wire).ok());
  wire[wire.size() - 1] ^= 1;  // breaks the record's tag
  auto r = p.server.Receive(wire, plain, reply);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, TlsError::kProtocol);
  EXPECT_TRUE(plain.empty());
  EXPECT_FALSE(reply.empty());  // the alert to send before closing
}

TEST(TlsContext, RejectsBadPem) {
  const testing::TestPki& pki = SharedTestPki();
  struct Case {
    const char* name;
    TlsServerConfig config;
  };
  const PemCertificate other = IssueLeafCertificate(pki.ca, {"x", {"localhost"}, {}}).value();
  const Case cases[] = {
      {"empty cert", {"", pki.leaf.key_pem}},
      {"garbage cert", {"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", pki.leaf.key_pem}},
      {"empty key", {pki.leaf.cert_pem, ""}},
      {"mismatched key", {pki.leaf.cert_pem, other.key_pem}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = TlsContext::CreateServer(c.config);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, TlsError::kConfig);
    EXPECT_FALSE(r.error().reason.empty());
  }
  auto client = TlsContext::CreateClient({"not a pem", "localhost"});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, TlsError::kConfig);
}

TEST(TlsContext, ServerAcceptsChainBundle) {
  const testing::TestPki& pki = SharedTestPki();
  const std::string bundle = pki.leaf.cert_pem + pki.ca.cert_pem;
  TlsContext server = TlsContext::CreateServer({bundle, pki.leaf.key_pem}).value();
  TlsContext client = TestClientContext();
  TlsSession s = TlsSession::Create(server).value();
  TlsSession c = TlsSession::Create(client).value();
  EXPECT_TRUE(Handshake(c, s).ok());
}

TEST(X509Issue, RejectsBadArguments) {
  const PemCertificate ca = SharedTestPki().ca;
  EXPECT_FALSE(IssueLeafCertificate(ca, {"x", {}, {}}).ok());
  EXPECT_FALSE(IssueLeafCertificate(ca, {"x", {}, {"300.1.1.1"}}).ok());
  EXPECT_FALSE(IssueLeafCertificate({"junk", "junk"}, {"x", {"localhost"}, {}}).ok());
  EXPECT_FALSE(GenerateCa({"ca", 0}).ok());
}

TEST(TlsSession, SurvivesMove) {
  TlsPair p;
  TlsSession moved = std::move(p.server);
  ASSERT_TRUE(Handshake(p.client, moved).ok());
  std::vector<uint8_t> wire, plain, reply;
  ASSERT_TRUE(p.client.Send(std::vector<uint8_t>{9, 9}, wire).ok());
  ASSERT_TRUE(moved.Receive(wire, plain, reply).ok());
  EXPECT_EQ(plain, (std::vector<uint8_t>{9, 9}));
}

}  // namespace
}  // namespace strait::crypto
