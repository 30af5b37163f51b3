#include "tunnel/session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/transport.h"
#include "tests/tunnel/session_harness.h"
#include "tunnel/e2e_handshake.h"
#include "tests/testing/alloc_counter.h"

namespace strait::tunnel {
namespace {

using crypto::Role;
using testing::B;
using testing::ByteVec;
using testing::Dir;
using testing::kTarget;
using testing::Pattern;
using testing::kChannel;
using testing::kDay;
using testing::kNow;
using testing::Pki;
using testing::WireFrame;
using testing::World;


// The SESSION_CLOSE the relay carried in direction `d` last, decoded.
std::optional<std::pair<ErrorCode, std::string>> LastClose(testing::Relay& r, Dir d) {
  const auto& seen = r.seen[static_cast<int>(d)];
  for (auto it = seen.rbegin(); it != seen.rend(); ++it) {
    if (it->h.type != FrameType::kSessionClose) continue;
    auto m = SessionClose::Decode(it->payload);
    if (!m.ok()) return std::nullopt;
    return std::make_pair(m->code, std::string(m->reason.begin(), m->reason.end()));
  }
  return std::nullopt;
}

// The peer credential of an endpoint that must have one (keeps g++'s -Wnull-dereference quiet after ASSERT_NE).
const crypto::VerifiedCredential& PeerOf(const Session& s) {
  const crypto::VerifiedCredential* p = s.peer();
  if (p == nullptr) std::abort();
  return *p;
}

// A device built from the bare handshake steps (tunnel/e2e_handshake.h): it can send any credential from any Noise
// key, and seal any plaintext, so tests reach the connector's checks and the mux behind it.
struct RawDevice {
  crypto::X25519KeyPair noise;
  std::optional<crypto::HandshakeState> hs;
  std::optional<crypto::TransportSession> transport;
  // Of the last SESSION_INIT built; a second after the World's device, which may share the Noise key.
  uint64_t timestamp = (kNow + 1) * kNsPerSecond;

  // Builds SESSION_INIT with `credential` from `noise` to `connector_key`.
  WireFrame Init(const crypto::X25519PublicKey& connector_key, std::span<const uint8_t> credential) {
    std::optional<crypto::X25519KeyPair> no_eph;
    const crypto::Ed25519PublicKey unused_root;
    const E2eIdentity self{&noise, &unused_root, "acme", kNow, &no_eph};
    DeviceHandshake dh;
    dh.credential = credential;
    dh.timestamp = ++timestamp;
    ByteVec msg(kMaxNoiseMessageBytes);
    auto started = WriteSessionInit(self, connector_key, dh, msg);
    if (!started.ok()) std::abort();
    msg.resize(started->message_size);
    hs.emplace(std::move(started->handshake));
    return {{kFramingVersion, FrameType::kSessionInit, 0, static_cast<uint32_t>(msg.size()), kChannel}, msg};
  }
  bool Accept(const WireFrame& accept) {
    auto done = ReadSessionAccept(*hs, accept.payload);
    if (!done.ok()) return false;
    transport.emplace(done->keys);
    return true;
  }
  uint64_t stream_sent = 0;  // the stream sequence number of the next SEALED_STREAM (docs/protocol.md §7)
  WireFrame Seal(FrameType type, std::span<const uint8_t> plaintext) {
    ByteVec buf(crypto::kTransportOverhead + plaintext.size());
    std::copy(plaintext.begin(), plaintext.end(), buf.begin() + crypto::kTransportHeaderSize);
    const SealedAd ad = SealedAssociatedData(type, stream_sent);
    if (transport->Seal(ad.view(), buf, plaintext.size()).status != crypto::SealStatus::kOk) std::abort();
    if (type == FrameType::kSealedStream) ++stream_sent;
    return {{kFramingVersion, type, 0, static_cast<uint32_t>(buf.size()), kChannel}, buf};
  }
};

// ---- Set-up ------------------------------------------------------------------------------------------------------

TEST(Session, HandshakeEstablishesBothSidesAndExposesPeers) {
  World w;
  w.Start(w.DeviceConfig(), w.ConnectorConfig());
  Session& dev = *w.relay.dev.s;
  Session& con = *w.relay.con.s;
  EXPECT_EQ(dev.state(), SessionState::kAwaitOffer);
  EXPECT_EQ(con.state(), SessionState::kAwaitInit);
  EXPECT_EQ(dev.mux(), nullptr);

  const SessionResult offer = w.relay.Offer(w.connector.credential, "conn-1");
  EXPECT_EQ(offer.action, SessionAction::kSend);
  EXPECT_EQ(dev.state(), SessionState::kAwaitAccept);
  ASSERT_EQ(w.relay.queue[0].size(), 1u);
  EXPECT_EQ(w.relay.queue[0].front().h.type, FrameType::kSessionInit);
  EXPECT_EQ(w.relay.queue[0].front().h.channel, kChannel);
  EXPECT_TRUE(dev.CheckInvariants());

  w.relay.Pump();
  ASSERT_TRUE(dev.established());
  ASSERT_TRUE(con.established());
  EXPECT_EQ(con.channel(), kChannel);
  EXPECT_EQ(dev.connector_id(), "conn-1");
  EXPECT_EQ(PeerOf(con).tenant_id, "acme");
  EXPECT_EQ(PeerOf(con).subject_id, "laptop-1");
  EXPECT_EQ(PeerOf(con).role, Role::kDevice);
  EXPECT_EQ(PeerOf(dev).subject_id, "conn-1");
  EXPECT_TRUE(PeerOf(dev).noise_key == w.connector.noise.public_key);
  EXPECT_TRUE(dev.CheckInvariants());
  EXPECT_TRUE(con.CheckInvariants());
}

TEST(Session, CreateRefusesOwnCredentialMismatches) {
  World w;
  testing::Endpoint e;
  SessionConfig c = w.DeviceConfig();
  c.static_key = crypto::X25519KeyPair::Generate();
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kKeyMismatch);
  c = w.DeviceConfig();
  c.role = SessionRole::kConnector;
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kBadCredential);
  c = w.DeviceConfig();
  c.tenant = "globex";
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kBadCredential);
  c = w.ConnectorConfig();
  c.pinned_connectors.emplace();
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kBadConfig);
  // §6: a device must stamp SESSION_INIT, a connector must check the stamp.
  c = w.DeviceConfig();
  c.init_timestamp = 0;
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kBadConfig);
  c = w.ConnectorConfig();
  c.init_replay = nullptr;
  EXPECT_EQ(Session::Create(std::move(c), &e).error().code, SessionSetupError::kBadConfig);
  EXPECT_EQ(Session::Create(w.DeviceConfig(), nullptr).error().code, SessionSetupError::kBadConfig);
}

