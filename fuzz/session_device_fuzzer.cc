// A device Session (tunnel/session.h, role kDevice) with fixed keys, fed SESSION_OFFERs, Noise message 2 and
// sealed frames derived from the input. fuzz/session_fuzzer.cc does the connector side; this is the other half.
//
// The other end is the genuine connector "conn-1" built from the bare handshake steps (tunnel/e2e_handshake.h):
// the device's ephemeral and the connector's are fixed, so the device's SESSION_INIT for conn-1 and the
// connector's SESSION_ACCEPT are the same bytes every run (computed once, below), libFuzzer can mutate a real
// message 2, and the connector's transport can seal what the input asks for and open what the device seals.
//
// Input: [u8 flags] then records [u8 op][u16 len, big-endian][len bytes], until the input ends.
//   flags & 1: the device pins conn-1's Noise key (enrollment pinning); otherwise any connector of its tenant.
//   op % 8 == 0  raw frame: bytes[0] = frame type (any byte), bytes[1] = channel selector, payload = bytes[2..]
//            1  SESSION_OFFER frame (OnFrame) offering conn-1's credential on channel selector bytes[0], with
//               connector id bytes[1..]
//            2  OnOffer with a decoded offer: bytes[0] % 6 picks the credential (0 conn-1; 1 conn-2, same tenant,
//               another Noise key; 2 a connector of another tenant; 3 a device credential; 4 conn-1's with the bit
//               bytes[2..3] flipped; 5 the bytes[4..] themselves), bytes[1] the channel selector, bytes[4..] the id
//            3  SESSION_ACCEPT frame: the genuine message 2 with the bit bytes[1..2] flipped (0xFFFF: none) on
//               channel selector bytes[0]
//            4  SEALED_STREAM sealed by conn-1 around plaintext = bytes (arbitrary inner frames)
//            5  SEALED_DATAGRAM sealed by conn-1 around plaintext = bytes
//            6  device application: bytes[0] % 4: 0 mux Open(IPv4 bytes[1..4], port 443); 1 Write(bytes[1..]) on
//               the newest stream; 2 SendDatagram(bytes[1..]); 3 Close(code = bytes[1])
//            7  the clock moves past every credential's expiry (later offers are refused)
// After each record the device's PollOutgoing is drained and every frame it wrote goes to conn-1.
//
// Properties (trap on violation), beyond "never crashes":
//   - CheckInvariants() after every call; the state only moves forward (await_offer -> await_accept ->
//     established -> closed); a kDrop result is counted under its reason and changes no state; a closed session
//     drops every frame as after_close and never sends.
//   - An offer moves the session on (SESSION_INIT, peer set) only with a connector credential of the device's
//     tenant, valid now, and pinned when pinning is on: conn-1 (always) or conn-2 (unpinned). Every other offer
//     closes the session with SESSION_CLOSE bad_credential. SESSION_INIT to conn-1 is the genuine message 1, byte
//     for byte, on the offered channel.
//   - The session is established only by the genuine, unflipped message 2 after the genuine message 1: a
//     flipped message 2, or any message 2 after an INIT to conn-2, closes the session.
//   - Everything the device writes parses as whole frames on its channel, of the types its state allows
//     (SESSION_INIT only when leaving await_offer, SESSION_CLOSE last); every sealed frame opens at conn-1 and a
//     stream frame's plaintext is whole inner frames.
//   - The mux never reports an OPEN to a device.
//
// The seed corpus (fuzz/corpus/session_device/) is written by fuzz/corpus_gen/session_device_seeds.py.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/credential.h"
#include "crypto/keys.h"
#include "crypto/transport.h"
#include "fuzz/credential_fuzz_keys.h"
#include "tunnel/e2e_handshake.h"
#include "tunnel/frame_reader.h"
#include "tunnel/inner_frame.h"
#include "tunnel/session.h"

namespace {

using namespace strait;          // NOLINT(google-build-using-namespace)
using namespace strait::tunnel;  // NOLINT(google-build-using-namespace)

constexpr uint64_t kNow = 1'700'000'000;
constexpr uint64_t kLate = kNow + 500;  // after every credential's not_after (kNow + 100)
constexpr uint32_t kChannel = 7;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

struct NullVisitor : SessionVisitor {
  void OnStreamOpen(StreamId, const OpenTarget&) override {}
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId, std::span<const uint8_t>) override {}
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t>) override {}
};

