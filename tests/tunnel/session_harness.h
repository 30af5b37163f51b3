// A device Session and a connector Session with a fake relay between them that shuttles link frames (and can
// misbehave: drop, rewrite, hold back or replay frames). Credentials are issued in memory by a test operator.
// Shared by session_test.cc; not a library.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/session.h"

namespace strait::tunnel::testing {

inline constexpr uint64_t kNow = 1'700'000'000;
inline constexpr uint64_t kDay = 86'400;
inline constexpr uint32_t kChannel = 7;

using ByteVec = std::vector<uint8_t>;

inline std::span<const uint8_t> B(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
// A stream target and a recognisable byte pattern for stream tests.
inline const OpenTarget kTarget{AddrType::kDomain, B("intranet.example"), 443};
inline std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + static_cast<char>(i % 23));
  return s;
}

// ---- Credentials ----
struct Tenant {
  std::string id;
  crypto::Ed25519KeyPair key = crypto::Ed25519KeyPair::Generate();
  ByteVec cert;
};
struct Identity {
  ByteVec credential;
  crypto::X25519KeyPair noise = crypto::X25519KeyPair::Generate();
};

struct Pki {
  crypto::Ed25519KeyPair root = crypto::Ed25519KeyPair::Generate();

  Tenant MakeTenant(std::string id) const {
    Tenant t;
    t.id = std::move(id);
    t.cert = crypto::IssueTenantCert(root, {t.id, t.key.public_key, kNow - 10 * kDay, kNow + 10 * kDay}).value();
    return t;
  }
  // A credential for `noise` (a fresh key pair unless given), valid [nb, na].
  static Identity Issue(const Tenant& t, crypto::Role role, std::string_view subject, uint64_t nb = kNow - kDay,
                        uint64_t na = kNow + kDay, std::optional<crypto::X25519KeyPair> noise = std::nullopt) {
    Identity id;
    if (noise) id.noise = *noise;
    const crypto::CredentialParams p{role, subject, crypto::Ed25519KeyPair::Generate().public_key,
                                     id.noise.public_key, 1, nb, na};
    id.credential = crypto::IssueCredential(t.key, t.cert, p).value();
    return id;
  }
};

// ---- One end ----
struct Endpoint : SessionVisitor {
  std::unique_ptr<Session> s;
  bool auto_accept = true;
  bool auto_consume = true;
  std::map<StreamId, std::string> received;
  std::set<StreamId> opened, accepted, fins;
  std::map<StreamId, ErrorCode> resets;
  std::vector<std::string> datagrams;

  StreamMux& mux() { return *s->mux(); }
  void OnStreamOpen(StreamId id, const OpenTarget&) override {
    opened.insert(id);
    if (auto_accept) (void)s->mux()->Accept(id);
  }
  void OnStreamAccepted(StreamId id) override { accepted.insert(id); }
  void OnStreamData(StreamId id, std::span<const uint8_t> data) override {
    received[id].append(data.begin(), data.end());
    if (auto_consume) (void)s->mux()->Consume(id, data.size());
  }
  void OnStreamFin(StreamId id) override { fins.insert(id); }
  void OnStreamReset(StreamId id, ErrorCode code) override { resets[id] = code; }
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t> packet) override { datagrams.emplace_back(packet.begin(), packet.end()); }
};

inline SessionConfig MakeConfig(SessionRole role, const Pki& pki, const Tenant& t, const Identity& id) {
  SessionConfig c;
  c.role = role;
  c.credential = id.credential;
  c.static_key = id.noise;
  c.root_key = pki.root.public_key;
  c.tenant = t.id;
  if (role == SessionRole::kDevice) c.init_timestamp = kNow * kNsPerSecond;  // a connector needs its init_replay
  return c;
}

// ---- The relay ----
struct WireFrame {
  FrameHeader h;
  ByteVec payload;
};
enum class Dir : uint8_t { kToConnector, kToDevice };

struct Relay {
  Endpoint dev, con;
  std::deque<WireFrame> queue[2];
  std::vector<WireFrame> seen[2];   // every frame the relay was handed, per direction (for replays)
  // Called for each frame before it is queued; may rewrite it; returns false to drop it.
  std::function<bool(Dir, WireFrame&)> tamper;
  std::vector<SessionResult> results[2];  // what each endpoint's calls returned (by the endpoint's direction)
  uint64_t now = kNow;
  InitReplayRecord init_replay;  // the connector's (§6)
  std::array<uint8_t, kSessionOutSize> out{};

  Endpoint& To(Dir d) { return d == Dir::kToConnector ? con : dev; }
  static Dir From(const Endpoint& e, const Relay& r) { return &e == &r.dev ? Dir::kToConnector : Dir::kToDevice; }