TEST(Session, PinnedConnectorSetAcceptsMemberRefusesOthers) {
  World w;
  SessionConfig pinned = w.DeviceConfig();
  pinned.pinned_connectors = std::vector{crypto::X25519KeyPair::Generate().public_key, w.connector.noise.public_key};
  w.Start(std::move(pinned), w.ConnectorConfig());
  (void)w.relay.Offer(w.connector.credential);
  w.relay.Pump();
  EXPECT_TRUE(w.relay.dev.s->established());

  World v;
  SessionConfig other = v.DeviceConfig();
  other.pinned_connectors = std::vector{crypto::X25519KeyPair::Generate().public_key};
  v.Start(std::move(other), v.ConnectorConfig());
  const SessionResult r = v.relay.Offer(v.connector.credential);
  EXPECT_EQ(r.action, SessionAction::kClose);
  EXPECT_EQ(v.relay.dev.s->state(), SessionState::kClosed);
  EXPECT_EQ(v.relay.dev.s->close_code(), ErrorCode::kBadCredential);
  EXPECT_NE(v.relay.dev.s->close_reason().find("pinned"), std::string_view::npos);
  auto close = LastClose(v.relay, Dir::kToConnector);  // the device's SESSION_CLOSE goes to the relay
  ASSERT_TRUE(close);
  EXPECT_EQ(close->first, ErrorCode::kBadCredential);
  EXPECT_TRUE(v.relay.queue[0].back().h.channel == kChannel);
}

// Table: the connector credential the relay offers, and the reason the device must give.
TEST(Session, DeviceRefusesBadConnectorCredentialsWithReasons) {
  struct Case {
    const char* name;
    std::function<ByteVec(World&)> credential;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"other tenant",
       [](World& v) { return Pki::Issue(v.pki.MakeTenant("globex"), Role::kConnector, "conn-g").credential; },
       "wrong_tenant"},
      {"expired",
       [](World& v) {
         return Pki::Issue(v.acme, Role::kConnector, "conn-1", kNow - 2 * kDay, kNow - kDay).credential;
       },
       "expired"},
      {"not yet valid",
       [](World& v) {
         return Pki::Issue(v.acme, Role::kConnector, "conn-1", kNow + kDay, kNow + 2 * kDay).credential;
       },
       "not_yet_valid"},
      {"device role", [](World& v) { return Pki::Issue(v.acme, Role::kDevice, "phone").credential; }, "wrong_role"},
      {"other root",
       [](World&) {
         Pki other;
         return Pki::Issue(other.MakeTenant("acme"), Role::kConnector, "conn-1").credential;
       },
       "tenant_cert_bad_signature"},
      {"garbage", [](World&) { return ByteVec(100, 0x41); }, "connector credential"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    World v;
    v.Start(v.DeviceConfig(), v.ConnectorConfig());
    const SessionResult r = v.relay.Offer(c.credential(v));
    EXPECT_EQ(r.action, SessionAction::kClose);
    EXPECT_EQ(v.relay.dev.s->state(), SessionState::kClosed);
    EXPECT_EQ(v.relay.dev.s->close_code(), ErrorCode::kBadCredential);
    EXPECT_NE(v.relay.dev.s->close_reason().find(c.reason), std::string_view::npos) << v.relay.dev.s->close_reason();
    auto close = LastClose(v.relay, Dir::kToConnector);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->first, ErrorCode::kBadCredential);
    EXPECT_EQ(v.relay.dev.s->mux(), nullptr);
    EXPECT_TRUE(v.relay.dev.s->CheckInvariants());
  }
}

