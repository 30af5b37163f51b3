// Issue 7, attack 3: one stalled or slow device must cost its own streams and nobody else's. A device opens 16
// endless downloads (read at full speed for 2 s by a client with a small receive buffer) and is then stopped
// (SIGSTOP), or keeps reading them slowly; meanwhile two other devices of the same tenant fetch in turn. Their
// fetches must all succeed with bounded latency, and the connector's relay link must stay up (no "link_down", one
// connector link at the relay).
// This attack once made every fetch of the tenant time out within about 4 s, and took the connector's link down on
// its idle timeout about 60 s later; a slow device pushed the tenant's latency from 3 ms to 120-180 ms.
//
// Fixed by relay credit (protocol.md §8): before it, StoppedDevice failed (the other devices' first fetch timed out
// after 30 s).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/adversary/adversary_harness.h"

namespace strait::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kDownloads = 16;
constexpr int kSmallRcvBuf = 4096;               // the download client's SO_RCVBUF (the kernel doubles it)
constexpr auto kWatch = seconds(20);             // well past the ~4 s in which the tenant froze
constexpr auto kMaxFetch = milliseconds(2000);   // any one fetch by another device (loaded 2-core machine)
constexpr auto kMaxSlowP90 = milliseconds(100);  // slow device: the tenant's p90 (the attack made it 120-180 ms)
constexpr std::uint64_t kEndless = 1ull << 40;

struct FetchStats {
  int ok = 0;
  int failed = 0;
  std::string first_error;
  std::vector<double> ms;
  double Percentile(double p) const {
    if (ms.empty()) return 0;
    std::vector<double> v = ms;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
  }
};

class AdversaryStalledDevice : public AdversaryTest {
 protected:
  void SetUp() override {
    AdversaryTest::SetUp();
    MakeOperator();
    const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
    relay_ = StartRelayWithMetrics(&relay_metrics_, 2);
    ASSERT_NE(relay_.process, nullptr);
    conn_ = StartConnector(conn_id, {relay_.connector});
    WaitConnectorLinkUp(conn_);
    for (const char* name : {"stalled", "victim-1", "victim-2"}) {
      Device d = StartDevice(MakeIdentity("device", "acme", name), relay_.device);
      WaitSessionUp(d);
      devices_.push_back(d);
    }
  }
  void TearDown() override {
    if (!devices_.empty() && devices_[0].process != nullptr) devices_[0].process->Signal(SIGCONT);
    AdversaryTest::TearDown();
  }

