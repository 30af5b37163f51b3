// The split-DNS stub (tunnel/device/dns_stub.h) on a real loop against two real UDP "servers" on loopback, a fake
// internal resolver and a fake system upstream, each answering one fixed A record: routing by domain, IDs
// restored, SERVFAIL after the timeout, a flood beyond the pending bound, spoofed answers. Every address is
// 127.0.0.1 with a port the kernel picks, so no root is needed (but for the default-address test, which skips).
#include "tunnel/device/dns_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"
#include "tests/device/dns_test_util.h"
#include "tests/runtime/test_util.h"

namespace strait::device {
namespace {

using namespace std::chrono_literals;
using runtime::testing::GuardTimer;
using testing::DnsAnswerA;
using testing::DnsQuery;

constexpr uint32_t kLocalhost = 0x7F000001;

int UdpSocket(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(kLocalhost);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

void SendTo(int fd, const std::vector<uint8_t>& bytes, UdpEndpoint to) {
  const runtime::SocketAddress a = ToSocketAddress(to);
  ASSERT_EQ(sendto(fd, bytes.data(), bytes.size(), 0, a.get(), a.len), static_cast<ssize_t>(bytes.size()));
}

// One datagram within `timeout`, and who sent it.
std::optional<std::vector<uint8_t>> Receive(int fd, std::chrono::milliseconds timeout, UdpEndpoint* from = nullptr) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  std::vector<uint8_t> buf(65536);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  const ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&a), &len);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  if (from != nullptr) *from = UdpEndpoint{ntohl(a.sin_addr.s_addr), ntohs(a.sin_port)};
  return buf;
}

// A fake DNS server on 127.0.0.1: answers every query with one A record, unless told to hold them. `before_answer`
// runs just before each genuine answer (to send spoofs first).
class FakeServer {
 public:
  explicit FakeServer(std::array<uint8_t, 4> address) : address_(address) {
    fd_ = UdpSocket(&port_);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  UdpEndpoint endpoint() const { return {kLocalhost, port_}; }
  uint16_t port() const { return port_; }
  int fd() const { return fd_; }

  void Hold() { hold_ = true; }
  // Answers every query held so far, then goes on answering.
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    hold_ = false;
    release_ = true;
  }
  // Waits until `n` queries have come in (false after 10 s).
  bool WaitForQueries(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, 10s, [&] { return seen_.size() >= n; });
  }
  std::vector<std::vector<uint8_t>> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }
  std::function<void(const std::vector<uint8_t>& query, UdpEndpoint from)> before_answer;

 private:
  void Answer(const std::vector<uint8_t>& q, UdpEndpoint from) {
    if (before_answer) before_answer(q, from);
    uint8_t a[4] = {address_[0], address_[1], address_[2], address_[3]};
    SendTo(fd_, DnsAnswerA(q, a), from);
  }
  void Run() {
    std::vector<std::pair<std::vector<uint8_t>, UdpEndpoint>> held;
    while (!stop_) {
      if (release_.exchange(false)) {
        for (const auto& [q, from] : held) Answer(q, from);
        held.clear();
      }
      UdpEndpoint from;
      auto q = Receive(fd_, 10ms, &from);
      if (!q) continue;
      bool hold = false;
      {
        std::lock_guard<std::mutex> l(mu_);
        seen_.push_back(*q);
        hold = hold_;
      }
      cv_.notify_all();
      if (hold) {
        held.emplace_back(*q, from);
      } else {
        Answer(*q, from);
      }
    }
  }

  const std::array<uint8_t, 4> address_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;                      // guarded by mu_
  std::vector<std::vector<uint8_t>> seen_;  // guarded by mu_
  std::thread thread_;
};

constexpr std::array<uint8_t, 4> kInternalAnswer = {10, 20, 0, 5};
constexpr std::array<uint8_t, 4> kExternalAnswer = {192, 0, 2, 1};

// The A record's address in an answer built by DnsAnswerA (its last 4 bytes).
std::array<uint8_t, 4> AnswerAddress(const std::vector<uint8_t>& answer) {
  std::array<uint8_t, 4> a{};
  if (answer.size() >= 4) std::copy(answer.end() - 4, answer.end(), a.begin());
  return a;
}