// The relay offers the device a connector credential of the device's tenant that names the Noise key of a
// connector in another tenant: the device runs Noise with that connector, which must refuse the device.
TEST(Session, ConnectorRefusesDeviceOfAnotherTenant) {
  World w;
  const testing::Tenant globex = w.pki.MakeTenant("globex");
  const testing::Identity g_con = Pki::Issue(globex, Role::kConnector, "conn-g");
  const testing::Identity lure = Pki::Issue(w.acme, Role::kConnector, "conn-g", kNow - kDay, kNow + kDay, g_con.noise);
  SessionConfig con_cfg = testing::MakeConfig(SessionRole::kConnector, w.pki, globex, g_con);
  con_cfg.init_replay = &w.relay.init_replay;
  w.Start(w.DeviceConfig(), std::move(con_cfg));
  EXPECT_EQ(w.relay.Offer(lure.credential).action, SessionAction::kSend);
  w.relay.Pump();
  Session& con = *w.relay.con.s;
  EXPECT_EQ(con.state(), SessionState::kClosed);
  EXPECT_EQ(con.close_code(), ErrorCode::kUnauthorized);
  EXPECT_NE(con.close_reason().find("wrong_tenant"), std::string_view::npos) << con.close_reason();
  // The device hears it as the connector's SESSION_CLOSE.
  EXPECT_EQ(w.relay.dev.s->state(), SessionState::kClosed);
  EXPECT_TRUE(w.relay.dev.s->closed_by_peer());
  EXPECT_EQ(w.relay.dev.s->close_code(), ErrorCode::kUnauthorized);
}

// Table: what a (raw) device sends in SESSION_INIT, and how the connector answers.
TEST(Session, ConnectorRefusesBadDeviceCredentialsWithReasons) {
  World w;
  const testing::Identity other_key_cred = Pki::Issue(w.acme, Role::kDevice, "laptop-2");
  struct Case {
    const char* name;
    ByteVec credential;
    std::optional<crypto::X25519KeyPair> noise;  // the Noise static the raw device runs with
    ErrorCode code;
    const char* reason;
  };
  const testing::Identity expired = Pki::Issue(w.acme, Role::kDevice, "old", kNow - 3 * kDay, kNow - 2 * kDay);
  const testing::Identity as_conn = Pki::Issue(w.acme, Role::kConnector, "sneaky");
  const std::vector<Case> cases = {
      {"expired", expired.credential, expired.noise, ErrorCode::kBadCredential, "expired"},
      {"connector role", as_conn.credential, as_conn.noise, ErrorCode::kBadCredential, "wrong_role"},
      {"noise key differs", other_key_cred.credential, crypto::X25519KeyPair::Generate(), ErrorCode::kBadCredential,
       "differs from the noise static key"},
      {"garbage credential", ByteVec(64, 7), crypto::X25519KeyPair::Generate(), ErrorCode::kBadCredential,
       "device credential"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    w.relay.con.s.reset();
    w.relay.con.s = Session::Create(w.ConnectorConfig(), &w.relay.con).value();
    RawDevice raw{*c.noise, {}, {}};
    const SessionResult r = w.relay.Deliver(Dir::kToConnector, raw.Init(w.connector.noise.public_key, c.credential));
    EXPECT_EQ(r.action, SessionAction::kClose);
    EXPECT_EQ(w.relay.con.s->close_code(), c.code);
    EXPECT_NE(w.relay.con.s->close_reason().find(c.reason), std::string_view::npos) << w.relay.con.s->close_reason();
    auto close = LastClose(w.relay, Dir::kToDevice);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->first, c.code);
    EXPECT_EQ(w.relay.seen[1].back().h.channel, kChannel);
    EXPECT_EQ(w.relay.con.s->peer(), nullptr);
    EXPECT_TRUE(w.relay.con.s->CheckInvariants());
  }
}

TEST(Session, GarbageSessionInitClosesCleanly) {
  World w;
  const std::vector<ByteVec> inits = {ByteVec{}, ByteVec(1, 0), ByteVec(95, 0xaa), ByteVec(400, 0x55),
                                      ByteVec(kMaxNoiseMessageBytes + 1, 1)};
  for (const ByteVec& bytes : inits) {
    SCOPED_TRACE(bytes.size());
    w.relay.con.s.reset();
    w.relay.con.s = Session::Create(w.ConnectorConfig(), &w.relay.con).value();
    const SessionResult r = w.relay.Deliver(
        Dir::kToConnector,
        {{kFramingVersion, FrameType::kSessionInit, 0, static_cast<uint32_t>(bytes.size()), kChannel}, bytes});
    EXPECT_EQ(r.action, SessionAction::kClose);
    EXPECT_EQ(w.relay.con.s->state(), SessionState::kClosed);
    EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kProtocolError);
    auto close = LastClose(w.relay, Dir::kToDevice);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->first, ErrorCode::kProtocolError);
    EXPECT_TRUE(w.relay.con.s->CheckInvariants());
    // Anything after the close is dropped by name.
    ByteVec more(40, 1);
    EXPECT_EQ(w.relay.con.s->OnFrame({1, FrameType::kSealedStream, 0, 40, kChannel}, more, kNow, w.relay.out).drop,
              SessionDrop::kAfterClose);
  }
}

