// The blocking HTTPS client (tunnel/control/http_client.h) against a TLS 1.3 server in a thread of the test (the
// project's TlsSession on an accepted socket): both ends see the same exporter value, the chain the server sent comes
// back, the response is parsed and bounded, a CA that does not match fails the handshake, and a broken or truncated
// answer is a protocol error.
#include "tunnel/control/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"

namespace strait::control {
namespace {

struct Pki {
  crypto::PemCertificate ca = crypto::GenerateCa({}).value();
  crypto::PemCertificate leaf;
  Pki() {
    crypto::LeafOptions lo;
    lo.ip_addresses = {"127.0.0.1"};
    lo.dns_names = {"localhost"};
    leaf = crypto::IssueLeafCertificate(ca, lo).value();
  }
};

// One connection: handshake, read one request (headers + Content-Length body), answer what `respond` returns.
class OneShotServer {
 public:
  using Respond = std::function<std::string(const std::string& request)>;
  OneShotServer(const Pki& pki, Respond respond) : respond_(std::move(respond)) {
    ctx_.emplace(crypto::TlsContext::CreateServer({pki.leaf.cert_pem, pki.leaf.key_pem}).value());
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listen_fd_, 1), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  const std::array<uint8_t, 32>& exporter() const { return exporter_; }  // after the client's exchange
  const std::string& request() const { return request_; }