struct Harness {
  std::unique_ptr<runtime::EventLoop> loop;
  std::unique_ptr<DnsStub> stub;
  UdpEndpoint stub_at;

  explicit Harness(DnsStubOptions options) {
    runtime::LoopOptions lo;
    lo.recv_buffer_count = 64;
    lo.plain_buffer_count = 64;
    auto l = runtime::EventLoop::Create(lo);
    if (!l) return;
    loop = std::move(*l);
    if (!options.listen) options.listen = runtime::ParseSocketAddress("127.0.0.1:0").value();
    auto s = DnsStub::Start(*loop, options);
    EXPECT_TRUE(s) << (s ? "" : s.error());
    if (!s) return;
    stub = std::move(*s);
    stub_at = *ToUdpEndpoint(stub->address());
  }
  // Runs the loop while `client` runs on another thread; stops when it returns.
  void Run(const std::function<void()>& client) {
    GuardTimer guard(*loop, 30s);
    std::thread t([&] {
      client();
      loop->RequestStop();
    });
    loop->Run();
    t.join();
    EXPECT_FALSE(guard.fired);
  }
};

DnsStubOptions Options(const FakeServer& internal, const FakeServer& upstream) {
  DnsStubOptions o;
  o.upstreams = {upstream.endpoint()};
  o.internal_port = internal.port();
  return o;
}

TEST(DnsStub, CorpNamesGoToTheInternalServerOthersUpstreamWithTheirIds) {
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  Harness h(Options(internal, upstream));
  ASSERT_TRUE(h.stub);
  const std::vector<uint32_t> servers = {kLocalhost};
  const std::vector<std::string> domains = {"corp.example"};
  h.stub->Update(servers, domains);
  uint16_t port = 0;
  const int client = UdpSocket(&port);
  h.Run([&] {
    SendTo(client, DnsQuery(0xAAAA, "db.Corp.Example"), h.stub_at);
    auto a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(DnsId(*a), 0xAAAA);
    EXPECT_EQ(AnswerAddress(*a), kInternalAnswer);

    SendTo(client, DnsQuery(0xBBBB, "www.example.com"), h.stub_at);
    a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(DnsId(*a), 0xBBBB);
    EXPECT_EQ(AnswerAddress(*a), kExternalAnswer);

    // A malformed datagram gets nothing; the next query still works.
    SendTo(client, std::vector<uint8_t>{1, 2, 3}, h.stub_at);
    SendTo(client, DnsQuery(0xCCCC, "xcorp.example"), h.stub_at);
    a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(DnsId(*a), 0xCCCC);
    EXPECT_EQ(AnswerAddress(*a), kExternalAnswer) << "not under corp.example";
  });
  close(client);
  ASSERT_EQ(internal.seen().size(), 1u);
  ASSERT_EQ(upstream.seen().size(), 2u);
  DnsMessage m;
  ASSERT_EQ(ParseDnsMessage(internal.seen()[0], &m), DnsParse::kOk);
  EXPECT_EQ(m.name(), "db.corp.example");
  const DnsStubStats& s = h.stub->stats();
  EXPECT_EQ(s.queries, 4u);
  EXPECT_EQ(s.internal, 1u);
  EXPECT_EQ(s.external, 2u);
  EXPECT_EQ(s.answers, 3u);
  EXPECT_EQ(s.malformed, 1u);
  EXPECT_EQ(h.stub->pending(), 0u);
}