// §6: the relay records a completed handshake's SESSION_INIT and replays the exact bytes to a new connector
// session (as it would on a new channel): refused with replayed before any message 2, and counted.
TEST(Session, ReplayedSessionInitIsRefusedAndCounted) {
  World w;
  ASSERT_TRUE(w.Establish());
  ASSERT_EQ(w.relay.seen[0].front().h.type, FrameType::kSessionInit);
  const WireFrame init = w.relay.seen[0].front();
  EXPECT_EQ(w.relay.init_replay.stats().count(InitCheck::kAccepted), 1u);
  EXPECT_EQ(w.relay.init_replay.newest(w.device.noise.public_key), w.init_timestamp);

  w.relay.con.s = Session::Create(w.ConnectorConfig(), &w.relay.con).value();
  const size_t sent_before = w.relay.seen[1].size();
  const SessionResult r = w.relay.Deliver(Dir::kToConnector, init);
  EXPECT_EQ(r.action, SessionAction::kClose);
  Session& con = *w.relay.con.s;
  EXPECT_EQ(con.state(), SessionState::kClosed);
  EXPECT_EQ(con.close_code(), ErrorCode::kReplayed);
  EXPECT_NE(con.close_reason().find("(replay)"), std::string_view::npos) << con.close_reason();
  EXPECT_EQ(con.peer(), nullptr);
  // The only frame sent is the SESSION_CLOSE: no SESSION_ACCEPT for a replay.
  ASSERT_EQ(w.relay.seen[1].size(), sent_before + 1);
  EXPECT_EQ(w.relay.seen[1].back().h.type, FrameType::kSessionClose);
  EXPECT_EQ(LastClose(w.relay, Dir::kToDevice)->first, ErrorCode::kReplayed);
  EXPECT_EQ(w.relay.init_replay.stats().count(InitCheck::kReplayed), 1u);
  EXPECT_EQ(w.relay.init_replay.stats().count(InitCheck::kAccepted), 1u);

  // The device's next session carries a newer timestamp and is accepted.
  w.relay.queue[1].clear();  // the SESSION_CLOSE above was for the replayer
  ASSERT_TRUE(w.Establish());
  EXPECT_EQ(w.relay.init_replay.stats().count(InitCheck::kAccepted), 2u);
  EXPECT_EQ(w.relay.init_replay.size(), 1u);
}

// §6: the connector judges the timestamp against its own clock, 120 s either way.
TEST(Session, SessionInitOutsideTheClockWindowIsRefused) {
  struct Case {
    int64_t offset_s;     // device clock - connector clock
    const char* refused;  // the reason's check name, nullptr: accepted
  };
  for (const Case& c : {Case{-121, "too_old"}, Case{121, "too_new"}, Case{-119, nullptr}, Case{119, nullptr}}) {
    SCOPED_TRACE(c.offset_s);
    World w;
    SessionConfig dev = w.DeviceConfig();
    dev.init_timestamp = static_cast<uint64_t>(static_cast<int64_t>(kNow) + c.offset_s) * kNsPerSecond;
    w.Start(std::move(dev), w.ConnectorConfig());
    (void)w.relay.Offer(w.connector.credential);
    w.relay.Pump();
    if (c.refused != nullptr) {
      EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kReplayed);
      EXPECT_NE(w.relay.con.s->close_reason().find(c.refused), std::string_view::npos)
          << w.relay.con.s->close_reason();
      EXPECT_EQ(w.relay.dev.s->state(), SessionState::kClosed);  // told by the connector's SESSION_CLOSE
      EXPECT_EQ(w.relay.init_replay.size(), 0u);
    } else {
      EXPECT_TRUE(w.relay.con.s->established());
      EXPECT_EQ(w.relay.init_replay.size(), 1u);
    }
  }
}

// §6: the timestamp is required; a message 1 whose payload stops after max_streams (a DeviceHandshake without
// the field, as a pre-timestamp build would send it) is a protocol error.
TEST(Session, SessionInitWithoutTimestampIsAProtocolError) {
  World w;
  w.relay.con.s = Session::Create(w.ConnectorConfig(), &w.relay.con).value();
  crypto::HandshakeOptions o;
  o.pattern = crypto::NoisePattern::kIK;
  o.role = crypto::NoiseRole::kInitiator;
  o.prologue = B(kE2ePrologue);
  o.local_static = w.device.noise;
  o.remote_static = w.connector.noise.public_key;
  auto hs = crypto::HandshakeState::Create(std::move(o)).value();
  DeviceHandshake dh;
  dh.credential = w.device.credential;
  dh.timestamp = (kNow + 1) * kNsPerSecond;
  ByteVec body(dh.EncodedSize());
  ASSERT_TRUE(dh.Encode(body).ok());
  body.resize(body.size() - 8);  // without the u64 timestamp
  ByteVec msg(kMaxNoiseMessageBytes);
  const crypto::HandshakeResult wr = hs.WriteMessage(body, msg);
  ASSERT_TRUE(wr.ok());
  msg.resize(wr.size);
  const FrameHeader h{kFramingVersion, FrameType::kSessionInit, 0, static_cast<uint32_t>(msg.size()), kChannel};
  (void)w.relay.Deliver(Dir::kToConnector, {h, msg});
  EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kProtocolError);
  EXPECT_NE(w.relay.con.s->close_reason().find("device handshake payload: truncated"), std::string_view::npos)
      << w.relay.con.s->close_reason();
  EXPECT_EQ(w.relay.init_replay.size(), 0u);
}

