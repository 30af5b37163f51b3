// DeviceClient on its loop (no SDK): what the relay's refusals and drains do to the link and the session.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace strait::device