TEST(DnsStub, AQueryNobodyAnswersGetsServFailAfterTheTimeout) {
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  upstream.Hold();
  DnsStubOptions o = Options(internal, upstream);
  o.timeout = 200ms;
  Harness h(o);
  ASSERT_TRUE(h.stub);
  uint16_t port = 0;
  const int client = UdpSocket(&port);
  h.Run([&] {
    const auto start = std::chrono::steady_clock::now();
    SendTo(client, DnsQuery(0x1234, "slow.example"), h.stub_at);
    auto a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
    DnsMessage m;
    ASSERT_EQ(ParseDnsMessage(*a, &m), DnsParse::kOk);
    EXPECT_EQ(m.id, 0x1234);
    EXPECT_EQ(m.rcode(), kDnsRcodeServFail);
    EXPECT_EQ(m.name(), "slow.example");
  });
  close(client);
  EXPECT_EQ(h.stub->stats().timeouts, 1u);
  EXPECT_EQ(h.stub->pending(), 0u);
}

TEST(DnsStub, AFloodBeyondThePendingBoundStaysBoundedAndLaterQueriesWork) {
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  upstream.Hold();
  DnsStubOptions o = Options(internal, upstream);
  o.max_pending = 16;
  Harness h(o);
  ASSERT_TRUE(h.stub);
  uint16_t port = 0;
  const int client = UdpSocket(&port);
  constexpr uint16_t kFlood = 100;  // well inside the default socket receive buffers
  std::vector<uint16_t> answered;
  h.Run([&] {
    // Each its own name: an answer to a dropped query must not fit a later one that drew its freed ID.
    for (uint16_t i = 0; i < kFlood; ++i) {
      SendTo(client, DnsQuery(i, "flood-" + std::to_string(i) + ".example"), h.stub_at);
    }
    ASSERT_TRUE(upstream.WaitForQueries(kFlood)) << "every query was forwarded";
    upstream.Release();  // answers all 100; only the 16 still pending get through
    for (;;) {
      auto a = Receive(client, 1s);
      if (!a) break;
      answered.push_back(DnsId(*a));
    }
    SendTo(client, DnsQuery(0x7777, "after.example"), h.stub_at);
    auto a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(DnsId(*a), 0x7777);
    EXPECT_EQ(AnswerAddress(*a), kExternalAnswer);
  });
  close(client);
  ASSERT_EQ(answered.size(), 16u);
  for (size_t i = 0; i < answered.size(); ++i) EXPECT_EQ(answered[i], kFlood - 16 + i) << "the newest 16: " << ::testing::PrintToString(answered);
  const DnsStubStats& s = h.stub->stats();
  EXPECT_EQ(s.full, kFlood - 16u);
  EXPECT_EQ(s.spoofed, kFlood - 16u) << "answers to dropped queries no longer match";
  EXPECT_EQ(s.answers, 17u);
  EXPECT_EQ(h.stub->pending(), 0u);
}

TEST(DnsStub, SpoofedAnswersAreDroppedAndCounted) {
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  uint16_t spoof_port = 0;
  const int spoofer = UdpSocket(&spoof_port);
  // Before each genuine answer: the right ID from the wrong port, and a wrong ID from the right one.
  upstream.before_answer = [&](const std::vector<uint8_t>& q, UdpEndpoint from) {
    const uint8_t evil[4] = {6, 6, 6, 6};
    SendTo(spoofer, DnsAnswerA(q, evil), from);
    std::vector<uint8_t> wrong_id = DnsAnswerA(q, evil);
    SetDnsId(wrong_id, static_cast<uint16_t>(DnsId(q) ^ 0x8000));
    SendTo(upstream.fd(), wrong_id, from);
  };
  Harness h(Options(internal, upstream));
  ASSERT_TRUE(h.stub);
  uint16_t port = 0;
  const int client = UdpSocket(&port);
  h.Run([&] {
    SendTo(client, DnsQuery(0x4242, "bank.example"), h.stub_at);
    auto a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(DnsId(*a), 0x4242);
    EXPECT_EQ(AnswerAddress(*a), kExternalAnswer) << "the genuine answer, not a spoof";
    EXPECT_FALSE(Receive(client, 300ms)) << "nothing else reaches the asker";
  });
  close(client);
  close(spoofer);
  EXPECT_EQ(h.stub->stats().spoofed, 2u);
  EXPECT_EQ(h.stub->stats().answers, 1u);
}