TEST(Session, FramesOutOfStateOrChannelAreDroppedByName) {
  World w;
  w.Start(w.DeviceConfig(), w.ConnectorConfig());
  ByteVec junk(40, 3);
  Session& con = *w.relay.con.s;
  EXPECT_EQ(con.OnFrame({1, FrameType::kSealedStream, 0, 40, kChannel}, junk, kNow, w.relay.out).drop,
            SessionDrop::kUnexpectedFrame);
  EXPECT_EQ(con.OnFrame({1, FrameType::kSessionInit, 0, 40, 0}, junk, kNow, w.relay.out).drop,
            SessionDrop::kWrongChannel);
  ASSERT_TRUE(w.Establish());
  Session& dev = *w.relay.dev.s;
  EXPECT_EQ(dev.OnFrame({1, FrameType::kSessionAccept, 0, 40, kChannel}, junk, kNow, w.relay.out).drop,
            SessionDrop::kUnexpectedFrame);
  EXPECT_EQ(dev.OnFrame({1, FrameType::kSealedStream, 0, 40, kChannel + 1}, junk, kNow, w.relay.out).drop,
            SessionDrop::kWrongChannel);
  // A relay that replays SESSION_INIT to an established connector changes nothing.
  const WireFrame init = w.relay.seen[0].front();
  EXPECT_EQ(w.relay.Deliver(Dir::kToConnector, init).drop, SessionDrop::kUnexpectedFrame);
  EXPECT_TRUE(w.relay.con.s->established());
  EXPECT_EQ(w.relay.con.s->drops(SessionDrop::kUnexpectedFrame), 1u);
}

// ---- Streams and datagrams -------------------------------------------------------------------------------------

TEST(Session, StreamCarriesDataBothWaysThenFin) {
  World w;
  ASSERT_TRUE(w.Establish());
  auto& dev = w.relay.dev;
  auto& con = w.relay.con;
  const StreamId id = dev.mux().Open(kTarget).id;
  w.relay.Pump();
  ASSERT_TRUE(con.opened.count(id));
  ASSERT_TRUE(dev.accepted.count(id));

  const std::string up = Pattern(100'000, 'a'), down = Pattern(70'000, 'K');
  size_t u = 0, d = 0;
  while (u < up.size() || d < down.size()) {
    u += dev.mux().Write(id, B(std::string_view(up).substr(u)));
    d += con.mux().Write(id, B(std::string_view(down).substr(d)));
    w.relay.Pump();
  }
  EXPECT_EQ(con.received[id], up);
  EXPECT_EQ(dev.received[id], down);
  EXPECT_EQ(dev.mux().CloseWrite(id), CallStatus::kOk);
  EXPECT_EQ(con.mux().CloseWrite(id), CallStatus::kOk);
  w.relay.Pump();
  EXPECT_TRUE(con.fins.count(id));
  EXPECT_TRUE(dev.fins.count(id));
  EXPECT_EQ(dev.mux().live_streams(), 0u);
  EXPECT_EQ(con.mux().live_streams(), 0u);
  EXPECT_GT(dev.s->counters().stream_frames_out, 5u);
  EXPECT_EQ(dev.s->counters().stream_frames_out, con.s->counters().stream_frames_in);
  for (size_t i = 0; i < kSessionDropCount; ++i) EXPECT_EQ(con.s->counters().drops[i], 0u) << i;
}

TEST(Session, ResetAndManyStreams) {
  World w;
  ASSERT_TRUE(w.Establish());
  auto& dev = w.relay.dev;
  auto& con = w.relay.con;
  std::vector<StreamId> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(dev.mux().Open(kTarget).id);
  w.relay.Pump();
  EXPECT_EQ(con.opened.size(), 200u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(dev.mux().Write(ids[i], B(Pattern(1000 + i, 'x'))), 1000 + i);
    w.relay.Pump();
  }
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(con.received[ids[i]], Pattern(1000 + i, 'x'));
  EXPECT_EQ(con.mux().Reset(ids[3], ErrorCode::kConnectFailed), CallStatus::kOk);
  EXPECT_EQ(dev.mux().Reset(ids[4], ErrorCode::kCancelled), CallStatus::kOk);
  w.relay.Pump();
  EXPECT_EQ(dev.resets.at(ids[3]), ErrorCode::kConnectFailed);
  EXPECT_EQ(con.resets.at(ids[4]), ErrorCode::kCancelled);
  EXPECT_EQ(dev.mux().live_streams(), 198u);
  EXPECT_EQ(con.mux().live_streams(), 198u);
  EXPECT_TRUE(dev.s->CheckInvariants());
  EXPECT_TRUE(con.s->CheckInvariants());
}

