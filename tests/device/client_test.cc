// DeviceClient on its loop (no SDK): what the relay's refusals and drains do to the link and the session.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "tests/device/device_test_util.h"

namespace strait::device {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): test helpers

// Records stream resets (loop thread).
struct Handler : ClientStreamHandler {
  std::atomic<bool> reset{false};
  std::atomic<int> code{0};
  void OnStreamOpened(StreamToken) override {}
  void OnStreamData(StreamToken, std::span<const std::uint8_t>) override {}
  void OnStreamFin(StreamToken) override {}
  void OnStreamWritable(StreamToken) override {}
  void OnStreamReset(StreamToken, tunnel::ErrorCode c, bool) override {
    code = static_cast<int>(c);
    reset = true;
  }
};

struct ClientWorld {
  Pki pki;
  LoopThread loop;
  FakeConnector* connector = nullptr;
  std::unique_ptr<DeviceClient> client;

  explicit ClientWorld(std::chrono::milliseconds open_wait = 10s) {
    loop.Call([&] {
      connector = new FakeConnector(loop.loop(), pki, TestServerTls());
      ClientOptions o;
      o.identity = pki.Device();
      o.relay = connector->address;
      o.min_backoff = 10ms;
      o.max_backoff = 80ms;
      o.open_wait_timeout = open_wait;
      client = DeviceClient::Create(loop.loop(), std::move(o)).value();
      loop.AtExit([this] {
        client.reset();
        delete connector;
      });
    });
  }
  ~ClientWorld() {
    loop.Call([this] { client->Stop(); });
    loop.Stop();
  }
  template <class T>
  T Get(std::function<T()> fn) {
    T v{};
    loop.Call([&] { v = fn(); });
    return v;
  }
};

TEST(DeviceClient, NoConnectorRetriesWithBackoffAndWaitingOpensFail) {
  ClientWorld w(400ms);
  w.connector->refuse_sessions = true;
  Handler h;
  w.loop.Call([&] {
    w.client->Start();
    ASSERT_NE(w.client->Open(Target::Ipv4({127, 0, 0, 1}, 9), &h), 0u);
  });
  ASSERT_TRUE(WaitFor([&] { return h.reset.load(); }));
  EXPECT_EQ(h.code.load(), static_cast<int>(tunnel::ErrorCode::kNoConnector));
  // The link stays up; the request is repeated after a growing delay.
  ASSERT_TRUE(WaitFor([&] { return w.connector->refusals.load() >= 3; }));
  EXPECT_EQ(w.Get<std::uint64_t>([&] { return w.client->stats().dials; }), 1u);
  EXPECT_GE(w.Get<std::uint64_t>([&] { return w.client->stats().session_refusals; }), 3u);
  EXPECT_FALSE(w.Get<bool>([&] { return w.client->session_up(); }));
  EXPECT_EQ(w.connector->sessions_up.load(), 0);

  // Once a connector is there, the next dial gets a session.
  w.connector->refuse_sessions = false;
  ASSERT_TRUE(WaitFor([&] { return w.Get<bool>([&] { return w.client->session_up(); }); }));
}

TEST(DeviceClient, GoAwayDrainsTheLinkAndTheClientComesBack) {
  ClientWorld w;
  w.loop.Call([&] { w.client->Start(); });
  ASSERT_TRUE(WaitFor([&] { return w.Get<bool>([&] { return w.client->session_up(); }); }));
  w.loop.Call([&] { w.connector->GoAwayAll(50); });
  ASSERT_TRUE(WaitFor([&] { return w.Get<std::uint64_t>([&] { return w.client->stats().goaways; }) == 1; }));
  ASSERT_TRUE(WaitFor([&] {
    return w.Get<std::uint64_t>([&] { return w.client->stats().sessions_up; }) == 2 &&
           w.Get<bool>([&] { return w.client->session_up(); });
  }));
  EXPECT_EQ(w.connector->sessions_up.load(), 2);
}

