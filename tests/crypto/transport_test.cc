// TransportSession: the sealed e2e message layout, replay handling, bounds, and no allocation on the hot path.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "crypto/noise_handshake.h"
#include "crypto/transport.h"
#include "tests/testing/alloc_counter.h"

namespace strait::crypto {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes Str(const std::string& s) { return Bytes(s.begin(), s.end()); }
constexpr uint8_t kStreamFrame = 0x02;
constexpr uint8_t kDatagramFrame = 0x03;
const uint8_t kStreamAd[] = {kStreamFrame};
const uint8_t kDatagramAd[] = {kDatagramFrame};

// A device/connector pair after a real IK handshake.
struct Pair {
  TransportSession device;
  TransportSession connector;
};

Pair Handshake() {
  const X25519KeyPair device = X25519KeyPair::Generate();
  const X25519KeyPair connector = X25519KeyPair::Generate();
  HandshakeOptions io, ro;
  io.role = NoiseRole::kInitiator;
  io.local_static = device;
  io.remote_static = connector.public_key;
  ro.role = NoiseRole::kResponder;
  ro.local_static = connector;
  auto init = HandshakeState::Create(std::move(io));
  auto resp = HandshakeState::Create(std::move(ro));
  Bytes buf(256), p(256);
  auto w1 = init->WriteMessage({}, buf);
  EXPECT_TRUE(resp->ReadMessage(std::span(buf).first(w1.size), p).ok());
  auto w2 = resp->WriteMessage({}, buf);
  EXPECT_TRUE(init->ReadMessage(std::span(buf).first(w2.size), p).ok());
  return Pair{TransportSession(init->Split().value()), TransportSession(resp->Split().value())};
}

// Plaintext placed after 8 bytes of header room, with tail room for the tag.
Bytes Frame(const Bytes& plaintext) {
  Bytes b(kTransportHeaderSize + plaintext.size() + kTransportTagSize);
  std::copy(plaintext.begin(), plaintext.end(), b.begin() + kTransportHeaderSize);
  return b;
}

Bytes SealCopy(TransportSession& s, const Bytes& plaintext, std::span<const uint8_t> ad = kStreamAd) {
  Bytes b = Frame(plaintext);
  const Sealed r = s.Seal(ad, b, plaintext.size());
  EXPECT_EQ(r.status, SealStatus::kOk);
  b.resize(r.wire.size());
  return b;
}

OpenStatus OpenCopy(TransportSession& s, Bytes wire, std::span<const uint8_t> ad = kStreamAd, Bytes* out = nullptr) {
  const Opened r = s.Open(ad, wire);
  if (out != nullptr && r.status == OpenStatus::kOk) out->assign(r.plaintext.begin(), r.plaintext.end());
  return r.status;
}

TEST(Transport, SealOpenRoundTripInPlaceWithDocumentedLayout) {
  Pair p = Handshake();
  const Bytes msg = Str("GET / HTTP/1.1");
  Bytes buf = Frame(msg);
  buf.resize(buf.size() + 100);  // extra room is left untouched
  const Sealed s = p.device.Seal(kStreamAd, buf, msg.size());
  ASSERT_EQ(s.status, SealStatus::kOk);
  EXPECT_EQ(s.wire.data(), buf.data()) << "sealed in place";
  EXPECT_EQ(s.wire.size(), msg.size() + kTransportOverhead);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 8), Bytes(8, 0)) << "first counter is 0, big-endian";
  EXPECT_NE(Bytes(buf.begin() + 8, buf.begin() + 8 + static_cast<long>(msg.size())), msg);

  const Opened o = p.connector.Open(kStreamAd, s.wire);
  ASSERT_EQ(o.status, OpenStatus::kOk);
  EXPECT_EQ(o.plaintext.data(), buf.data() + kTransportHeaderSize) << "plaintext view into the caller's buffer";
  EXPECT_EQ(Bytes(o.plaintext.begin(), o.plaintext.end()), msg);
  EXPECT_EQ(o.counter, 0u);

  // And the other direction.
  Bytes back;
  ASSERT_EQ(OpenCopy(p.device, SealCopy(p.connector, Str("200 OK")), kStreamAd, &back), OpenStatus::kOk);
  EXPECT_EQ(back, Str("200 OK"));
}