TEST(Session, DatagramsBothWays) {
  World w;
  ASSERT_TRUE(w.Establish());
  w.relay.SendDatagram(w.relay.dev, "ipv4-up-1");
  w.relay.SendDatagram(w.relay.con, "ipv4-down-1");
  const std::string big(kMaxDatagramSize, 'z');
  w.relay.SendDatagram(w.relay.dev, big);
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.datagrams, (std::vector<std::string>{"ipv4-up-1", big}));
  EXPECT_EQ(w.relay.dev.datagrams, (std::vector<std::string>{"ipv4-down-1"}));
  EXPECT_EQ(w.relay.seen[0].back().h.type, FrameType::kSealedDatagram);
  // Sizes outside 1..16384 are refused by name, nothing sent.
  EXPECT_EQ(w.relay.dev.s->SendDatagram({}, w.relay.out).drop, SessionDrop::kBadDatagramSize);
  const std::string too_big(kMaxDatagramSize + 1, 'z');
  EXPECT_EQ(w.relay.dev.s->SendDatagram(B(too_big), w.relay.out).drop, SessionDrop::kBadDatagramSize);
  EXPECT_EQ(w.relay.dev.s->counters().datagrams_out, 2u);
  EXPECT_EQ(w.relay.con.s->counters().datagrams_in, 2u);
}

TEST(Session, SendDatagramBeforeEstablishedIsRefused) {
  World w;
  w.Start(w.DeviceConfig(), w.ConnectorConfig());
  EXPECT_EQ(w.relay.dev.s->SendDatagram(B("x"), w.relay.out).drop, SessionDrop::kNotEstablished);
  EXPECT_EQ(w.relay.dev.s->PollOutgoing(w.relay.out).action, SessionAction::kNone);
}

TEST(Session, RelayDroppingDatagramsLeavesLaterOnesAccepted) {
  World w;
  ASSERT_TRUE(w.Establish());
  int n = 0;
  w.relay.tamper = [&](Dir, WireFrame& f) { return f.h.type != FrameType::kSealedDatagram || (n++ % 3) != 0; };
  for (int i = 0; i < 30; ++i) w.relay.SendDatagram(w.relay.dev, "pkt-" + std::to_string(i));
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.datagrams.size(), 20u);
  EXPECT_EQ(w.relay.con.datagrams.back(), "pkt-29");
  EXPECT_EQ(w.relay.dev.s->counters().datagrams_out, 30u);
  EXPECT_EQ(w.relay.con.s->counters().datagrams_in, 20u);
  for (size_t i = 0; i < kSessionDropCount; ++i) EXPECT_EQ(w.relay.con.s->counters().drops[i], 0u) << i;
  // Streams still work across the counter gaps.
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  EXPECT_EQ(w.relay.dev.mux().Write(id, B("after the gaps")), 14u);
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.received[id], "after the gaps");
}

// With the default options a full DATA chunk makes a SEALED_STREAM frame of exactly one TLS record's plaintext, so a
// link that seals whole frames writes one record per frame (docs/link.md, "Record alignment").
TEST(Session, FullStreamFramesAreExactlyOneTlsRecord) {
  World w;
  ASSERT_TRUE(w.Establish());
  const StreamId id = w.relay.dev.mux().Open(kTarget).id;
  w.relay.Pump();
  const std::string bytes = Pattern(3 * kRecordStreamChunk, 'r');  // fits the 64 KiB outbox
  ASSERT_EQ(w.relay.dev.mux().Write(id, B(bytes)), bytes.size());
  (void)w.relay.Poll(w.relay.dev);
  auto& q = w.relay.queue[0];
  ASSERT_EQ(q.size(), 3u);
  for (const WireFrame& f : q) {
    EXPECT_EQ(f.h.type, FrameType::kSealedStream);
    EXPECT_EQ(kHeaderSize + f.payload.size(), kTlsRecordPlaintext);
  }
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.received[id].size(), bytes.size());
  EXPECT_TRUE(w.relay.con.received[id] == bytes);
}

// ---- Closing ---------------------------------------------------------------------------------------------------

TEST(Session, PeerCloseAndLocalClose) {
  World w;
  ASSERT_TRUE(w.Establish());
  const SessionResult r = w.relay.dev.s->Close(ErrorCode::kCancelled, "user quit", w.relay.out);
  EXPECT_EQ(r.action, SessionAction::kClose);
  w.relay.Handle(Dir::kToConnector, r);
  EXPECT_EQ(w.relay.dev.s->mux(), nullptr);
  EXPECT_TRUE(w.relay.dev.s->CheckInvariants());
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.s->state(), SessionState::kClosed);
  EXPECT_TRUE(w.relay.con.s->closed_by_peer());
  EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kCancelled);
  EXPECT_EQ(w.relay.con.s->close_reason(), "user quit");
  EXPECT_EQ(w.relay.dev.s->Close(ErrorCode::kCancelled, "again", w.relay.out).action, SessionAction::kNone);
}