// Calls DnsStub::Update on the loop thread when a message comes, then lets the client go on.
struct UpdateOnMessage final : runtime::MessageHandler {
  DnsStub* stub = nullptr;
  std::vector<uint32_t> servers;
  std::vector<std::string> domains;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  void OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& /*msg*/) override {
    stub->Update(servers, domains);
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, 10s, [&] { return done; });
  }
};

TEST(DnsStub, UpdateMovesADomainToTheInternalServers) {
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  Harness h(Options(internal, upstream));
  ASSERT_TRUE(h.stub);
  UpdateOnMessage update;
  update.stub = h.stub.get();
  update.servers = {kLocalhost};
  update.domains = {"corp.example"};
  h.loop->SetMessageHandler(&update);
  uint16_t port = 0;
  const int client = UdpSocket(&port);
  h.Run([&] {
    SendTo(client, DnsQuery(1, "db.corp.example"), h.stub_at);
    auto a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(AnswerAddress(*a), kExternalAnswer) << "no TUNNEL_CONFIG yet";
    ASSERT_TRUE(h.loop->Post(runtime::Message{}));
    ASSERT_TRUE(update.Wait());
    SendTo(client, DnsQuery(2, "db.corp.example"), h.stub_at);
    a = Receive(client, 5s);
    ASSERT_TRUE(a);
    EXPECT_EQ(AnswerAddress(*a), kInternalAnswer);
  });
  close(client);
  EXPECT_EQ(h.stub->stats().internal, 1u);
  EXPECT_EQ(h.stub->stats().external, 1u);
}

// What docs/device.md tells a person to run (`dig @127.0.0.53 name`), here against the test's port. Skipped
// without dig.
TEST(DnsStub, DigGetsTheInternalAnswerThroughTheStub) {
  if (std::system("dig -v >/dev/null 2>&1") != 0) GTEST_SKIP() << "no dig here";
  FakeServer internal(kInternalAnswer), upstream(kExternalAnswer);
  Harness h(Options(internal, upstream));
  ASSERT_TRUE(h.stub);
  const std::vector<uint32_t> servers = {kLocalhost};
  const std::vector<std::string> domains = {"corp.example"};
  h.stub->Update(servers, domains);
  std::string out;
  h.Run([&] {
    const std::string cmd = "dig @127.0.0.1 -p " + std::to_string(h.stub_at.port) +
                            " +short +tries=1 +time=5 intranet.Corp.Example A 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[256];
    while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
  });
  EXPECT_EQ(out, "10.20.0.5\n");
  EXPECT_EQ(h.stub->stats().internal, 1u);
  EXPECT_EQ(h.stub->stats().answers, 1u);
}

TEST(DnsStub, RefusesANonLoopbackListenAddress) {
  auto l = runtime::EventLoop::Create(runtime::LoopOptions{});
  ASSERT_TRUE(l);
  DnsStubOptions o;
  o.listen = runtime::ParseSocketAddress("0.0.0.0:0").value();
  auto s = DnsStub::Start(**l, o);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("loopback"), std::string::npos) << s.error();
}

TEST(DnsStub, TheDefaultAddressFallsBackTo127_0_0_54WhenTaken) {
  // 127.0.0.53:53 held by "someone else" (this test); binding port 53 needs root or CAP_NET_BIND_SERVICE.
  const int other = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const runtime::SocketAddress taken = runtime::ParseSocketAddress("127.0.0.53:53").value();
  if (bind(other, taken.get(), taken.len) != 0) {
    const int err = errno;
    close(other);
    GTEST_SKIP() << "cannot bind 127.0.0.53:53 here (" << std::strerror(err) << ")";
  }
  auto l = runtime::EventLoop::Create(runtime::LoopOptions{});
  ASSERT_TRUE(l);
  auto s = DnsStub::Start(**l, DnsStubOptions{});
  close(other);
  if (!s && s.error().find("127.0.0.54:53") != std::string::npos) {
    GTEST_SKIP() << "127.0.0.54:53 is taken too: " << s.error();
  }
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ((*s)->address().ToString(), "127.0.0.54:53");
}

}  // namespace
}  // namespace strait::device