TEST(Transport, CounterIsBigEndianAndIncrements) {
  Pair p = Handshake();
  p.device.SetSendCounterForTest(0x0102030405060708);
  const Bytes w = SealCopy(p.device, Str("x"));
  EXPECT_EQ(Bytes(w.begin(), w.begin() + 8), (Bytes{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(p.device.next_send_counter(), 0x0102030405060709u);
}

TEST(Transport, EmptyPlaintextIsAllowed) {
  Pair p = Handshake();
  Bytes out = Str("junk");
  ASSERT_EQ(OpenCopy(p.connector, SealCopy(p.device, {}), kStreamAd, &out), OpenStatus::kOk);
  EXPECT_TRUE(out.empty());
}

TEST(Transport, ReplayIsRejected) {
  Pair p = Handshake();
  const Bytes w = SealCopy(p.device, Str("once"));
  EXPECT_EQ(OpenCopy(p.connector, w), OpenStatus::kOk);
  EXPECT_EQ(OpenCopy(p.connector, w), OpenStatus::kReplayed);
}

TEST(Transport, OutOfOrderWithinWindowIsAccepted) {
  Pair p = Handshake();
  std::vector<Bytes> w;
  for (int i = 0; i < 100; ++i) w.push_back(SealCopy(p.device, Str("m" + std::to_string(i))));
  // Deliver the newest first, then the rest backwards, with gaps (the relay dropped 50..59).
  for (int i = 99; i >= 0; --i) {
    if (i >= 50 && i < 60) continue;
    Bytes out;
    ASSERT_EQ(OpenCopy(p.connector, w[static_cast<size_t>(i)], kStreamAd, &out), OpenStatus::kOk) << i;
    EXPECT_EQ(out, Str("m" + std::to_string(i)));
  }
  EXPECT_EQ(OpenCopy(p.connector, w[55]), OpenStatus::kOk) << "late, but inside the window";
  EXPECT_EQ(OpenCopy(p.connector, w[55]), OpenStatus::kReplayed);
}

TEST(Transport, TooOldIsRejected) {
  Pair p = Handshake();
  const Bytes old = SealCopy(p.device, Str("old"));  // counter 0
  p.device.SetSendCounterForTest(ReplayWindow::kWindowSize + 1);
  ASSERT_EQ(OpenCopy(p.connector, SealCopy(p.device, Str("new"))), OpenStatus::kOk);
  EXPECT_EQ(OpenCopy(p.connector, old), OpenStatus::kTooOld);
}

TEST(Transport, TamperedAssociatedDataIsRejected) {
  Pair p = Handshake();
  const Bytes w = SealCopy(p.device, Str("stream bytes"), kStreamAd);
  // The relay relabels a stream frame as a datagram: authentication fails, and the window did not move.
  EXPECT_EQ(OpenCopy(p.connector, w, kDatagramAd), OpenStatus::kAuthFailed);
  EXPECT_EQ(OpenCopy(p.connector, w, kStreamAd), OpenStatus::kOk);
}

TEST(Transport, EveryTamperedByteIsRejected) {
  Pair p = Handshake();
  const Bytes w = SealCopy(p.device, Str("sixteen bytes!!!"));
  for (size_t i = 0; i < w.size(); ++i) {
    Bytes bad = w;
    bad[i] ^= 0x10;
    const OpenStatus s = OpenCopy(p.connector, bad);
    // Flipping a counter bit may push it past the exhaustion bound; every other change fails authentication.
    EXPECT_TRUE(s == OpenStatus::kAuthFailed || (i == 0 && s == OpenStatus::kCounterExhausted)) << i;
  }
  EXPECT_EQ(OpenCopy(p.connector, w), OpenStatus::kOk) << "forgeries left the window untouched";
}

TEST(Transport, ForgedHighCounterDoesNotMoveTheWindow) {
  Pair p = Handshake();
  const Bytes first = SealCopy(p.device, Str("first"));
  p.device.SetSendCounterForTest(1'000'000);
  Bytes forged = SealCopy(p.device, Str("forged"));
  forged.back() ^= 1;
  EXPECT_EQ(OpenCopy(p.connector, forged), OpenStatus::kAuthFailed);
  EXPECT_EQ(p.connector.replay_window().last(), 0u);
  EXPECT_EQ(OpenCopy(p.connector, first), OpenStatus::kOk);
}

TEST(Transport, WrongDirectionKeyFails) {
  Pair p = Handshake();
  // A device's own message reflected back to it must not open (distinct keys per direction).
  EXPECT_EQ(OpenCopy(p.device, SealCopy(p.device, Str("reflect"))), OpenStatus::kAuthFailed);
}

TEST(Transport, CounterExhaustionStopsSendingAndIsRefusedOnReceive) {
  Pair p = Handshake();
  p.device.SetSendCounterForTest(kRejectAfterMessages - 1);
  const Bytes last = SealCopy(p.device, Str("last"));
  Bytes b = Frame(Str("one too many"));
  EXPECT_EQ(p.device.Seal(kStreamAd, b, 12).status, SealStatus::kCounterExhausted);
  EXPECT_EQ(p.device.next_send_counter(), kRejectAfterMessages) << "a refused seal consumes no counter";
  EXPECT_EQ(OpenCopy(p.connector, last), OpenStatus::kOk);

  Bytes beyond = last;
  ASSERT_EQ(beyond.size(), 4 + kTransportOverhead);
  beyond.front() = 0xff;  // counter >= 2^60
  EXPECT_EQ(OpenCopy(p.connector, beyond), OpenStatus::kCounterExhausted);
}

TEST(Transport, LengthBounds) {
  Pair p = Handshake();
  EXPECT_EQ(OpenCopy(p.connector, Bytes(kTransportOverhead - 1)), OpenStatus::kTooShort);
  EXPECT_EQ(OpenCopy(p.connector, Bytes{}), OpenStatus::kTooShort);
  EXPECT_EQ(OpenCopy(p.connector, Bytes(kMaxSealedSize + 1)), OpenStatus::kTooLarge);
  EXPECT_EQ(OpenCopy(p.connector, Bytes(kTransportOverhead)), OpenStatus::kAuthFailed);

  Bytes big(kMaxSealedSize + 64);
  EXPECT_EQ(p.device.Seal(kStreamAd, big, kMaxPlaintextSize + 1).status, SealStatus::kTooLarge);
  const Sealed max = p.device.Seal(kStreamAd, big, kMaxPlaintextSize);
  ASSERT_EQ(max.status, SealStatus::kOk);
  EXPECT_EQ(max.wire.size(), kMaxSealedSize);
  EXPECT_EQ(p.connector.Open(kStreamAd, max.wire).status, OpenStatus::kOk);
  Bytes small(kTransportOverhead + 9);
  EXPECT_EQ(p.device.Seal(kStreamAd, small, 10).status, SealStatus::kBufferTooSmall);
}

TEST(Transport, StatusNamesAreDistinct) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kOpenStatusCount; ++i) names.insert(OpenStatusName(static_cast<OpenStatus>(i)));
  EXPECT_EQ(names.size(), kOpenStatusCount);
  EXPECT_EQ(names.count("unknown"), 0u);
}

TEST(Transport, SealAndOpenNoAlloc) {
  Pair p = Handshake();
  Bytes buf = Frame(Bytes(1024, 0xab));
  const strait::testing::AllocationCounter allocations;
  for (int i = 0; i < 100; ++i) {
    const Sealed s = p.device.Seal(kStreamAd, buf, 1024);
    ASSERT_EQ(s.status, SealStatus::kOk);
    const Opened o = p.connector.Open(kStreamAd, s.wire);
    ASSERT_EQ(o.status, OpenStatus::kOk);
    ASSERT_EQ(p.connector.Open(kStreamAd, s.wire).status, OpenStatus::kReplayed);
  }
  EXPECT_EQ(allocations.Count(), 0u);
}

}  // namespace
}  // namespace strait::crypto