// Everything fixed: keys, credentials, the genuine message 1 (device -> conn-1) and message 2 (conn-1's answer),
// and conn-1's transport keys for that handshake.
struct Fixture {
  crypto::Ed25519KeyPair root = fuzz::FuzzKey(0x52);
  crypto::Ed25519KeyPair tenant = fuzz::FuzzKey(0x54);
  crypto::Ed25519KeyPair other_tenant = fuzz::FuzzKey(0x55);
  crypto::X25519KeyPair device_noise = fuzz::FuzzNoiseKey(0x44);
  crypto::X25519KeyPair conn1_noise = fuzz::FuzzNoiseKey(0x43);
  crypto::X25519KeyPair conn2_noise = fuzz::FuzzNoiseKey(0x42);
  std::optional<crypto::X25519KeyPair> device_eph = fuzz::FuzzNoiseKey(0x65);
  std::optional<crypto::X25519KeyPair> conn_eph = fuzz::FuzzNoiseKey(0x66);
  std::vector<uint8_t> tenant_cert, other_cert;
  std::vector<uint8_t> device_cred, conn1_cred, conn2_cred, foreign_cred;
  std::vector<uint8_t> init;    // message 1 as the device writes it to conn-1
  std::vector<uint8_t> accept;  // message 2, conn-1's answer
  std::optional<crypto::TransportKeys> conn1_keys;

  Fixture() {
    tenant_cert = crypto::IssueTenantCert(root, {"acme", tenant.public_key, kNow - 1000, kNow + 1000}).value();
    other_cert = crypto::IssueTenantCert(root, {"other", other_tenant.public_key, kNow - 1000, kNow + 1000}).value();
    device_cred = Issue(tenant, tenant_cert, crypto::Role::kDevice, "laptop-1", device_noise);
    conn1_cred = Issue(tenant, tenant_cert, crypto::Role::kConnector, "conn-1", conn1_noise);
    conn2_cred = Issue(tenant, tenant_cert, crypto::Role::kConnector, "conn-2", conn2_noise);
    foreign_cred = Issue(other_tenant, other_cert, crypto::Role::kConnector, "conn-x", conn1_noise);

    // Message 1, from a device Session exactly like the fuzzed one (same config, same ephemeral).
    NullVisitor v;
    auto s = Session::Create(DeviceConfig(false), &v).value();
    SessionOffer offer;
    offer.connector_credential = conn1_cred;
    std::vector<uint8_t> out(kSessionOutSize);
    const SessionResult r = s->OnOffer(kChannel, offer, kNow, out);
    Check(r.action == SessionAction::kSend);
    init.assign(out.begin() + kHeaderSize, out.begin() + static_cast<ptrdiff_t>(r.size));

    // Message 2, from conn-1.
    InitReplayRecord record;
    const E2eIdentity self{&conn1_noise, &root.public_key, "acme", kNow, &conn_eph};
    ConnectorHandshake mine;
    mine.initial_session_window = 1 << 20;
    mine.max_streams = 8;
    std::vector<uint8_t> m2(kMaxNoiseMessageBytes);
    auto done = AnswerSessionInit(self, init, record, mine, m2);
    Check(done.ok());
    accept.assign(m2.begin(), m2.begin() + static_cast<ptrdiff_t>(done->message_size));
    conn1_keys.emplace(done->keys);
  }
  std::vector<uint8_t> Issue(const crypto::Ed25519KeyPair& signer, const std::vector<uint8_t>& cert,
                             crypto::Role role, std::string_view subject, const crypto::X25519KeyPair& noise) {
    const crypto::CredentialParams p{role, subject, fuzz::FuzzKey(0x70).public_key,
                                     noise.public_key, 1, kNow - 100, kNow + 100};
    return crypto::IssueCredential(signer, cert, p).value();
  }
  SessionConfig DeviceConfig(bool pinned) const {
    SessionConfig c;
    c.role = SessionRole::kDevice;
    c.credential = device_cred;
    c.static_key = device_noise;
    c.root_key = root.public_key;
    c.tenant = "acme";
    if (pinned) c.pinned_connectors = std::vector<crypto::X25519PublicKey>{conn1_noise.public_key};
    c.init_timestamp = kNow * kNsPerSecond;
    c.mux.session_window = 1 << 20;
    c.mux.stream_window = 64 << 10;
    c.mux.max_streams = 8;
    c.ephemeral_for_test = device_eph;
    return c;
  }
};

const Fixture& Fix() {
  static const Fixture* f = new Fixture();
  return *f;
}

