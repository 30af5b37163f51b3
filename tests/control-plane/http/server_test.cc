// The HTTPS server's transport bounds (control-plane/http/server.h), with a real OpenSSL client over loopback and a
// test handler that answers what it saw.
#include "control-plane/http/server.h"

#include <openssl/ssl.h>

#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control-plane/pki/x509.h"
#include "tests/control-plane/testing/https_client.h"

namespace strait::control::http {
namespace {

using testing::HttpsClient;
using testing::Reply;

std::string Hex(const std::array<uint8_t, 32>& b) {
  std::string s;
  for (uint8_t x : b) s += fmt::format("{:02x}", x);
  return s;
}

class EchoHandler : public Handler {
 public:
  size_t BodyLimit(std::string_view, std::string_view path) const override { return path == "/small" ? 1024 : 65536; }
  Response Handle(const Request& r) override {
    handled++;
    if (r.path == "/throw") throw std::runtime_error("boom");
    if (r.path == "/block") {
      entered.set_value();
      release.get_future().wait();
    }
    Response res;
    res.body = fmt::format("{} {} q={} body={} exporter={}", r.method, r.path, r.query, r.body.size(),
                           Hex(r.exporters.control));
    return res;
  }
  Response Problem(ServerProblem p, const Request&, size_t limit) const override {
    Response res;
    res.status = p == ServerProblem::kBodyTooLarge      ? 413
                 : p == ServerProblem::kHeadersTooLarge ? 431
                 : p == ServerProblem::kRequestTimeout  ? 408
                 : p == ServerProblem::kOverloaded      ? 503
                                                        : 500;
    res.content_type = "application/problem+json";
    res.body = fmt::format(R"({{"status":{},"max":{}}})", res.status, limit);
    return res;
  }
  std::atomic<int> handled{0};
  std::promise<void> entered;
  std::promise<void> release;
};

struct Pki {
  pki::PemPair ca;
  pki::PemPair leaf;
};

const Pki& TestPki() {
  static const Pki pki = [] {
    Pki p;
    p.ca = *pki::GenerateCa({});
    pki::LeafParams lp;
    lp.dns_names = {"localhost"};
    lp.ip_addresses = {"127.0.0.1"};
    p.leaf = *pki::IssueLeaf(p.ca, lp);
    return p;
  }();
  return pki;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions o = {}) {
    o.cert_pem = TestPki().leaf.cert_pem + TestPki().ca.cert_pem;
    o.key_pem = TestPki().leaf.key_pem;
    server_ = std::make_unique<Server>(std::move(o), &handler_);
    auto started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.error().reason;
  }
  HttpsClient Client() { return HttpsClient(server_->local_address(), TestPki().ca.cert_pem); }

  EchoHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, AnswersOverTls13WithRequestIdAndKeepsTheConnection) {
  StartServer();
  HttpsClient c = Client();
  Reply r = c.Send("GET", "/v1/x?limit=5");
  ASSERT_EQ(r.status, 200u) << r.error;
  EXPECT_EQ(r.body.substr(0, 16), "GET /v1/x q=limi");
  EXPECT_EQ(r.Header("x-request-id").size(), 16u);
  EXPECT_EQ(r.Header("cache-control"), "no-store");
  Reply r2 = c.Send("POST", "/v1/y", "abc", {{"Content-Type", "application/json"}});
  ASSERT_EQ(r2.status, 200u) << r2.error;
  EXPECT_NE(r2.body.find("body=3"), std::string::npos);
  EXPECT_NE(r.Header("x-request-id"), r2.Header("x-request-id"));
  EXPECT_EQ(server_->counters().connections.load(), 1u);  // both on one kept connection
}

TEST_F(ServerTest, TheHandlerSeesTheConnectionsTlsExporter) {
  StartServer();
  HttpsClient c = Client();
  std::array<uint8_t, 32> mine = c.Exporter("EXPORTER-strait-control-1");
  Reply r = c.Send("GET", "/");
  ASSERT_EQ(r.status, 200u) << r.error;
  EXPECT_NE(r.body.find("exporter=" + Hex(mine)), std::string::npos) << r.body;
  // Another connection has another exporter.
  HttpsClient other = Client();
  EXPECT_NE(Hex(other.Exporter("EXPORTER-strait-control-1")), Hex(mine));
}

TEST_F(ServerTest, ABodyOverTheRouteLimitIsRefusedBeforeItIsRead) {
  StartServer();
  HttpsClient c = Client();
  Reply r = c.Send("POST", "/small", std::string(1025, 'x'), {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 413u) << r.error;
  EXPECT_EQ(r.body, R"({"status":413,"max":1024})");
  EXPECT_EQ(handler_.handled.load(), 0);
  Reply ok = Client().Send("POST", "/small", std::string(1024, 'x'), {{"Content-Type", "application/json"}});
  EXPECT_EQ(ok.status, 200u);
}

TEST_F(ServerTest, AChunkedBodyThatGrowsPastTheLimitIsRefused) {
  StartServer();
  std::string chunks = "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunks += "200\r\n" + std::string(512, 'y') + "\r\n";
  chunks += "0\r\n\r\n";
  std::string out = Client().RawExchange(chunks, std::chrono::seconds(5));
  EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  StartServer();
  std::string req = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabcd";
  std::string out = Client().RawExchange(req, std::chrono::seconds(5));
  EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue", 0), 0u) << out;
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("body=4"), std::string::npos) << out;
}

TEST_F(ServerTest, OversizedHeadersAndTooManyFieldsGet431) {
  StartServer();
  Reply big = Client().Send("GET", "/", {}, {{"X-Big", std::string(9000, 'a')}});
  EXPECT_EQ(big.status, 431u) << big.error;
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 65; ++i) many.emplace_back(fmt::format("X-F{}", i), "v");
  Reply fields = Client().Send("GET", "/", {}, many);
  EXPECT_EQ(fields.status, 431u) << fields.error;
  EXPECT_EQ(handler_.handled.load(), 0);
  EXPECT_EQ(server_->counters().too_large.load(), 2u);
}