  // Splits a session's output into frames and queues them towards the other end.
  void Emit(Dir d, std::span<const uint8_t> bytes) {
    FrameReader reader;
    while (!bytes.empty()) {
      const ReadResult r = reader.Next(bytes);
      if (r.kind != ReadKind::kFrame) std::abort();  // a session wrote something that is not a whole frame
      WireFrame f{r.header, ByteVec(r.payload.begin(), r.payload.end())};
      seen[static_cast<int>(d)].push_back(f);
      if (!tamper || tamper(d, f)) queue[static_cast<int>(d)].push_back(std::move(f));
      bytes = bytes.subspan(r.consumed);
    }
  }
  void Handle(Dir d, SessionResult r) {
    results[static_cast<int>(d)].push_back(r);
    if ((r.action == SessionAction::kSend || r.action == SessionAction::kClose) && r.size != 0) {
      Emit(d, std::span(out).first(r.size));
    }
  }
  // Hands one frame straight to an endpoint (no tampering).
  SessionResult Deliver(Dir d, WireFrame f) {
    Endpoint& e = To(d);
    const SessionResult r = e.s->OnFrame(f.h, f.payload, now, out);
    Handle(d == Dir::kToConnector ? Dir::kToDevice : Dir::kToConnector, r);
    return r;
  }
  bool DeliverQueued(Dir d) {
    auto& q = queue[static_cast<int>(d)];
    if (q.empty()) return false;
    WireFrame f = std::move(q.front());
    q.pop_front();
    (void)Deliver(d, std::move(f));
    return true;
  }
  bool Poll(Endpoint& e) {
    bool any = false;
    for (;;) {
      const SessionResult r = e.s->PollOutgoing(out);
      if (r.action == SessionAction::kNone) return any;
      Handle(From(e, *this), r);
      any = true;
      if (r.action == SessionAction::kClose) return any;
    }
  }
  // Moves everything both ways until nothing is left.
  void Pump() {
    for (int rounds = 0; rounds < 100000; ++rounds) {
      bool moved = Poll(dev);
      moved |= Poll(con);
      while (DeliverQueued(Dir::kToConnector)) moved = true;
      while (DeliverQueued(Dir::kToDevice)) moved = true;
      if (!moved) return;
    }
    std::abort();
  }
  // The relay's SESSION_OFFER of the connector's credential to the device.
  SessionResult Offer(std::span<const uint8_t> connector_credential, std::string_view connector_id = "conn-1") {
    SessionOffer o;
    o.connector_id = B(connector_id);
    o.connector_credential = connector_credential;
    ByteVec payload(o.EncodedSize());
    if (!o.Encode(payload).ok()) std::abort();
    return Deliver(Dir::kToDevice,
                   WireFrame{{kFramingVersion, FrameType::kSessionOffer, 0, static_cast<uint32_t>(payload.size()),
                              kChannel},
                             payload});
  }
  void SendDatagram(Endpoint& e, std::string_view packet) {
    Handle(From(e, *this), e.s->SendDatagram(B(packet), out));
  }
};

// A PKI with tenant "acme", a device "laptop-1" and a connector "conn-1", and a relay wired with both sessions.
struct World {
  Pki pki;
  Tenant acme = pki.MakeTenant("acme");
  Identity device = Pki::Issue(acme, crypto::Role::kDevice, "laptop-1");
  Identity connector = Pki::Issue(acme, crypto::Role::kConnector, "conn-1");
  Relay relay;
  uint64_t init_timestamp = kNow * kNsPerSecond;  // the device's last SESSION_INIT timestamp

  // Each device config carries a newer SESSION_INIT timestamp; each connector config the relay's replay record.
  SessionConfig DeviceConfig() {
    SessionConfig c = MakeConfig(SessionRole::kDevice, pki, acme, device);
    c.init_timestamp = ++init_timestamp;
    return c;
  }
  SessionConfig ConnectorConfig() {
    SessionConfig c = MakeConfig(SessionRole::kConnector, pki, acme, connector);
    c.init_replay = &relay.init_replay;
    return c;
  }
  void Start(SessionConfig dev_cfg, SessionConfig con_cfg) {
    relay.dev.s = Session::Create(std::move(dev_cfg), &relay.dev).value();
    relay.con.s = Session::Create(std::move(con_cfg), &relay.con).value();
  }
  // Full set-up: offer, SESSION_INIT, SESSION_ACCEPT.
  bool Establish() {
    Start(DeviceConfig(), ConnectorConfig());
    (void)relay.Offer(connector.credential);
    relay.Pump();
    return relay.dev.s->established() && relay.con.s->established();
  }
};

}  // namespace strait::tunnel::testing