TEST(Session, RelayConnectorGoneDuringSetUp) {
  World w;
  w.Start(w.DeviceConfig(), w.ConnectorConfig());
  (void)w.relay.Offer(w.connector.credential);
  SessionClose gone{ErrorCode::kConnectorGone, B("link lost")};
  ByteVec p(gone.EncodedSize());
  ASSERT_TRUE(gone.Encode(p).ok());
  const SessionResult r = w.relay.Deliver(
      Dir::kToDevice, {{1, FrameType::kSessionClose, 0, static_cast<uint32_t>(p.size()), kChannel}, p});
  EXPECT_EQ(r.action, SessionAction::kClose);
  EXPECT_EQ(r.size, 0u);
  EXPECT_EQ(w.relay.dev.s->close_code(), ErrorCode::kConnectorGone);
  EXPECT_TRUE(w.relay.dev.s->CheckInvariants());
}

TEST(Session, SendCounterExhaustionClosesWithRekeyRequired) {
  World w;
  ASSERT_TRUE(w.Establish());
  w.relay.dev.s->SetSendCounterForTest(crypto::kRejectAfterMessages);
  EXPECT_EQ(w.relay.dev.s->PollOutgoing(w.relay.out).action, SessionAction::kNone);  // nothing due: no close yet
  (void)w.relay.dev.mux().Open(kTarget);
  const SessionResult r = w.relay.dev.s->PollOutgoing(w.relay.out);
  EXPECT_EQ(r.action, SessionAction::kClose);
  w.relay.Handle(Dir::kToConnector, r);
  EXPECT_EQ(w.relay.dev.s->close_code(), ErrorCode::kRekeyRequired);
  w.relay.Pump();
  EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kRekeyRequired);

  World v;
  ASSERT_TRUE(v.Establish());
  v.relay.con.s->SetSendCounterForTest(crypto::kRejectAfterMessages);
  EXPECT_EQ(v.relay.con.s->SendDatagram(B("pkt"), v.relay.out).action, SessionAction::kClose);
  EXPECT_EQ(v.relay.con.s->close_code(), ErrorCode::kRekeyRequired);
}

TEST(Session, MuxFatalReasonClosesWithItsCode) {
  World w;
  w.relay.con.s = Session::Create(w.ConnectorConfig(), &w.relay.con).value();
  RawDevice raw{w.device.noise, {}, {}};
  ASSERT_EQ(w.relay.Deliver(Dir::kToConnector, raw.Init(w.connector.noise.public_key, w.device.credential)).action,
            SessionAction::kSend);
  ASSERT_TRUE(w.relay.con.s->established());
  ASSERT_TRUE(raw.Accept(w.relay.seen[1].back()));
  // An authenticated, well-formed message whose inner frame is truncated: protocol_error from the mux.
  const uint8_t truncated[] = {0x03, 0, 0, 0, 0, 1, 0, 50, 'x'};
  EXPECT_EQ(w.relay.Deliver(Dir::kToConnector, raw.Seal(FrameType::kSealedStream, truncated)).action,
            SessionAction::kClose);
  EXPECT_EQ(w.relay.con.s->close_code(), ErrorCode::kProtocolError);
  EXPECT_NE(w.relay.con.s->close_reason().find("stream mux: truncated"), std::string_view::npos)
      << w.relay.con.s->close_reason();

  // Session window violation: flow_control.
  World v;
  SessionConfig small = v.ConnectorConfig();
  small.mux.session_window = 1000;
  v.relay.con.s = Session::Create(std::move(small), &v.relay.con).value();
  v.relay.con.auto_consume = false;
  RawDevice raw2{v.device.noise, {}, {}};
  (void)v.relay.Deliver(Dir::kToConnector, raw2.Init(v.connector.noise.public_key, v.device.credential));
  ASSERT_TRUE(raw2.Accept(v.relay.seen[1].back()));
  ByteVec plain(kMaxSealedPlaintext);
  InnerFrameWriter iw(plain);
  ASSERT_TRUE(iw.Open(1, 1 << 20, kTarget));
  ASSERT_TRUE(iw.Data(1, ByteVec(2000, 1), false));
  // DATA before OPEN_OK is a per-stream error; accept first so the session window is what breaks.
  v.relay.con.auto_accept = true;
  plain.resize(iw.written());
  ByteVec open_only(plain.begin(), plain.begin() + static_cast<ptrdiff_t>(kInnerHeaderSize + OpenPayloadSize(kTarget)));
  (void)v.relay.Deliver(Dir::kToConnector, raw2.Seal(FrameType::kSealedStream, open_only));
  ASSERT_TRUE(v.relay.con.s->established());
  ByteVec data_only(plain.begin() + static_cast<ptrdiff_t>(open_only.size()), plain.end());
  (void)v.relay.Deliver(Dir::kToConnector, raw2.Seal(FrameType::kSealedStream, data_only));
  EXPECT_EQ(v.relay.con.s->state(), SessionState::kClosed);
  EXPECT_EQ(v.relay.con.s->close_code(), ErrorCode::kFlowControl);
}