 private:
  void Serve() {
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    auto session = crypto::TlsSession::Create(*ctx_).value();
    std::vector<uint8_t> out;
    (void)session.Start(out);
    std::string plain;
    std::array<uint8_t, 16384> buf{};
    bool answered = false;
    for (;;) {
      const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      std::vector<uint8_t> p;
      if (!session.Receive({buf.data(), static_cast<size_t>(n)}, p, out)) break;
      if (!out.empty()) {
        (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        out.clear();
      }
      plain.append(p.begin(), p.end());
      const size_t end = plain.find("\r\n\r\n");
      if (answered || end == std::string::npos) continue;
      size_t length = 0;
      if (const size_t cl = plain.find("Content-Length: "); cl != std::string::npos) {
        length = std::stoul(plain.substr(cl + 16));
      }
      if (plain.size() < end + 4 + length) continue;
      request_ = plain;
      (void)session.ExportKeyingMaterial("EXPORTER-strait-activate-1", {}, exporter_);
      const std::string answer = respond_(plain);
      (void)session.Send({reinterpret_cast<const uint8_t*>(answer.data()), answer.size()}, out);
      (void)session.Close(out);
      (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      out.clear();
      answered = true;
      break;
    }
    close(fd);
  }

  Respond respond_;
  std::optional<crypto::TlsContext> ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::array<uint8_t, 32> exporter_{};
  std::string request_;
  std::thread thread_;
};

HttpsUrl Local(uint16_t port) { return ParseHttpsUrl("https://127.0.0.1:" + std::to_string(port)).value(); }

HttpRequest Post(std::string body) {
  HttpRequest r;
  r.target = "/v1/activate";
  r.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "k1"}};
  r.body = std::move(body);
  return r;
}

TEST(HttpsClientTest, ExchangesOneRequestAndSharesTheExporter) {
  Pki pki;
  OneShotServer server(pki, [](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nStrait-Activation-Mac: abc=\r\n"
                       "Content-Length: 13\r\n\r\n{\"version\":1}");
  });
  auto conn = HttpsConnection::Connect(Local(server.port()), {});  // no CA: transport only
  ASSERT_TRUE(conn.ok()) << conn.error().reason;
  std::array<uint8_t, 32> e{};
  ASSERT_TRUE(conn->Export("EXPORTER-strait-activate-1", e).ok());
  const std::vector<std::string> chain = conn->PeerChainPem();
  auto resp = conn->Exchange(Post(R"({"a":1})"));
  ASSERT_TRUE(resp.ok()) << resp.error().reason;
  EXPECT_EQ(resp->status, 200u);
  EXPECT_EQ(resp->body, R"({"version":1})");
  EXPECT_EQ(resp->Header("strait-activation-mac").value_or(""), "abc=");
  EXPECT_FALSE(resp->Header("X-Absent").has_value());
  EXPECT_EQ(e, server.exporter());  // same session, same value at both ends
  EXPECT_NE(e, (std::array<uint8_t, 32>{}));
  EXPECT_NE(server.request().find("POST /v1/activate HTTP/1.1\r\n"), std::string::npos);
  EXPECT_NE(server.request().find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"), std::string::npos);
  EXPECT_NE(server.request().find("Idempotency-Key: k1\r\n"), std::string::npos);
  EXPECT_NE(server.request().find("\r\n\r\n{\"a\":1}"), std::string::npos);
  ASSERT_EQ(chain.size(), 1u);
  EXPECT_TRUE(VerifyPeerChain(chain, pki.ca.cert_pem, "127.0.0.1").ok());
  EXPECT_FALSE(conn->Exchange(Post("")).ok());  // one exchange per connection
}

TEST(HttpsClientTest, VerifiesTheServerAgainstAGivenCa) {
  Pki pki;
  {
    OneShotServer server(pki, [](const std::string&) { return std::string("HTTP/1.1 204 No Content\r\n\r\n"); });
    HttpsClientOptions o;
    o.ca_pem = pki.ca.cert_pem;
    auto conn = HttpsConnection::Connect(Local(server.port()), o);
    ASSERT_TRUE(conn.ok()) << conn.error().reason;
    auto resp = conn->Exchange(Post(""));
    ASSERT_TRUE(resp.ok()) << resp.error().reason;
    EXPECT_EQ(resp->status, 204u);
  }
  {
    OneShotServer server(pki, [](const std::string&) { return std::string(); });
    HttpsClientOptions o;
    o.ca_pem = crypto::GenerateCa({}).value().cert_pem;  // another CA
    auto conn = HttpsConnection::Connect(Local(server.port()), o);
    ASSERT_FALSE(conn.ok());
    EXPECT_EQ(conn.error().code, HttpError::kTls);
  }
}

TEST(HttpsClientTest, BoundsAndBrokenAnswers) {
  Pki pki;
  struct Case {
    const char* name;
    std::string answer;
    HttpError want;
  };
  const Case cases[] = {
      {"declared too large", "HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n", HttpError::kTooLarge},
      {"not HTTP", "HELLO THERE\r\n\r\n", HttpError::kProtocol},
      {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", HttpError::kProtocol},
      {"closed before headers", "", HttpError::kProtocol},
  };
  for (const Case& c : cases) {
    OneShotServer server(pki, [&c](const std::string&) { return c.answer; });
    auto conn = HttpsConnection::Connect(Local(server.port()), {});
    ASSERT_TRUE(conn.ok()) << c.name << ": " << conn.error().reason;
    auto resp = conn->Exchange(Post("{}"));
    ASSERT_FALSE(resp.ok()) << c.name;
    EXPECT_EQ(resp.error().code, c.want) << c.name << ": " << resp.error().reason;
  }
  // A body beyond a smaller bound, delimited by the close (no Content-Length).
  OneShotServer server(pki, [](const std::string&) { return "HTTP/1.1 200 OK\r\n\r\n" + std::string(2000, 'x'); });
  HttpsClientOptions o;
  o.max_response_bytes = 1000;
  auto conn = HttpsConnection::Connect(Local(server.port()), o);
  ASSERT_TRUE(conn.ok());
  auto resp = conn->Exchange(Post("{}"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code, HttpError::kTooLarge) << resp.error().reason;
}

TEST(HttpsClientTest, RefusedConnectAndHeaderInjection) {
  auto conn = HttpsConnection::Connect(ParseHttpsUrl("https://127.0.0.1:1").value(), {});
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.error().code, HttpError::kConnect);

  Pki pki;
  OneShotServer server(pki, [](const std::string&) { return std::string("HTTP/1.1 200 OK\r\n\r\n"); });
  auto c = HttpsConnection::Connect(Local(server.port()), {});
  ASSERT_TRUE(c.ok());
  HttpRequest r = Post("{}");
  r.headers.push_back({"X-Evil", "a\r\nInjected: 1"});
  auto resp = c->Exchange(r);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.error().code, HttpError::kProtocol);
}

TEST(HttpResponseReaderTest, ByteByByteCloseDelimitedAndNoChunked) {
  {
    HttpResponseReader r(100);
    const std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    for (char c : text) ASSERT_TRUE(r.Feed(std::string_view(&c, 1)).ok());
    ASSERT_TRUE(r.done());
    auto resp = r.Take();
    ASSERT_TRUE(resp.ok()) << resp.error().reason;
    EXPECT_EQ(resp->body, "hello");
    EXPECT_EQ(resp->Header("x-a").value_or(""), "b");
  }
  {
    HttpResponseReader r(100);  // chunked: refused at the header, before any chunk is parsed
    auto f = r.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nhello\r\n0\r\n\x15\n");
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, HttpError::kProtocol);
  }
  {
    HttpResponseReader r(100);
    ASSERT_TRUE(r.Feed("HTTP/1.0 200 OK\r\n\r\nuntil the close").ok());
    EXPECT_FALSE(r.done());
    ASSERT_TRUE(r.End().ok());
    auto resp = r.Take();
    ASSERT_TRUE(resp.ok());
    EXPECT_EQ(resp->body, "until the close");
  }
  {
    HttpResponseReader r(100);
    ASSERT_TRUE(r.Feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345").ok());
    EXPECT_FALSE(r.End().ok());             // truncated
    EXPECT_FALSE(r.Feed("67890").ok());     // failures stick
    EXPECT_FALSE(r.Take().ok());
  }
  {
    HttpResponseReader r(100);
    ASSERT_TRUE(r.Feed("HTTP/1.1 000 OK\r\nContent-Length: 0\r\n\r\n").ok());
    EXPECT_FALSE(r.Take().ok());  // Beast takes any three digits; a status below 100 is no answer
  }
  {
    HttpResponseReader r(100);  // the peer closed before sending anything
    EXPECT_FALSE(r.End().ok());
    EXPECT_FALSE(r.done());
  }
  {
    HttpResponseReader r(100);
    auto f = r.Feed("HTTP/1.1 200 OK\r\nX: " + std::string(kMaxHttpHeaderBytes + 10, 'a'));
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, HttpError::kTooLarge);
  }
}

}  // namespace
}  // namespace strait::control