  // kDownloads endless downloads through `d`: all opened and requested first, then each read until its response
  // header arrived (or 10 s passed: one session's credit is shared by its streams, so a download the others crowd
  // out may not start; that costs the device its own streams), then left alone. Returns them; *started counts
  // those whose 200 header arrived.
  // The status line and headers of a response (at most 16 KiB), a byte at a time so that the endless body stays in
  // the socket for Drain.
  static std::optional<std::string> ReadHead(demo::Connection& c, Clock::time_point deadline) {
    std::string head;
    while (head.size() < 16384 && !head.ends_with("\r\n\r\n")) {
      pollfd p{c.fd(), POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
      char ch = 0;
      if (::recv(c.fd(), &ch, 1, 0) != 1) return std::nullopt;
      head.push_back(ch);
    }
    return head;
  }

  std::vector<demo::Connection> OpenDownloads(const Device& d, int* started) {
    std::vector<demo::Connection> out;
    const std::string req = fmt::format("GET /stream/{} HTTP/1.1\r\nHost: internal\r\n\r\n", kEndless);
    for (int i = 0; i < kDownloads; ++i) {
      auto c = demo::Connection::ViaSocks5(d.socks, "127.0.0.1", http_port(), Deadline());
      EXPECT_TRUE(c) << "download " << i << ": " << (c ? "" : c.error());
      if (!c) return out;
      const int small = kSmallRcvBuf;
      ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      auto w = c->WriteAll(std::span(reinterpret_cast<const std::uint8_t*>(req.data()), req.size()), Deadline());
      EXPECT_TRUE(w) << "download " << i;
      out.push_back(std::move(c).value());
    }
    *started = 0;
    const auto deadline = Clock::now() + seconds(10);
    for (auto& c : out) {
      auto head = ReadHead(c, deadline);
      if (head && head->starts_with("HTTP/1.1 200")) ++*started;
    }
    return out;
  }

  // Reads every download as fast as it arrives for `length`, so that data is in flight everywhere (relay, device
  // link, connector) when the device stops. Returns the bytes read.
  static std::uint64_t Drain(std::vector<demo::Connection>& downloads, Clock::duration length) {
    std::vector<pollfd> fds;
    for (auto& c : downloads) fds.push_back({c.fd(), POLLIN, 0});
    std::vector<std::uint8_t> buf(64 * 1024);
    std::uint64_t bytes = 0;
    const auto end = Clock::now() + length;
    while (Clock::now() < end) {
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      for (auto& p : fds) {
        if (p.revents == 0) continue;
        const ssize_t got = ::recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
        if (got > 0) bytes += static_cast<std::uint64_t>(got);
      }
    }
    return bytes;
  }

  // Fetches /hello through the other devices in turn for `length`; `between` runs after each fetch.
  FetchStats FetchWhile(Clock::duration length, const std::function<void()>& between) {
    FetchStats s;
    const auto end = Clock::now() + length;
    for (std::size_t i = 0; Clock::now() < end; ++i) {
      const Device& d = devices_[1 + i % 2];
      const auto t0 = Clock::now();
      const std::string err = FetchHello(d, "127.0.0.1");
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (err.empty()) {
        ++s.ok;
        s.ms.push_back(ms);
      } else {
        ++s.failed;
        if (s.first_error.empty()) s.first_error = err;
      }
      if (between) between();
    }
    return s;
  }

  // The connector's relay link never went down, and the relay holds it.
  void ExpectConnectorLinkStayedUp() {
    const std::string log = Log(conn_.process);
    EXPECT_EQ(log.find("link_down"), std::string::npos) << log;
    int ups = 0;
    for (const auto& line : conn_.process->Lines()) ups += line.starts_with("connector link up") ? 1 : 0;
    EXPECT_EQ(ups, 1) << "the connector's relay link came up again";
    EXPECT_EQ(Sample(Scrape(relay_metrics_), R"(strait_relay_links{role="connector"})").value_or(0), 1u);
  }

  Relay relay_;
  HostPort relay_metrics_;
  Connector conn_;
  std::vector<Device> devices_;  // [0] the stalled or slow one, [1] and [2] the others
};

TEST_F(AdversaryStalledDevice, StoppedDeviceCostsOnlyItsOwnStreams) {
  int started = 0;
  std::vector<demo::Connection> downloads = OpenDownloads(devices_[0], &started);
  ASSERT_EQ(downloads.size(), static_cast<std::size_t>(kDownloads));
  ASSERT_GT(started, 0) << "no download started";
  EXPECT_GT(Drain(downloads, seconds(2)), 0u) << "the downloads never flowed";
  devices_[0].process->Signal(SIGSTOP);
  FetchStats s = FetchWhile(kWatch, nullptr);
  devices_[0].process->Signal(SIGCONT);
  std::printf("stalled device (%d of %d downloads started): %d fetches ok, %d failed, p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms\n",
              started, kDownloads, s.ok, s.failed, s.Percentile(0.5), s.Percentile(0.99), s.Percentile(1.0));
  EXPECT_EQ(s.failed, 0) << s.first_error;
  EXPECT_GT(s.ok, 10);
  EXPECT_LE(s.Percentile(1.0), static_cast<double>(kMaxFetch.count()));
  ExpectConnectorLinkStayedUp();
}

TEST_F(AdversaryStalledDevice, SlowReadingDeviceCostsOnlyItsOwnStreams) {
  int started = 0;
  std::vector<demo::Connection> downloads = OpenDownloads(devices_[0], &started);
  ASSERT_EQ(downloads.size(), static_cast<std::size_t>(kDownloads));
  ASSERT_GT(started, 0) << "no download started";
  // The slow reader: 1 KiB from each download between two fetches (a few hundred KiB/s in all).
  std::vector<std::uint8_t> buf(1024);
  auto read_a_little = [&] {
    for (auto& c : downloads) (void)::recv(c.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
  };
  FetchStats s = FetchWhile(kWatch, read_a_little);
  std::printf("slow device (%d of %d downloads started): %d fetches ok, %d failed, p50 %.1f ms, p90 %.1f ms, "
              "max %.1f ms\n",
              started, kDownloads, s.ok, s.failed, s.Percentile(0.5), s.Percentile(0.9), s.Percentile(1.0));
  EXPECT_EQ(s.failed, 0) << s.first_error;
  EXPECT_GT(s.ok, 10);
  EXPECT_LE(s.Percentile(0.9), static_cast<double>(kMaxSlowP90.count()));
  EXPECT_LE(s.Percentile(1.0), static_cast<double>(kMaxFetch.count()));
  ExpectConnectorLinkStayedUp();
}

}  // namespace
}  // namespace strait::e2e
