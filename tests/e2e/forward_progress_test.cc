// Forward progress under many parallel downloads (issue 12): real relay (2 shards), connector and device
// processes on loopback. 16, 64 and 256 parallel downloads through one device, then the same spread over 8
// devices, while another device of the same tenant fetches 2 KiB once a second. Fails if the downloads as a whole
// stop moving for more than 3 s, if any download gets less than an eighth of an even share of a phase's bytes, or
// if fewer than 95% of the small fetches succeed. Run once with the connector's defaults and once with its receive
// pool made small on purpose (--loop-recv-buffers), so the bound is tested where it bites.
//
// Bounded: each phase runs kPhase (STRAIT_FORWARD_PROGRESS_SECONDS overrides it), six phases per case.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "tests/e2e/e2e_harness.h"

namespace strait::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kDownloadDevices = 8;
constexpr milliseconds kMaxGap{3000};
constexpr seconds kHeaderWait{30};
constexpr double kMinProbeSuccess = 0.95;
constexpr uint64_t kEndless = 1ull << 40;  // /stream/N: never finishes within a phase

milliseconds PhaseLength() {
  if (const char* s = std::getenv("STRAIT_FORWARD_PROGRESS_SECONDS")) return seconds(std::max(1, std::atoi(s)));
  return seconds(6);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What one phase of parallel downloads saw.
struct PhaseResult {
  uint64_t bytes = 0;
  Clock::duration max_gap{};       // longest time in which no download received a byte
  uint64_t starved_streams = 0;    // downloads that received no body byte
  std::string starved;             // the first few of them: "index (what arrived)"
  uint64_t least_body = 0;         // body bytes of the download that got the fewest
  std::string error;               // a download that failed (bad status, early EOF, socket error)
};

// N downloads of an endless body through the SOCKS5 doors of `devices` (round-robin), read with poll() on one
// thread for `length`.
PhaseResult RunDownloads(const std::vector<Device>& devices, int streams, uint16_t http_port, milliseconds length) {
  PhaseResult r;
  struct Stream {
    demo::Connection conn;
    std::string head;
    bool header_done = false;
    uint64_t body = 0;
  };
  std::vector<Stream> s(static_cast<std::size_t>(streams));
  const auto open_deadline = Clock::now() + seconds(60);
  for (int i = 0; i < streams; ++i) {
    const Device& d = devices[static_cast<std::size_t>(i) % devices.size()];
    auto c = demo::Connection::ViaSocks5(d.socks, "127.0.0.1", http_port, open_deadline);
    if (!c) {
      r.error = fmt::format("download {}: {}", i, c.error());
      return r;
    }
    s[static_cast<std::size_t>(i)].conn = std::move(c).value();
  }
  const std::string req = fmt::format("GET /stream/{} HTTP/1.1\r\nHost: internal\r\n\r\n", kEndless);
  for (auto& st : s) {
    auto w = st.conn.WriteAll(std::span(reinterpret_cast<const uint8_t*>(req.data()), req.size()), open_deadline);
    if (!w) {
      r.error = "request: " + w.error();
      return r;
    }
  }
  std::vector<pollfd> fds(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) fds[i] = {s[i].conn.fd(), POLLIN, 0};
  std::vector<uint8_t> buf(256 * 1024);
  // Reads what is ready; false (r.error set) on a failed download. Counts bytes and the time since the last one.
  size_t headers = 0;
  auto last_progress = Clock::now();
  auto read_ready = [&](Clock::time_point now) {
    const int n = ::poll(fds.data(), fds.size(), 100);
    if (n <= 0) return true;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t got = ::recv(fds[i].fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        r.error = fmt::format("download {} ended after {} body bytes ({})", i, s[i].body,
                              got == 0 ? "EOF" : std::strerror(errno));
        return false;
      }
      last_progress = now;
      r.bytes += static_cast<uint64_t>(got);
      Stream& st = s[i];
      std::size_t body_from = 0;
      if (!st.header_done) {
        st.head.append(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(got));
        const auto end = st.head.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        if (!st.head.starts_with("HTTP/1.1 200")) {
          r.error = fmt::format("download {}: {}", i, st.head.substr(0, st.head.find('\r')));
          return false;
        }
        st.header_done = true;
        ++headers;
        body_from = static_cast<std::size_t>(got) - (st.head.size() - end - 4);
      }
      st.body += static_cast<uint64_t>(got) - body_from;
    }
    return true;
  };
  // The phase starts once every download has its response header (or after kHeaderWait): on a loaded machine the
  // last of 256 opens can take seconds, which is open latency, not a download that stopped. A download that has
  // no header by then still counts as starved below.
  const auto header_deadline = Clock::now() + kHeaderWait;
  while (headers < s.size() && Clock::now() < header_deadline) {
    if (!read_ready(Clock::now())) return r;
  }
  r.bytes = 0;  // the phase counts only what arrives in it
  for (Stream& st : s) st.body = 0;
  const auto start = Clock::now();
  last_progress = start;
  while (Clock::now() - start < length) {
    const auto now = Clock::now();
    if (!read_ready(now)) return r;
    r.max_gap = std::max(r.max_gap, now - last_progress);
  }
  r.least_body = UINT64_MAX;
  for (std::size_t i = 0; i < s.size(); ++i) {
    r.least_body = std::min(r.least_body, s[i].body);
    if (s[i].body > 0) continue;
    if (++r.starved_streams <= 8) {
      r.starved += fmt::format("{}{} ({})", r.starved.empty() ? "" : ", ", i,
                               s[i].head.empty() ? "nothing" : s[i].header_done ? "the header only" : "part of the header");
    }
  }
  return r;
}