TEST(DeviceClient, WaitingOpensAreBounded) {
  Pki pki;
  LoopThread loop;
  std::unique_ptr<DeviceClient> client;
  Handler h;
  loop.Call([&] {
    ClientOptions o;
    o.identity = pki.Device();
    o.relay = RefusingAddress();
    o.max_pending_opens = 2;
    client = DeviceClient::Create(loop.loop(), std::move(o)).value();
    client->Start();
    EXPECT_NE(client->Open(Target::Ipv4({127, 0, 0, 1}, 9), &h), 0u);
    EXPECT_NE(client->Open(Target::Ipv4({127, 0, 0, 1}, 9), &h), 0u);
    EXPECT_EQ(client->Open(Target::Ipv4({127, 0, 0, 1}, 9), &h), 0u);
    EXPECT_EQ(client->stats().open_queue_full, 1u);
    client->Stop();
    loop.AtExit([&] { client.reset(); });
  });
  loop.Stop();
}

// docs/control-plane.md §6.5: a renewed credential posted while the link is up (from another thread) leaves that
// link alone and is shown by the next login.
TEST(DeviceClient, APostedCredentialIsUsedByTheNextLoginWhileTheLinkStaysUp) {
  ClientWorld w;
  w.loop.Call([&] { w.client->Start(); });
  ASSERT_TRUE(WaitFor([&] { return w.Get<bool>([&] { return w.client->session_up(); }); }));
  EXPECT_EQ(w.connector->last_login_serial.load(), 1u);

  const std::uint64_t now = NowUnix();
  const Pki& p = w.pki;
  const std::vector<std::uint8_t> renewed =
      crypto::IssueCredential(p.tenant, p.tenant_cert, {crypto::Role::kDevice, "dev-1", p.device_key.public_key,
                                                        p.device_noise.public_key, 7, now - 60, now + 7200})
          .value();
  ASSERT_TRUE(w.client->PostCredential(renewed));  // [any]: this is not the loop thread
  // Nothing is redialled for it...
  EXPECT_EQ(w.Get<std::uint64_t>([&] { return w.client->stats().dials; }), 1u);
  EXPECT_TRUE(w.Get<bool>([&] { return w.client->session_up(); }));
  // ...and the next login shows it.
  w.loop.Call([&] { w.connector->DropAll(); });
  ASSERT_TRUE(WaitFor([&] {
    return w.connector->links_up.load() == 2 && w.Get<bool>([&] { return w.client->session_up(); });
  }));
  EXPECT_EQ(w.connector->last_login_serial.load(), 7u);
}

// A renewal never changes the keys, the subject or the root: anything else is refused, and nothing changes.
TEST(DeviceClient, APostedCredentialForOtherKeysOrAnotherSubjectIsRefused) {
  ClientWorld w;
  const Pki& p = w.pki;
  const std::uint64_t now = NowUnix();
  const crypto::Ed25519KeyPair other_key = crypto::Ed25519KeyPair::Generate();
  const crypto::X25519KeyPair other_noise = crypto::X25519KeyPair::Generate();
  auto issue = [&](std::string_view subject, const crypto::Ed25519KeyPair& key, const crypto::X25519KeyPair& noise,
                   std::uint64_t not_after) {
    const std::uint64_t not_before = std::min(now - 60, not_after - 600);
    return crypto::IssueCredential(p.tenant, p.tenant_cert, {crypto::Role::kDevice, subject, key.public_key,
                                                             noise.public_key, 8, not_before, not_after})
        .value();
  };
  const struct {
    std::vector<std::uint8_t> credential;
    std::string_view why;
  } cases[] = {
      {issue("dev-1", other_key, p.device_noise, now + 3600), "signing key"},
      {issue("dev-1", p.device_key, other_noise, now + 3600), "Noise key"},
      {issue("dev-2", p.device_key, p.device_noise, now + 3600), "dev-2"},
      {issue("dev-1", p.device_key, p.device_noise, now - 60), "expired"},
      {p.connector_cred, "role"},
  };
  for (const auto& c : cases) {
    auto r = w.client->PostCredential(c.credential);
    ASSERT_FALSE(r) << c.why;
    EXPECT_NE(r.error().find(c.why), std::string::npos) << r.error();
  }
  w.loop.Call([&] { w.client->Start(); });
  ASSERT_TRUE(WaitFor([&] { return w.connector->links_up.load() == 1; }));
  EXPECT_EQ(w.connector->last_login_serial.load(), 1u);
}

}  // namespace
}  // namespace strait::device