// A visitor that closes the session from inside a callback: the mux must stay alive until the call returns.
TEST(Session, CloseFromInsideACallbackIsSafe) {
  World w;
  ASSERT_TRUE(w.Establish());
  struct Closer : testing::Endpoint {
    std::array<uint8_t, kSessionOutSize> buf{};
    void OnDatagram(std::span<uint8_t>) override {
      (void)s->Close(ErrorCode::kCancelled, "closing from a callback", buf);
    }
  };
  Closer c;
  c.s = Session::Create(w.ConnectorConfig(), &c).value();
  RawDevice raw{w.device.noise, {}, {}};
  WireFrame init = raw.Init(w.connector.noise.public_key, w.device.credential);
  const SessionResult a = c.s->OnFrame(init.h, init.payload, kNow, w.relay.out);
  ASSERT_EQ(a.action, SessionAction::kSend);
  ASSERT_TRUE(raw.Accept({{}, ByteVec(w.relay.out.begin() + kHeaderSize,
                                      w.relay.out.begin() + static_cast<ptrdiff_t>(a.size))}));
  WireFrame d = raw.Seal(FrameType::kSealedDatagram, B("boom"));
  const SessionResult r = c.s->OnFrame(d.h, d.payload, kNow, w.relay.out);
  EXPECT_EQ(r.action, SessionAction::kClose);
  EXPECT_EQ(c.s->state(), SessionState::kClosed);
  EXPECT_EQ(c.s->close_code(), ErrorCode::kCancelled);
  EXPECT_TRUE(c.s->CheckInvariants());
}

// ---- No allocation on the established data path ----------------------------------------------------------------

struct Sink : SessionVisitor {
  Session* s = nullptr;
  uint64_t bytes = 0, packets = 0;
  void OnStreamOpen(StreamId id, const OpenTarget&) override { (void)s->mux()->Accept(id); }
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override {
    bytes += d.size();
    (void)s->mux()->Consume(id, d.size());
  }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t> p) override {
    bytes += p.size();
    ++packets;
  }
};

// Hands every frame in out[0, n) to `to`, in place (the relay path without copies).
void Forward(Session& to, std::span<uint8_t> frames, std::span<uint8_t> scratch) {
  FrameReader reader;
  while (!frames.empty()) {
    const ReadResult r = reader.Next(frames);
    ASSERT_EQ(r.kind, ReadKind::kFrame);
    const SessionResult res = to.OnFrame(r.header, frames.subspan(kHeaderSize, r.header.length), kNow, scratch);
    ASSERT_EQ(res.action, SessionAction::kNone);
    frames = frames.subspan(r.consumed);
  }
}

TEST(Session, EstablishedDataPathNoAlloc) {
  World w;
  SessionConfig dc = w.DeviceConfig(), cc = w.ConnectorConfig();
  Sink dsink, csink;
  auto dev = Session::Create(std::move(dc), &dsink).value();
  auto con = Session::Create(std::move(cc), &csink).value();
  dsink.s = dev.get();
  csink.s = con.get();
  static std::array<uint8_t, 4 * kSessionOutSize> out, scratch;
  {
    SessionOffer o{B("conn-1"), w.connector.credential};
    ByteVec p(o.EncodedSize());
    ASSERT_TRUE(o.Encode(p).ok());
    SessionResult r = dev->OnFrame({1, FrameType::kSessionOffer, 0, static_cast<uint32_t>(p.size()), kChannel}, p,
                                   kNow, out);
    ASSERT_EQ(r.action, SessionAction::kSend);
    r = con->OnFrame({1, FrameType::kSessionInit, 0, static_cast<uint32_t>(r.size - kHeaderSize), kChannel},
                     std::span(out).subspan(kHeaderSize, r.size - kHeaderSize), kNow, scratch);
    ASSERT_EQ(r.action, SessionAction::kSend);
    r = dev->OnFrame({1, FrameType::kSessionAccept, 0, static_cast<uint32_t>(r.size - kHeaderSize), kChannel},
                     std::span(scratch).subspan(kHeaderSize, r.size - kHeaderSize), kNow, out);
    ASSERT_TRUE(dev->established() && con->established());
  }
  const StreamId a = dev->mux()->Open(kTarget).id;  // opening allocates (a map node): not the steady path
  auto pump = [&] {
    for (;;) {
      SessionResult r1 = dev->PollOutgoing(out);
      if (r1.action == SessionAction::kSend) Forward(*con, std::span(out).first(r1.size), scratch);
      SessionResult r2 = con->PollOutgoing(out);
      if (r2.action == SessionAction::kSend) Forward(*dev, std::span(out).first(r2.size), scratch);
      if (r1.action == SessionAction::kNone && r2.action == SessionAction::kNone) return;
    }
  };
  pump();
  const std::vector<uint8_t> chunk(16 * 1024, 0x5c);
  auto steady = [&] {
    for (int i = 0; i < 64; ++i) {
      (void)dev->mux()->Write(a, chunk);
      (void)con->mux()->Write(a, chunk);
      SessionResult r = dev->SendDatagram(std::span(chunk).first(1400), out);
      ASSERT_EQ(r.action, SessionAction::kSend);
      Forward(*con, std::span(out).first(r.size), scratch);
      pump();
    }
  };
  steady();  // warm-up: queues reach their high-water mark
  const strait::testing::AllocationCounter allocations;
  steady();
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_GT(csink.bytes, 64u * chunk.size());
  EXPECT_GT(dsink.bytes, 64u * chunk.size());
  EXPECT_EQ(csink.packets, 128u);
}

}  // namespace
}  // namespace strait::tunnel
