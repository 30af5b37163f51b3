// The heavy cross-process cases (ctest LABEL e2e): many concurrent streams on one device, and 1 GiB through one
// stream with SHA-256 on both ends. Bounded in time (generous deadlines for the sanitizer build).
#include <fmt/format.h>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

constexpr int kStreams = 1000;
constexpr uint64_t kBulkBytes = 1ull << 30;

class AppSessionLoad : public E2eTest {
 protected:
  void StartAll() {
    MakeOperator();
    const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
    const std::string dev_id = MakeIdentity("device", "acme", "dev-1");
    Relay relay = StartRelay();
    ASSERT_NE(relay.process, nullptr);
    Connector conn = StartConnector(conn_id, {relay.connector});
    WaitConnectorLinkUp(conn);
    device_ = StartDevice(dev_id, relay.device);
    WaitSessionUp(device_);
    ASSERT_FALSE(HasFailure());
  }
  Device device_;
};

TEST_F(AppSessionLoad, ThousandConcurrentStreamsOnOneDevice) {
  StartAll();
  std::vector<demo::Connection> streams;
  streams.reserve(kStreams);
  const auto deadline = Deadline(std::chrono::seconds(120));
  for (int i = 0; i < kStreams; ++i) {
    auto c = demo::Connection::ViaSocks5(device_.socks, "127.0.0.1", http_port(), deadline);
    ASSERT_TRUE(c) << "stream " << i << ": " << c.error();
    streams.push_back(std::move(c).value());
  }
  // All 1,000 are open at once; each now carries one request, all in flight together.
  for (int i = 0; i < kStreams; ++i) {
    const std::string req = fmt::format("GET /bytes/{} HTTP/1.1\r\nHost: x\r\n\r\n", 100 + i);
    auto w = streams[static_cast<std::size_t>(i)].WriteAll(
        std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()), deadline);
    ASSERT_TRUE(w) << "stream " << i << ": " << w.error();
  }
  for (int i = 0; i < kStreams; ++i) {
    auto& c = streams[static_cast<std::size_t>(i)];
    auto r = demo::ReadHttpResponse(c, deadline);
    ASSERT_TRUE(r) << "stream " << i << ": " << r.error();
    ASSERT_EQ(r->status, 200) << "stream " << i;
    std::string expect(static_cast<std::size_t>(100 + i), '\0');
    demo::FillPattern(0, std::span(reinterpret_cast<uint8_t*>(expect.data()), expect.size()));
    ASSERT_EQ(r->body, expect) << "stream " << i;
  }
  // Every stream reached the server as its own connection (counted once the server accepted it).
  EXPECT_GE(http_->stats().connections.load(), static_cast<uint64_t>(kStreams));
}

TEST_F(AppSessionLoad, OneGibThroughOneStreamArrivesWithTheSameSha256) {
  StartAll();
  auto c = demo::Connection::ViaSocks5(device_.socks, "127.0.0.1", http_port(), Deadline());
  ASSERT_TRUE(c) << c.error();
  std::string local;
  auto r = demo::HttpPostPattern(*c, "127.0.0.1", kBulkBytes, Deadline(std::chrono::seconds(150)), &local);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, fmt::format("{} {}\n", kBulkBytes, local));
  EXPECT_EQ(local, demo::PatternSha256(kBulkBytes));
}

}  // namespace
}  // namespace strait::e2e