// The device's application: consumes everything; a datagram starting with 0xCC closes the session from inside
// the callback.
struct App : SessionVisitor {
  Session* s = nullptr;
  StreamId newest = 0;
  std::array<uint8_t, kSessionOutSize> cb_out{};
  std::optional<SessionResult> from_callback;

  void OnStreamOpen(StreamId, const OpenTarget&) override { __builtin_trap(); }  // a device never gets OPEN
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override { (void)s->mux()->Consume(id, d.size()); }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t> p) override {
    Check(!p.empty() && p.size() <= kMaxDatagramSize);
    if (p[0] == 0xCC) from_callback = s->Close(ErrorCode::kCancelled, "closed by the app", cb_out);
  }
};

uint32_t ChannelFor(uint8_t selector) {
  constexpr uint32_t kChannels[4] = {kChannel, 0, kChannel + 1, kChannel};
  return kChannels[selector % 4];
}

struct Run {
  App app;
  std::unique_ptr<Session> dev;
  uint64_t now = kNow;
  bool pinned = false;
  // What the device did during set-up.
  bool init_to_conn1 = false;  // it wrote the genuine message 1 (to conn-1)
  bool expect_close_bad_credential = false;
  // conn-1's side once the device is established (the keys exist from the start: conn-1 may seal early).
  crypto::TransportSession conn{*Fix().conn1_keys};
  uint64_t stream_out = 0;  // conn-1's next SEALED_STREAM sequence number
  uint64_t stream_in = 0;   // the device's next one
  std::array<uint8_t, kSessionOutSize> out{};
  std::vector<uint8_t> payload;

  // Everything the device wrote: whole frames on its channel, in an order its state allows.
  void Consume(std::span<const uint8_t> bytes, SessionAction action, SessionState before) {
    FrameReader reader;
    while (!bytes.empty()) {
      const ReadResult r = reader.Next(bytes);
      Check(r.kind == ReadKind::kFrame);
      Check(r.header.channel == dev->channel() && r.header.channel != 0);
      const bool last = r.consumed == bytes.size();
      switch (r.header.type) {
        case FrameType::kSessionInit:
          Check(last && action == SessionAction::kSend && before == SessionState::kAwaitOffer);
          Check(dev->state() == SessionState::kAwaitAccept);
          if (dev->peer()->subject_id == "conn-1") {
            Check(std::equal(r.payload.begin(), r.payload.end(), Fix().init.begin(), Fix().init.end()));
            init_to_conn1 = true;
          }
          break;
        case FrameType::kSessionClose: {
          Check(last && dev->state() == SessionState::kClosed);
          auto close = SessionClose::Decode(r.payload);
          Check(close.ok());
          if (expect_close_bad_credential) Check(close->code == ErrorCode::kBadCredential);
          break;
        }
        case FrameType::kSealedStream:
        case FrameType::kSealedDatagram: {
          Check(init_to_conn1);  // only a session conn-1 accepted seals anything
          std::vector<uint8_t> sealed(r.payload.begin(), r.payload.end());
          const SealedAd ad = SealedAssociatedData(r.header.type, stream_in);
          const crypto::Opened o = conn.Open(ad.view(), sealed);
          Check(o.status == crypto::OpenStatus::kOk);
          if (r.header.type == FrameType::kSealedStream) {
            ++stream_in;
            InnerFrameReader inner(o.plaintext);
            InnerFrame f;
            InnerStatus st;
            while ((st = inner.Next(&f)) == InnerStatus::kFrame) {
            }
            Check(st == InnerStatus::kEnd);
          }
          break;
        }
        default: Check(false);
      }
      bytes = bytes.subspan(r.consumed);
    }
  }