// Fetches GET /bytes/2048 through `device` once a second (a fresh stream each time) until stopped.
class Prober {
 public:
  Prober(const Device& device, uint16_t http_port) : device_(device), port_(http_port) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Prober() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int attempts() const { return attempts_; }
  int successes() const { return successes_; }
  double worst_ms() const { return worst_ms_; }
  const std::string& last_error() const { return last_error_; }

 private:
  void Run() {
    while (!stop_) {
      const auto start = Clock::now();
      ++attempts_;
      const std::string err = FetchOnce(start + seconds(5));
      const double ms = Ms(Clock::now() - start);
      if (err.empty()) {
        ++successes_;
        worst_ms_ = std::max(worst_ms_, ms);
      } else {
        last_error_ = fmt::format("{} after {:.0f} ms", err, ms);
      }
      while (!stop_ && Clock::now() - start < seconds(1)) std::this_thread::sleep_for(milliseconds(20));
    }
  }
  std::string FetchOnce(Clock::time_point deadline) {
    auto c = demo::Connection::ViaSocks5(device_.socks, "127.0.0.1", port_, deadline);
    if (!c) return c.error();
    auto r = demo::HttpGet(*c, "internal", "/bytes/2048", deadline);
    if (!r) return r.error();
    if (r->status != 200 || r->body_bytes != 2048) return fmt::format("status {} bytes {}", r->status, r->body_bytes);
    return "";
  }

  const Device& device_;
  const uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // Written by the prober thread, read after Stop().
  int attempts_ = 0;
  int successes_ = 0;
  double worst_ms_ = 0;
  std::string last_error_;
};

class ForwardProgress : public E2eTest {
 protected:
  void Run(const std::vector<std::string>& connector_flags) {
    MakeOperator();
    const std::string conn_id = MakeIdentity("connector", "acme", "conn-1");
    Relay relay = StartRelay(2);
    ASSERT_NE(relay.process, nullptr);
    Connector conn = StartConnector(conn_id, {relay.connector}, false, connector_flags);
    WaitConnectorLinkUp(conn);
    std::vector<Device> downloaders;
    for (int i = 0; i < kDownloadDevices; ++i) {
      downloaders.push_back(StartDevice(MakeIdentity("device", "acme", fmt::format("dev-{}", i)), relay.device));
      WaitSessionUp(downloaders.back());
    }
    Device probe = StartDevice(MakeIdentity("device", "acme", "probe"), relay.device);
    WaitSessionUp(probe);
    ASSERT_FALSE(HasFailure());

    const milliseconds length = PhaseLength();
    Prober prober(probe, http_port());
    for (const int devices : {1, kDownloadDevices}) {
      const std::vector<Device> used(downloaders.begin(), downloaders.begin() + devices);
      for (const int streams : {16, 64, 256}) {
        const PhaseResult r = RunDownloads(used, streams, http_port(), length);
        const double secs = std::chrono::duration<double>(length).count();
        std::printf("[ phase    ] %3d downloads over %d device(s): %7.1f MB/s, longest stop %6.0f ms, least %8.1f KB, "
                    "%llu starved\n",
                    streams, devices, static_cast<double>(r.bytes) / secs / 1e6, Ms(r.max_gap),
                    static_cast<double>(r.least_body) / 1e3, static_cast<unsigned long long>(r.starved_streams));
        EXPECT_EQ(r.error, "") << streams << " downloads over " << devices << " device(s)";
        EXPECT_LE(r.max_gap, kMaxGap) << "forwarding stopped: " << streams << " downloads over " << devices
                                      << " device(s)";
        // Every download moves: the streams of one session take turns (StreamMux::NotifyWritable), and the sessions
        // of one link take turns (Connector::OnSendQueueLow).
        EXPECT_EQ(r.starved_streams, 0u) << streams << " downloads over " << devices << " device(s) got no body byte: "
                                         << r.starved;
        // ... and in turns: the download that got the least still got an eighth of an even share.
        EXPECT_GE(r.least_body * 8, r.bytes / static_cast<uint64_t>(streams))
            << streams << " downloads over " << devices << " device(s)";
        EXPECT_GT(r.bytes, 0u);
      }
    }
    prober.Stop();
    std::printf("[ probe    ] %d of %d small fetches succeeded, slowest %.0f ms %s\n", prober.successes(),
                prober.attempts(), prober.worst_ms(), prober.last_error().c_str());
    ASSERT_GT(prober.attempts(), 0);
    EXPECT_GE(prober.successes(), kMinProbeSuccess * prober.attempts()) << "last failure: " << prober.last_error();
  }
};

TEST_F(ForwardProgress, ParallelDownloadsNeverStopTheTenant) { Run({}); }

// 128 receive buffers of 16 KiB (2 MiB) in the connector's loop: less than two stream windows, so streams that
// read ahead would take the whole pool at once if nothing bounded what they hold.
TEST_F(ForwardProgress, ParallelDownloadsNeverStopTheTenantWithASmallConnectorPool) {
  Run({"--loop-recv-buffers", "128"});
}

}  // namespace
}  // namespace strait::e2e
