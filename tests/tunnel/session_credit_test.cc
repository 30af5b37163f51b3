// A session's relay credit (docs/protocol.md §8, "Relay credit"), sans-I/O: what a sender through a relay may have
// in the relay on its channel, paid by every frame but SEALED_DATAGRAM and returned by SESSION_CREDIT.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/tunnel/session_harness.h"
#include "tunnel/session.h"

namespace strait::tunnel {
namespace {

using testing::B;
using testing::ByteVec;
using testing::Dir;
using testing::kChannel;
using testing::kTarget;
using testing::WireFrame;
using testing::World;

WireFrame CreditFrame(uint32_t increment, uint32_t channel = kChannel) {
  ByteVec payload(4);
  payload[0] = static_cast<uint8_t>(increment >> 24);
  payload[1] = static_cast<uint8_t>(increment >> 16);
  payload[2] = static_cast<uint8_t>(increment >> 8);
  payload[3] = static_cast<uint8_t>(increment);
  return {{kFramingVersion, FrameType::kSessionCredit, 0, 4, channel}, payload};
}

// Both ends through a relay, established, one stream open and accepted.
struct CreditWorld : World {
  StreamId id = 0;
  bool Setup(bool credit = true) {
    SessionConfig d = DeviceConfig();
    SessionConfig c = ConnectorConfig();
    d.relay_credit = c.relay_credit = credit;
    d.mux.stream_window = 4u << 20;  // what the connector may send on a stream: more than one credit's worth
    Start(std::move(d), std::move(c));
    (void)relay.Offer(connector.credential);
    relay.Pump();
    if (!relay.dev.s->established() || !relay.con.s->established()) return false;
    id = relay.dev.mux().Open(kTarget).id;
    relay.Pump();
    return relay.dev.accepted.contains(id);
  }
  // Feeds the connector's mux from data[off...] and returns the bytes of the frames it seals for the relay (which
  // delivers none of them), until it stops: out of relay credit, or of the stream's window.
  std::string data = std::string(4u << 20, 'd');
  size_t off = 0;
  uint64_t SendFromConnector() {
    uint64_t bytes = 0;
    for (;;) {
      if (off < data.size()) off += relay.con.mux().Write(id, B(data).subspan(off));
      const SessionResult r = relay.con.s->PollOutgoing(relay.out);
      if (r.action != SessionAction::kSend) return bytes;
      bytes += r.size;
    }
  }
};

TEST(SessionRelayCredit, ASenderStopsAtItsCreditAndGoesOnWhenItIsReturned) {
  CreditWorld w;
  ASSERT_TRUE(w.Setup());
  // Set-up frames were paid for: SESSION_ACCEPT by the connector, SESSION_INIT by the device.
  const int64_t after_setup = w.relay.con.s->relay_credit();
  EXPECT_LT(after_setup, int64_t{kInitialRelayCredit});
  EXPECT_GT(after_setup, int64_t{kInitialRelayCredit} - 2048);
  EXPECT_LT(w.relay.dev.s->relay_credit(), int64_t{kInitialRelayCredit});

  // 4 MiB to send, within the stream's and the session's windows: the credit is what stops it.
  const uint64_t sent = w.SendFromConnector();
  EXPECT_LE(sent, static_cast<uint64_t>(after_setup)) << "sealed past the credit";
  EXPECT_GT(sent, static_cast<uint64_t>(after_setup) - kSessionOutSize) << "stopped a frame short of the credit";
  EXPECT_FALSE(w.relay.con.s->HasOutgoing()) << "no credit: nothing to send";
  EXPECT_EQ(w.relay.con.s->PollOutgoing(w.relay.out).action, SessionAction::kNone);

  // The relay returns 64 KiB: about that much more goes.
  SessionResult r = w.relay.Deliver(Dir::kToConnector, CreditFrame(64u << 10));
  EXPECT_EQ(r.action, SessionAction::kNone);
  EXPECT_TRUE(w.relay.con.s->HasOutgoing());
  const uint64_t more = w.SendFromConnector();
  EXPECT_LE(more, (64u << 10) + kSessionOutSize);
  EXPECT_GT(more, (64u << 10) - kSessionOutSize);
  EXPECT_TRUE(w.relay.con.s->CheckInvariants());
}

TEST(SessionRelayCredit, DatagramsDoNotUseCredit) {
  CreditWorld w;
  ASSERT_TRUE(w.Setup());
  const int64_t before = w.relay.dev.s->relay_credit();
  const std::string packet(1400, 'p');
  for (int i = 0; i < 1000; ++i) {  // 1.4 MB, more than the credit
    const SessionResult r = w.relay.dev.s->SendDatagram(B(packet), w.relay.out);
    ASSERT_EQ(r.action, SessionAction::kSend);
  }
  EXPECT_EQ(w.relay.dev.s->relay_credit(), before);
}

TEST(SessionRelayCredit, WithoutARelayThereIsNoCredit) {
  CreditWorld w;
  ASSERT_TRUE(w.Setup(/*credit=*/false));  // Direct Connect
  EXPECT_GT(w.SendFromConnector(), uint64_t{kInitialRelayCredit} + (64u << 10)) << "the mux's windows are the only bound";
  // A SESSION_CREDIT there is unexpected: dropped and counted, the session goes on.
  const SessionResult r = w.relay.Deliver(Dir::kToConnector, CreditFrame(100));
  EXPECT_EQ(r.action, SessionAction::kDrop);
  EXPECT_TRUE(w.relay.con.s->established());
}

TEST(SessionRelayCredit, AMalformedGrantClosesTheSession) {
  for (const ByteVec& payload : {ByteVec{0, 0, 0, 0}, ByteVec{0, 0, 1}, ByteVec{0, 0, 0, 1, 0}}) {
    CreditWorld w;
    ASSERT_TRUE(w.Setup());
    const SessionResult r = w.relay.Deliver(
        Dir::kToDevice,
        WireFrame{{kFramingVersion, FrameType::kSessionCredit, 0, static_cast<uint32_t>(payload.size()), kChannel},
                  payload});
    EXPECT_EQ(r.action, SessionAction::kClose);
    EXPECT_EQ(w.relay.dev.s->close_code(), ErrorCode::kProtocolError);
  }
}

TEST(SessionRelayCredit, GrantsAddUpWithoutOverflow) {
  CreditWorld w;
  ASSERT_TRUE(w.Setup());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(w.relay.Deliver(Dir::kToDevice, CreditFrame(0xffffffffu)).action, SessionAction::kNone);
  }
  EXPECT_GT(w.relay.dev.s->relay_credit(), int64_t{kInitialRelayCredit});
  EXPECT_LE(w.relay.dev.s->relay_credit(), int64_t{1} << 40);
}

}  // namespace
}  // namespace strait::tunnel