  // Runs one call and judges it. `accept_genuine`: set when the call fed message 2 on the session's channel, and
  // whether it was the genuine one.
  template <class F>
  SessionResult Step(F&& call, std::optional<bool> accept_genuine = std::nullopt) {
    const SessionState before = dev->state();
    std::array<uint64_t, kSessionDropCount> drops_before = dev->counters().drops;
    const SessionResult r = call();
    Check(dev->CheckInvariants());
    Check(static_cast<uint8_t>(dev->state()) >= static_cast<uint8_t>(before));
    Check(dev->state() != SessionState::kAwaitInit);
    if (r.action == SessionAction::kDrop) {
      Check(dev->drops(r.drop) == drops_before[static_cast<size_t>(r.drop)] + 1);
      Check(r.size == 0 && dev->state() == before);
    }
    if (r.action == SessionAction::kClose) Check(dev->state() == SessionState::kClosed);
    if (before == SessionState::kClosed) Check(r.action != SessionAction::kSend);
    if (dev->state() == SessionState::kAwaitAccept) {
      const crypto::VerifiedCredential* peer = dev->peer();
      Check(peer != nullptr && peer->tenant_id == "acme" && peer->role == crypto::Role::kConnector);
      Check(peer->subject_id == "conn-1" || (!pinned && peer->subject_id == "conn-2"));
    }
    if (before == SessionState::kAwaitAccept && dev->established()) {
      Check(accept_genuine.value_or(false) && init_to_conn1);  // nothing else completes the handshake
    }
    if (before == SessionState::kAwaitAccept && accept_genuine.has_value() && !dev->established()) {
      // A message 2 on the session's channel that did not establish (flipped, or not for this message 1) closes.
      Check(dev->state() == SessionState::kClosed && !(*accept_genuine && init_to_conn1));
    }
    if (app.from_callback) {
      const SessionResult cb = *app.from_callback;
      app.from_callback.reset();
      if (cb.size != 0) Consume(std::span(app.cb_out).first(cb.size), cb.action, before);
    }
    if (r.size != 0) Consume(std::span(out).first(r.size), r.action, before);
    return r;
  }

  SessionResult Frame(FrameType type, uint32_t channel, std::span<const uint8_t> bytes,
                      std::optional<bool> accept_genuine = std::nullopt) {
    payload.assign(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(std::min(bytes.size(), kMaxPayload)));
    const FrameHeader h{kFramingVersion, type, 0, static_cast<uint32_t>(payload.size()), channel};
    const bool was_closed = dev->state() == SessionState::kClosed;
    return Step(
        [&] {
          const SessionResult r = dev->OnFrame(h, payload, now, out);
          if (was_closed) Check(r.action == SessionAction::kDrop && r.drop == SessionDrop::kAfterClose);
          return r;
        },
        accept_genuine);
  }

  // An offer of `credential`; `acceptable`: the device must take it (in await_offer, on a non-zero channel).
  void Offer(uint32_t channel, std::span<const uint8_t> credential, std::span<const uint8_t> id, bool via_frame,
             bool acceptable) {
    SessionOffer offer;
    offer.connector_id = id.first(std::min<size_t>(id.size(), 255));
    offer.connector_credential = credential;
    const SessionState before = dev->state();
    const bool judged = before == SessionState::kAwaitOffer && channel != 0;
    expect_close_bad_credential = judged && !acceptable;
    SessionResult r;
    if (via_frame) {
      std::vector<uint8_t> buf(offer.EncodedSize());
      auto n = offer.Encode(buf);
      if (!n) return;
      r = Frame(FrameType::kSessionOffer, channel, std::span(buf).first(*n));
    } else {
      r = Step([&] { return dev->OnOffer(channel, offer, now, out); });
    }
    expect_close_bad_credential = false;
    if (!judged) return;
    if (acceptable) {
      Check(r.action == SessionAction::kSend && dev->state() == SessionState::kAwaitAccept);
      Check(dev->channel() == channel);
      const std::string_view id_kept = dev->connector_id();
      Check(id_kept.size() == offer.connector_id.size() &&
            std::memcmp(id_kept.data(), offer.connector_id.data(), id_kept.size()) == 0);
    } else {
      Check(r.action == SessionAction::kClose && dev->state() == SessionState::kClosed);
    }
  }

  void Sealed(FrameType type, std::span<const uint8_t> plaintext) {
    if (plaintext.size() > kMaxSealedPlaintext) return;
    std::vector<uint8_t> buf(crypto::kTransportOverhead + plaintext.size());
    std::copy(plaintext.begin(), plaintext.end(), buf.begin() + crypto::kTransportHeaderSize);
    const SealedAd ad = SealedAssociatedData(type, stream_out);
    Check(conn.Seal(ad.view(), buf, plaintext.size()).status == crypto::SealStatus::kOk);
    if (type == FrameType::kSealedStream) ++stream_out;
    const uint32_t ch = dev->channel() != 0 ? dev->channel() : kChannel;
    (void)Frame(type, ch, buf);
  }

  void Drain() {
    for (int i = 0; i < 64; ++i) {
      bool more = false;
      (void)Step([&] {
        const SessionResult r = dev->PollOutgoing(out);
        more = r.action == SessionAction::kSend;
        return r;
      });
      if (!more) return;
    }
  }
};

