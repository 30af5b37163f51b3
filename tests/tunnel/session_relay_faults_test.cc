// Session against a misbehaving relay: frames dropped, replayed, reordered, deleted, rewritten from one sealed type
// to the other, tampered with or forged. Each is either harmless (counted and ignored) or ends the session; none is
// ever delivered as data. The well-behaved paths are in session_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "crypto/transport.h"
#include "tests/tunnel/session_harness.h"
#include "tunnel/session.h"

namespace strait::tunnel {
namespace {

using testing::B;
using testing::ByteVec;
using testing::Dir;
using testing::kChannel;
using testing::kNow;
using testing::kTarget;
using testing::Pattern;
using testing::WireFrame;
using testing::World;

// ---- A misbehaving relay ---------------------------------------------------------------------------------------

TEST(Session, RelayRewritingStreamAsDatagramFailsAuthentication) {
  World w;
  ASSERT_TRUE(w.Establish());
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  w.relay.tamper = [](Dir, WireFrame& f) {
    if (f.h.type == FrameType::kSealedStream) f.h.type = FrameType::kSealedDatagram;
    return true;
  };
  (void)w.relay.dev.mux().Write(id, B("secret bytes"));
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.s->drops(SessionDrop::kAuthFailed), 1u);
  EXPECT_TRUE(w.relay.con.datagrams.empty());  // never accepted as a packet
  EXPECT_TRUE(w.relay.con.received[id].empty());
  EXPECT_TRUE(w.relay.con.s->established());   // a datagram auth failure alone is dropped, not fatal
}

TEST(Session, RelayRewritingDatagramAsStreamEndsTheSession) {
  World w;
  ASSERT_TRUE(w.Establish());
  w.relay.tamper = [](Dir, WireFrame& f) {
    if (f.h.type == FrameType::kSealedDatagram) f.h.type = FrameType::kSealedStream;
    return true;
  };
  w.relay.SendDatagram(w.relay.dev, "packet");
  w.relay.Pump();
  Session& con = *w.relay.con.s;
  EXPECT_EQ(con.drops(SessionDrop::kAuthFailed), 1u);
  EXPECT_EQ(con.state(), SessionState::kClosed);
  EXPECT_EQ(con.close_code(), ErrorCode::kProtocolError);
  EXPECT_NE(con.close_reason().find("auth_failed"), std::string_view::npos);
  EXPECT_EQ(w.relay.dev.s->state(), SessionState::kClosed);  // told by SESSION_CLOSE
  EXPECT_TRUE(w.relay.dev.s->closed_by_peer());
}

TEST(Session, RelayReplayingSealedFramesIsCountedAndIgnored) {
  World w;
  ASSERT_TRUE(w.Establish());
  auto& con = w.relay.con;
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  (void)w.relay.dev.mux().Write(id, B("once"));
  w.relay.SendDatagram(w.relay.dev, "dgram");
  w.relay.Pump();
  const auto& seen = w.relay.seen[0];
  auto last_of = [&](FrameType t) {
    return *std::find_if(seen.rbegin(), seen.rend(), [&](const WireFrame& f) { return f.h.type == t; });
  };
  const WireFrame data = last_of(FrameType::kSealedStream);
  const WireFrame dgram = last_of(FrameType::kSealedDatagram);
  ASSERT_EQ(data.h.type, FrameType::kSealedStream);
  ASSERT_EQ(dgram.h.type, FrameType::kSealedDatagram);
  EXPECT_EQ(w.relay.Deliver(Dir::kToConnector, data).drop, SessionDrop::kReplayed);
  EXPECT_EQ(w.relay.Deliver(Dir::kToConnector, dgram).drop, SessionDrop::kReplayed);
  EXPECT_EQ(con.s->drops(SessionDrop::kReplayed), 2u);
  EXPECT_EQ(con.received[id], "once");
  EXPECT_EQ(con.datagrams.size(), 1u);
  EXPECT_TRUE(con.s->established());
}

TEST(Session, RelayReorderingStreamFramesEndsTheSession) {
  World w;
  ASSERT_TRUE(w.Establish());
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  // Two SEALED_STREAM frames in flight (each PollOutgoing packs at most one full chunk per frame).
  const std::string bytes = Pattern(2 * kMaxStreamChunk, 'r');
  ASSERT_EQ(w.relay.dev.mux().Write(id, B(bytes)), bytes.size());
  (void)w.relay.Poll(w.relay.dev);
  auto& q = w.relay.queue[0];
  ASSERT_GE(q.size(), 2u);
  std::swap(q[0], q[1]);
  (void)w.relay.DeliverQueued(Dir::kToConnector);
  EXPECT_EQ(w.relay.con.s->state(), SessionState::kClosed);
  // The stream sequence number in the AD does not match: the frame fails authentication.
  EXPECT_EQ(w.relay.con.s->drops(SessionDrop::kAuthFailed), 1u);
  EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kProtocolError);
}

