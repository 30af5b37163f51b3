// The subscriber (tunnel/control/subscriber.h) against a scripted TLS 1.3 server in a thread of the test: snapshot
// first, then the stream with after=as_of and a credential proof bound to that connection; a reconnect resumes
// from the last id seen (heartbeats included); 410 takes a new snapshot; 403 *-revoked stops it for good; a
// stream that is silent past the read timeout, or badly chunked, is dropped and retried; Stop() returns at once
// while the thread is blocked in a read.
#include "tunnel/control/subscriber.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sodium.h>

#include "crypto/credential.h"
#include "crypto/tls_context.h"
#include "crypto/tls_session.h"
#include "crypto/x509_issue.h"
#include "tunnel/control/snapshot.h"

namespace strait::control {
namespace {

using namespace std::chrono_literals;

struct Pki {
  crypto::PemCertificate ca = crypto::GenerateCa({}).value();
  crypto::PemCertificate leaf;
  Pki() {
    crypto::LeafOptions lo;
    lo.ip_addresses = {"127.0.0.1"};
    leaf = crypto::IssueLeafCertificate(ca, lo).value();
  }
};

// One accepted, handshaken connection of the scripted server.
class Conn {
 public:
  Conn(int fd, crypto::TlsSession* s) : fd_(fd), s_(s) {}
  void Send(std::string_view plain) {
    std::vector<uint8_t> out;
    (void)s_->Send({reinterpret_cast<const uint8_t*>(plain.data()), plain.size()}, out);
    (void)!send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
  }
  void Chunk(std::string_view data) { Send(fmt::format("{:x}\r\n{}\r\n", data.size(), data)); }
  // Waits up to `d` for the client to go away; true if it did.
  bool WaitClosed(std::chrono::milliseconds d) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(d.count())) <= 0) return false;
    char b[512];
    return recv(fd_, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT) <= 0;
  }
  const std::array<uint8_t, 32>& exporter() const { return exporter_; }
  std::array<uint8_t, 32> exporter_{};

 private:
  int fd_;
  crypto::TlsSession* s_;
};