uint16_t U16(std::span<const uint8_t> b, size_t at) {
  return b.size() >= at + 2 ? static_cast<uint16_t>((b[at] << 8) | b[at + 1]) : 0xFFFF;
}

std::vector<uint8_t> Flipped(const std::vector<uint8_t>& bytes, uint16_t bit) {
  std::vector<uint8_t> v = bytes;
  if (bit != 0xFFFF) v[(bit / 8) % v.size()] ^= static_cast<uint8_t>(1u << (bit % 8));
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Fixture& fix = Fix();
  Run run;
  run.pinned = (data[0] & 1) != 0;
  auto created = Session::Create(fix.DeviceConfig(run.pinned), &run.app);
  Check(created.ok());
  run.dev = std::move(created).value();
  run.app.s = run.dev.get();
  Check(run.dev->state() == SessionState::kAwaitOffer);

  std::span<const uint8_t> in(data + 1, size - 1);
  while (in.size() >= 3) {
    const uint8_t op = in[0];
    const size_t len = std::min<size_t>((size_t{in[1]} << 8) | in[2], in.size() - 3);
    const std::span<const uint8_t> b = in.subspan(3, len);
    in = in.subspan(3 + len);
    const bool fresh = run.now == kNow;
    switch (op % 8) {
      case 0:
        if (b.size() < 2) break;
        (void)run.Frame(static_cast<FrameType>(b[0]), ChannelFor(b[1]), b.subspan(2));
        break;
      case 1:
        if (b.empty()) break;
        run.Offer(ChannelFor(b[0]), fix.conn1_cred, b.subspan(1), /*via_frame=*/true, fresh);
        break;
      case 2: {
        if (b.size() < 4) break;
        const std::span<const uint8_t> rest = b.subspan(4);
        const uint32_t ch = ChannelFor(b[1]);
        switch (b[0] % 6) {
          case 0: run.Offer(ch, fix.conn1_cred, rest, false, fresh); break;
          case 1: run.Offer(ch, fix.conn2_cred, rest, false, fresh && !run.pinned); break;
          case 2: run.Offer(ch, fix.foreign_cred, rest, false, false); break;
          case 3: run.Offer(ch, fix.device_cred, rest, false, false); break;
          case 4: {
            const uint16_t bit = U16(b, 2);
            const std::vector<uint8_t> cred = Flipped(fix.conn1_cred, bit);
            run.Offer(ch, cred, rest, false, fresh && bit == 0xFFFF);
            break;
          }
          case 5: {
            // Arbitrary bytes: acceptable only if they are exactly a credential the device may take.
            const bool is1 = std::ranges::equal(rest, fix.conn1_cred);
            const bool is2 = std::ranges::equal(rest, fix.conn2_cred);
            if (is1 || is2) break;  // covered by cases 0 and 1
            run.Offer(ch, rest, {}, false, false);
            break;
          }
        }
        break;
      }
      case 3: {
        if (b.empty()) break;
        const uint16_t bit = U16(b, 1);
        const std::vector<uint8_t> m2 = Flipped(fix.accept, bit);
        const uint32_t ch = ChannelFor(b[0]);
        const bool judged = ch != 0 && ch == run.dev->channel();
        (void)run.Frame(FrameType::kSessionAccept, ch, m2, judged ? std::optional<bool>(bit == 0xFFFF) : std::nullopt);
        break;
      }
      case 4: run.Sealed(FrameType::kSealedStream, b); break;
      case 5: run.Sealed(FrameType::kSealedDatagram, b); break;
      case 6: {
        if (b.empty()) break;
        switch (b[0] % 4) {
          case 0:
            if (StreamMux* m = run.dev->mux(); m != nullptr && b.size() >= 5) {
              const OpenTarget t{AddrType::kIPv4, b.subspan(1, 4), 443};
              const OpenResult o = m->Open(t);
              if (o.status == CallStatus::kOk) run.app.newest = o.id;
            }
            break;
          case 1:
            if (StreamMux* m = run.dev->mux(); m != nullptr && run.app.newest != 0) {
              (void)m->Write(run.app.newest, b.subspan(1));
            }
            break;
          case 2: (void)run.Step([&] { return run.dev->SendDatagram(b.subspan(1), run.out); }); break;
          case 3: {
            const auto code = static_cast<ErrorCode>(b.size() > 1 ? b[1] : 1);
            (void)run.Step([&] { return run.dev->Close(code, "fuzz", run.out); });
            break;
          }
        }
        break;
      }
      case 7: run.now = kLate; break;
    }
    run.Drain();
  }
  return 0;
}