TEST_F(ServerTest, AThrowingHandlerIs500AndTheServerServesTheNextRequest) {
  StartServer();
  HttpsClient c = Client();
  EXPECT_EQ(c.Send("GET", "/throw").status, 500u);
  EXPECT_EQ(c.Send("GET", "/fine").status, 200u);
  EXPECT_EQ(server_->counters().internal_errors.load(), 1u);
}

TEST_F(ServerTest, SlowHeadersAreCutAtTheHeaderTimeout) {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  StartServer(o);
  auto t0 = std::chrono::steady_clock::now();
  std::string out = Client().RawExchange("GET / HTTP/1.1\r\nHost: x\r\n", std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out, "");
  EXPECT_LT(took, std::chrono::seconds(4));  // closed by the server, not by the client's own 5 s
  // The server counts it as its read completes, which may be just after the client saw the close.
  for (int i = 0; i < 200 && server_->counters().timeouts.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server_->counters().timeouts.load(), 1u);
  EXPECT_EQ(handler_.handled.load(), 0);
}

TEST_F(ServerTest, ConnectionsBeyondTheBoundAreClosedAtOnce) {
  ServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  HttpsClient a = Client(), b = Client(), c = Client();
  ASSERT_EQ(a.Send("GET", "/").status, 200u);
  ASSERT_EQ(b.Send("GET", "/").status, 200u);
  std::string error;
  EXPECT_FALSE(c.Connect(&error));
  EXPECT_EQ(server_->counters().refused_connections.load(), 1u);
  a.Close();
  // The slot comes back once the server sees the close.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = Client().Send("GET", "/").status == 200u;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

TEST_F(ServerTest, AFullPoolQueueAnswers503WithoutRunningTheHandler) {
  ServerOptions o;
  o.pool_threads = 1;
  o.pool_queue = 1;
  StartServer(o);
  std::thread blocked([&] { EXPECT_EQ(Client().Send("GET", "/block").status, 200u); });
  handler_.entered.get_future().wait();
  Reply r = Client().Send("GET", "/other");
  EXPECT_EQ(r.status, 503u);
  handler_.release.set_value();
  blocked.join();
  EXPECT_EQ(server_->counters().overloaded.load(), 1u);
  EXPECT_EQ(handler_.handled.load(), 1);
}

TEST_F(ServerTest, Tls12IsRefused) {
  StartServer();
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_verify_mode(asio::ssl::verify_none);
  boost::beast::ssl_stream<boost::beast::tcp_stream> s(ioc, ctx);
  std::string addr = server_->local_address();
  size_t colon = addr.rfind(':');
  boost::beast::error_code ec;
  boost::beast::get_lowest_layer(s).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address(addr.substr(0, colon)),
                              static_cast<uint16_t>(std::stoi(addr.substr(colon + 1)))),
      ec);
  ASSERT_FALSE(ec) << ec.message();
  s.handshake(asio::ssl::stream_base::client, ec);
  EXPECT_TRUE(ec);
}

TEST_F(ServerTest, StopLetsAnInFlightRequestFinish) {
  StartServer();
  std::promise<unsigned> status;
  std::thread t([&] { status.set_value(Client().Send("GET", "/block").status); });
  handler_.entered.get_future().wait();
  std::thread stopper([&] { server_->Stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  handler_.release.set_value();
  stopper.join();
  t.join();
  EXPECT_EQ(status.get_future().get(), 200u);
}

TEST_F(ServerTest, BadListenAndBadKeyAreClearErrors) {
  ServerOptions o;
  o.listen = "nonsense";
  o.cert_pem = TestPki().leaf.cert_pem;
  o.key_pem = TestPki().leaf.key_pem;
  Server s(o, &handler_);
  auto r = s.Start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ServerError::kBadListen);
  ServerOptions k;
  k.cert_pem = TestPki().leaf.cert_pem;
  k.key_pem = TestPki().ca.key_pem;  // not the certificate's key
  Server s2(k, &handler_);
  auto r2 = s2.Start();
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, ServerError::kTls);
}

}  // namespace
}  // namespace strait::control::http