// Accepts connections one after another; each request (its head) goes to `script(index, request, conn)`.
class ScriptedServer {
 public:
  using Script = std::function<void(size_t index, const std::string& request, Conn& conn)>;
  ScriptedServer(const Pki& pki, Script script) : script_(std::move(script)) {
    ctx_.emplace(crypto::TlsContext::CreateServer({pki.leaf.cert_pem, pki.leaf.key_pem}).value());
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    EXPECT_EQ(getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  std::string url() const { return fmt::format("https://127.0.0.1:{}", port_); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::array<uint8_t, 32>> exporters() {
    std::lock_guard lock(mu_);
    return exporters_;
  }

 private:
  void Serve() {
    for (size_t index = 0;; ++index) {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      auto session = crypto::TlsSession::Create(*ctx_).value();
      std::vector<uint8_t> out;
      (void)session.Start(out);
      std::string plain;
      std::array<uint8_t, 16384> buf{};
      while (plain.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        std::vector<uint8_t> p;
        if (!session.Receive({buf.data(), static_cast<size_t>(n)}, p, out)) break;
        if (!out.empty()) {
          (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL);
          out.clear();
        }
        plain.append(p.begin(), p.end());
      }
      if (plain.find("\r\n\r\n") != std::string::npos) {
        Conn conn(fd, &session);
        (void)session.ExportKeyingMaterial(wire::kControlExporterLabel, {}, conn.exporter_);
        {
          std::lock_guard lock(mu_);
          requests_.push_back(plain);
          exporters_.push_back(conn.exporter_);
        }
        script_(index, plain, conn);
        (void)session.Close(out);
        (void)!send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      }
      close(fd);
    }
  }

  Script script_;
  std::optional<crypto::TlsContext> ctx_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::array<uint8_t, 32>> exporters_;
  std::thread thread_;
};

std::string Answer(unsigned status, std::string_view type, std::string_view body) {
  return fmt::format("HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                     type, body.size(), body);
}
std::string Problem(unsigned status, std::string_view name) {
  return Answer(status, "application/problem+json",
                fmt::format(R"({{"type":"urn:strait:problem:{}","title":"t","status":{},"detail":"{} detail"}})", name,
                            status, name));
}
std::string Snapshot(uint64_t as_of) {
  return Answer(200, "application/json",
                fmt::format(R"({{"as_of":"{}","denied":[],"suspended_tenants":[],"revoked_relays":[]}})", as_of));
}
constexpr std::string_view kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
std::string Revoked(uint64_t id, std::string_view device) {
  return fmt::format(R"({{"id":"{}","at":"2025-06-01T12:00:00Z","type":"device.revoked","tenant":"acme",)"
                     R"("device":"{}","until":"2099-01-01T00:00:00Z"}})"
                     "\n",
                     id, device);
}

// Records what the subscriber hands over.
class Recorder : public SubscriberHandler {
 public:
  Result<uint64_t, std::string> OnSnapshot(std::string_view body) override {
    auto s = DecodeRelaySnapshot(body);
    if (!s) return Fail(s.error().reason);
    std::lock_guard lock(mu_);
    snapshots_.push_back(s->as_of);
    cv_.notify_all();
    return s->as_of;
  }
  SubscriberVerdict OnEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e.id * 10 + (e.type == EventType::kHeartbeat ? 1 : 0));
    cv_.notify_all();
    return stop_at_ == e.id ? SubscriberVerdict::kStop : SubscriberVerdict::kContinue;
  }
  void OnStatus(const SubscriberStatus& s) override {
    std::lock_guard lock(mu_);
    states_.push_back(s.state);
    reasons_.push_back(s.reason);
    cv_.notify_all();
  }
  bool WaitFor(std::function<bool()> pred, std::chrono::milliseconds d = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return pred(); });
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<uint64_t> snapshots_;
  std::vector<uint64_t> events_;  // id*10, +1 for a heartbeat
  std::vector<SubscriberState> states_;
  std::vector<std::string> reasons_;
  uint64_t stop_at_ = 0;
};

struct Identity {
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  std::vector<uint8_t> credential = {1, 2, 3, 4, 5};  // opaque here: the server below only checks the proof
};

SubscriberOptions Options(const Pki& pki, const ScriptedServer& server) {
  SubscriberOptions o;
  o.url = server.url();
  o.ca_pem = pki.ca.cert_pem;
  o.snapshot_target = "/v1/relays/relay-1/snapshot";
  o.events_target = "/v1/relays/relay-1/events";
  o.role = crypto::Role::kRelay;
  o.connect_timeout = 5s;
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

// "Strait-Credential cred=..., proof=..." verifies for this connection's exporter.
bool ProofVerifies(const std::string& request, const std::array<uint8_t, 32>& exporter, const Identity& id) {
  const std::string marker = "Authorization: Strait-Credential cred=";
  const size_t at = request.find(marker);
  if (at == std::string::npos) return false;
  const size_t proof_at = request.find(", proof=", at);
  const size_t eol = request.find("\r\n", at);
  if (proof_at == std::string::npos || eol == std::string::npos) return false;
  const std::string proof_b64 = request.substr(proof_at + 8, eol - proof_at - 8);
  std::array<uint8_t, 64> sig_bytes{};
  size_t len = 0;
  if (sodium_base642bin(sig_bytes.data(), sig_bytes.size(), proof_b64.data(), proof_b64.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 || len != 64) {
    return false;
  }
  crypto::Ed25519Signature sig;
  if (!crypto::Ed25519Signature::FromSpan(sig_bytes, &sig)) return false;
  const std::string msg = wire::ControlProofMessage("relay", exporter);
  return crypto::Ed25519Verify(id.key.public_key, {reinterpret_cast<const uint8_t*>(msg.data()), msg.size()}, sig);
}

std::string Target(const std::string& request) { return request.substr(4, request.find(' ', 4) - 4); }

TEST(Subscriber, SnapshotFollowResumeExpireRevoke) {
  Pki pki;
  Identity id;
  ScriptedServer server(pki, [](size_t i, const std::string&, Conn& c) {
    switch (i) {
      case 0: c.Send(Snapshot(5)); break;
      case 1:  // events after=5: one event, a heartbeat, the end of the stream
        c.Send(kStreamHead);
        c.Chunk(Revoked(6, "d-1"));
        c.Chunk(R"({"type":"heartbeat","id":"9"})" "\n");
        c.Send("0\r\n\r\n");
        break;
      case 2: c.Send(Problem(410, "events-expired")); break;  // after=9: too old
      case 3: c.Send(Snapshot(20)); break;
      case 4:  // after=20: an event split across two chunks
        c.Send(kStreamHead);
        c.Chunk(Revoked(21, "d-2").substr(0, 30));
        c.Chunk(Revoked(21, "d-2").substr(30));
        c.Send("0\r\n\r\n");
        break;
      default: c.Send(Problem(403, "relay-revoked")); break;
    }
  });
  Recorder rec;
  auto sub = Subscriber::Create(Options(pki, server), id.credential, id.key, &rec).value();
  sub->Start();
  ASSERT_TRUE(rec.WaitFor([&] { return !rec.states_.empty() && rec.states_.back() == SubscriberState::kRevoked; }));
  // The thread ends on its own after a revocation.
  for (int i = 0; i < 200 && !sub->finished(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(sub->finished());
  sub->Stop();

  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(Target(reqs[0]), "/v1/relays/relay-1/snapshot");
  EXPECT_EQ(Target(reqs[1]), "/v1/relays/relay-1/events?after=5");
  EXPECT_EQ(Target(reqs[2]), "/v1/relays/relay-1/events?after=9");  // the heartbeat moved the resume point
  EXPECT_EQ(Target(reqs[3]), "/v1/relays/relay-1/snapshot");
  EXPECT_EQ(Target(reqs[4]), "/v1/relays/relay-1/events?after=20");
  EXPECT_EQ(Target(reqs[5]), "/v1/relays/relay-1/events?after=21");
  const auto exporters = server.exporters();
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_TRUE(ProofVerifies(reqs[i], exporters[i], id)) << i;
  // A proof is bound to its connection: request 1's proof does not verify with request 0's exporter.
  EXPECT_FALSE(ProofVerifies(reqs[1], exporters[0], id));

  std::lock_guard lock(rec.mu_);
  EXPECT_EQ(rec.snapshots_, (std::vector<uint64_t>{5, 20}));
  EXPECT_EQ(rec.events_, (std::vector<uint64_t>{60, 91, 210}));
  const auto c = sub->counters();
  EXPECT_EQ(c.snapshots, 2u);
  EXPECT_EQ(c.events, 2u);
  EXPECT_EQ(c.heartbeats, 1u);
  EXPECT_EQ(c.resume_point, 21u);
  EXPECT_NE(rec.reasons_.back().find("relay-revoked"), std::string::npos) << rec.reasons_.back();
}

TEST(Subscriber, SilentStreamBadChunkingAndRefusedSnapshotAreRetried) {
  Pki pki;
  Identity id;
  ScriptedServer server(pki, [](size_t i, const std::string&, Conn& c) {
    switch (i) {
      case 0: c.Send(Answer(200, "application/json", R"({"as_of":"nope"})")); break;  // refused by the handler
      case 1: c.Send(Problem(503, "overloaded")); break;
      case 2: c.Send(Snapshot(7)); break;
      case 3:  // silent past the read timeout: the client goes away
        c.Send(kStreamHead);
        EXPECT_TRUE(c.WaitClosed(5s));
        break;
      case 4:  // bad chunking
        c.Send(kStreamHead);
        c.Send("zz\r\nhello\r\n");
        break;
      case 5:  // a line that does not decode ends the stream; the event before it counts
        c.Send(kStreamHead);
        c.Chunk(Revoked(8, "d-1"));
        c.Chunk("not json\n");
        break;
      default:
        c.Send(kStreamHead);
        c.Chunk(Revoked(9, "d-1"));
        EXPECT_TRUE(c.WaitClosed(10s));
        break;
    }
  });
  Recorder rec;
  rec.stop_at_ = 9;
  SubscriberOptions o = Options(pki, server);
  o.read_timeout = 300ms;
  auto sub = Subscriber::Create(o, id.credential, id.key, &rec).value();
  sub->Start();
  ASSERT_TRUE(rec.WaitFor([&] { return !rec.states_.empty() && rec.states_.back() == SubscriberState::kStopped; }));
  sub->Stop();
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 7u);
  EXPECT_EQ(Target(reqs[3]), "/v1/relays/relay-1/events?after=7");
  EXPECT_EQ(Target(reqs[4]), "/v1/relays/relay-1/events?after=7");
  EXPECT_EQ(Target(reqs[5]), "/v1/relays/relay-1/events?after=7");
  EXPECT_EQ(Target(reqs[6]), "/v1/relays/relay-1/events?after=8");
  std::lock_guard lock(rec.mu_);
  EXPECT_EQ(rec.events_, (std::vector<uint64_t>{80, 90}));
  const auto c = sub->counters();
  EXPECT_EQ(c.bad_lines, 1u);
  EXPECT_GE(c.failures, 5u);
  auto said = [&](std::string_view what) {
    for (const auto& r : rec.reasons_) {
      if (r.find(what) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(said("snapshot refused"));
  EXPECT_TRUE(said("503 overloaded"));
  EXPECT_TRUE(said("silent"));
  EXPECT_TRUE(said("stream:"));  // the chunk decoder's error
  EXPECT_TRUE(said("bad_line"));
}

TEST(Subscriber, StopReturnsWhileBlockedInARead) {
  Pki pki;
  Identity id;
  ScriptedServer server(pki, [](size_t i, const std::string&, Conn& c) {
    if (i == 0) {
      c.Send(Snapshot(1));
      return;
    }
    c.Send(kStreamHead);
    EXPECT_TRUE(c.WaitClosed(10s));
  });
  Recorder rec;
  auto sub = Subscriber::Create(Options(pki, server), id.credential, id.key, &rec).value();
  sub->Start();
  ASSERT_TRUE(rec.WaitFor([&] { return !rec.states_.empty() && rec.states_.back() == SubscriberState::kFollowing; }));
  const auto t0 = std::chrono::steady_clock::now();
  sub->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // the read timeout is 45 s: only the eventfd ends it
  EXPECT_FALSE(sub->finished());
}

TEST(Subscriber, CreateRefusesBadOptions) {
  Identity id;
  Recorder rec;
  SubscriberOptions o;
  o.url = "http://x";
  o.ca_pem = "x";
  o.snapshot_target = o.events_target = "/";
  EXPECT_FALSE(Subscriber::Create(o, id.credential, id.key, &rec).ok());
  o.url = "https://127.0.0.1:1";
  o.ca_pem.clear();
  EXPECT_FALSE(Subscriber::Create(o, id.credential, id.key, &rec).ok());
}

}  // namespace
}  // namespace strait::control