TEST(Session, RelayDeletingAStreamFrameEndsTheSession) {
  World w;
  ASSERT_TRUE(w.Establish());
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  const std::string bytes = Pattern(3 * kRecordStreamChunk, 'd');
  ASSERT_EQ(w.relay.dev.mux().Write(id, B(bytes)), bytes.size());
  (void)w.relay.Poll(w.relay.dev);
  auto& q = w.relay.queue[0];
  ASSERT_GE(q.size(), 3u);
  q.erase(q.begin() + 1);  // the relay silently drops the middle stream frame
  (void)w.relay.DeliverQueued(Dir::kToConnector);
  EXPECT_TRUE(w.relay.con.s->established());
  (void)w.relay.DeliverQueued(Dir::kToConnector);
  EXPECT_EQ(w.relay.con.s->state(), SessionState::kClosed);
  EXPECT_EQ(w.relay.con.s->drops(SessionDrop::kAuthFailed), 1u);
  // Only the bytes before the gap were delivered; nothing after it.
  EXPECT_EQ(w.relay.con.received[id].size(), kRecordStreamChunk);  // the default DATA chunk (one TLS record per frame)
}

TEST(Session, TamperedStreamFrameEndsTheSession) {
  World w;
  ASSERT_TRUE(w.Establish());
  w.relay.tamper = [](Dir, WireFrame& f) {
    if (f.h.type == FrameType::kSealedStream) f.payload[10] ^= 1;
    return true;
  };
  (void)w.relay.dev.mux().Open(kTarget);
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.s->state(), SessionState::kClosed);
  EXPECT_EQ(w.relay.con.s->drops(SessionDrop::kAuthFailed), 1u);
  EXPECT_EQ(w.relay.con.opened.size(), 0u);
}

TEST(Session, ManyForgedDatagramsEndTheSession) {
  World w;
  ASSERT_TRUE(w.Establish());
  ByteVec forged(64, 0x33);
  std::fill(forged.begin(), forged.begin() + 8, 0);
  forged[7] = 1;  // counter 1, then bytes no key produced
  Session& con = *w.relay.con.s;
  for (uint32_t i = 1; i < kMaxDatagramAuthFailures; ++i) {
    ByteVec f = forged;
    ASSERT_EQ(con.OnFrame({1, FrameType::kSealedDatagram, 0, 64, kChannel}, f, kNow, w.relay.out).drop,
              SessionDrop::kAuthFailed);
  }
  EXPECT_TRUE(con.established());
  ByteVec f = forged;
  EXPECT_EQ(con.OnFrame({1, FrameType::kSealedDatagram, 0, 64, kChannel}, f, kNow, w.relay.out).action,
            SessionAction::kClose);
  EXPECT_EQ(con.drops(SessionDrop::kAuthFailed), kMaxDatagramAuthFailures);
  ByteVec tiny(5, 0);
  World v;
  ASSERT_TRUE(v.Establish());
  EXPECT_EQ(v.relay.con.s->OnFrame({1, FrameType::kSealedDatagram, 0, 5, kChannel}, tiny, kNow, v.relay.out).drop,
            SessionDrop::kMalformedSealed);
}

}  // namespace
}  // namespace strait::tunnel
