// A connector Session (tunnel/session.h) with fixed keys, fed a sequence of frames derived from the input.
//
// The other end is a device built from the bare handshake steps (tunnel/e2e_handshake.h) with fixed keys and a
// fixed ephemeral, so its SESSION_INIT is the same bytes every run and libFuzzer can mutate a real message 1, and
// so it can seal any plaintext the input asks for (reaching the stream mux behind authentication).
//
// Input: records  [u8 op][u16 len, big-endian][len bytes], until the input ends.
//   op % 6 == 0  raw frame:  bytes[0] = frame type (any byte), bytes[1] = channel selector, payload = bytes[2..]
//            1  the device's genuine SESSION_INIT
//            2  SEALED_STREAM sealed by the device around plaintext = bytes (arbitrary inner frames)
//            3  SEALED_DATAGRAM sealed by the device around plaintext = bytes
//            4  a tampered frame of the type last sealed: bytes[2] & 2 ? a fresh frame around bytes[3..] : a replay of
//               the last one; bytes[0..1] pick a bit to flip (0xFFFF: none); bytes[2] & 1 rewrites SEALED_STREAM <->
//               SEALED_DATAGRAM
//            5  connector application: bytes[0] % 3: 0 SendDatagram(bytes[1..]); 1 mux Write on the newest
//               stream; 2 Close(code = bytes[1])
// After each record the connector's PollOutgoing is drained and every frame it wrote goes to the device.
//
// Properties (trap on violation): never crashes; CheckInvariants() after every call; the state only moves
// forward (await_init -> established -> closed) and a closed session drops everything as after_close; a kDrop
// result is counted under its reason; everything the connector writes parses as whole frames on its channel, of
// the types its state allows, with SESSION_CLOSE last; every frame it seals opens at the device, and stream
// plaintext holds whole inner frames; an established session's peer is the one device credential issued here.
//
// The seed corpus (fuzz/corpus/session/) is written by this file built with -DSESSION_FUZZER_SEED_MAIN against a
// normal build, from the repository root:
//   g++ -std=c++20 -O1 -I. -isystem /usr/include/android -DSESSION_FUZZER_SEED_MAIN fuzz/session_fuzzer.cc
//       build-sess/tunnel/libstrait_tunnel.a build-sess/crypto/libstrait_crypto.a -lsodium -lfmt
//       -L/usr/lib/x86_64-linux-gnu/android -lssl -lcrypto -Wl,-rpath,/usr/lib/x86_64-linux-gnu/android
//       -o /tmp/session_seed_gen && /tmp/session_seed_gen fuzz/corpus/session
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
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
constexpr uint32_t kChannel = 9;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

// Everything fixed: keys, credentials, and the device's pristine handshake with its message 1.
struct Fixture {
  crypto::Ed25519KeyPair root = fuzz::FuzzKey(0x52);
  crypto::Ed25519KeyPair tenant = fuzz::FuzzKey(0x54);
  crypto::X25519KeyPair device_noise = fuzz::FuzzNoiseKey(0x44);
  crypto::X25519KeyPair connector_noise = fuzz::FuzzNoiseKey(0x43);
  std::optional<crypto::X25519KeyPair> device_eph = fuzz::FuzzNoiseKey(0x65);
  std::optional<crypto::X25519KeyPair> connector_eph = fuzz::FuzzNoiseKey(0x66);
  std::vector<uint8_t> tenant_cert, device_cred, connector_cred;
  std::optional<crypto::HandshakeState> device_hs;  // after writing message 1
  std::vector<uint8_t> init;                        // message 1

  Fixture() {
    tenant_cert = crypto::IssueTenantCert(root, {"acme", tenant.public_key, kNow - 1000, kNow + 1000}).value();
    device_cred = Issue(crypto::Role::kDevice, "laptop-1", device_noise);
    connector_cred = Issue(crypto::Role::kConnector, "conn-1", connector_noise);
    const E2eIdentity self{&device_noise, &root.public_key, "acme", kNow, &device_eph};
    DeviceHandshake dh;
    dh.credential = device_cred;
    dh.timestamp = kNow * kNsPerSecond;  // protocol.md §6; each run has a fresh replay record
    init.resize(kMaxNoiseMessageBytes);
    auto started = WriteSessionInit(self, connector_noise.public_key, dh, init);
    Check(started.ok());
    init.resize(started->message_size);
    device_hs.emplace(std::move(started->handshake));
  }
  std::vector<uint8_t> Issue(crypto::Role role, std::string_view subject, const crypto::X25519KeyPair& noise) {
    const crypto::CredentialParams p{role, subject, fuzz::FuzzKey(0x70).public_key,
                                     noise.public_key, 1, kNow - 100, kNow + 100};
    return crypto::IssueCredential(tenant, tenant_cert, p).value();
  }
  SessionConfig ConnectorConfig() const {
    SessionConfig c;
    c.role = SessionRole::kConnector;
    c.credential = connector_cred;
    c.static_key = connector_noise;
    c.root_key = root.public_key;
    c.tenant = "acme";
    c.mux.session_window = 1 << 20;
    c.mux.stream_window = 64 << 10;
    c.mux.max_streams = 8;
    c.ephemeral_for_test = connector_eph;
    c.relay_credit = true;  // SESSION_CREDIT from the relay reaches the session (op 0 frames of type 0x15)
    return c;
  }
};

const Fixture& Fix() {
  static const Fixture* f = new Fixture();
  return *f;
}

// The connector's application: accepts odd stream ids, refuses even ones, consumes everything; a datagram that
// starts with 0xCC closes the session from inside the callback, 0xEE echoes it back from inside the callback.
struct App : SessionVisitor {
  Session* s = nullptr;
  StreamId newest = 0;
  uint64_t datagrams = 0;
  std::array<uint8_t, kSessionOutSize> cb_out{};
  std::optional<SessionResult> from_callback;

  void OnStreamOpen(StreamId id, const OpenTarget&) override {
    newest = id;
    if (id % 2 == 1) {
      (void)s->mux()->Accept(id);
    } else {
      (void)s->mux()->Reject(id, ErrorCode::kRefusedByPolicy);
    }
  }
  void OnStreamAccepted(StreamId) override { __builtin_trap(); }  // a connector never gets OPEN_OK
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override { (void)s->mux()->Consume(id, d.size()); }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t> p) override {
    Check(!p.empty() && p.size() <= kMaxDatagramSize);
    ++datagrams;
    if (p[0] == 0xCC) from_callback = s->Close(ErrorCode::kCancelled, "closed by the app", cb_out);
    if (p[0] == 0xEE) from_callback = s->SendDatagram(p, cb_out);
  }
};

struct Run {
  InitReplayRecord init_replay;  // the connector's, fresh per input (the pristine message 1 is accepted once)
  App app;
  std::unique_ptr<Session> con;
  std::optional<crypto::HandshakeState> hs = Fix().device_hs;
  std::optional<crypto::TransportSession> dev;  // the device's transports once SESSION_ACCEPT was read
  uint64_t stream_out = 0;  // stream sequence numbers (docs/protocol.md §7) of the device's next SEALED_STREAM
  uint64_t stream_in = 0;   // ... and of the connector's next one
  std::vector<uint8_t> last_sealed;             // payload of the device's newest sealed frame
  FrameType last_type = FrameType::kSealedStream;
  std::array<uint8_t, kSessionOutSize> out{};
  std::vector<uint8_t> payload;

  // Everything the connector wrote: whole frames on its channel, in an order its state allows.
  void Consume(std::span<const uint8_t> bytes, SessionAction action) {
    FrameReader reader;
    while (!bytes.empty()) {
      const ReadResult r = reader.Next(bytes);
      Check(r.kind == ReadKind::kFrame);
      Check(r.header.channel == con->channel() && r.header.channel != 0);
      const bool last = r.consumed == bytes.size();
      switch (r.header.type) {
        case FrameType::kSessionAccept:
          Check(last && action == SessionAction::kSend && con->established());
          if (hs) {
            auto done = ReadSessionAccept(*hs, r.payload);
            Check(done.ok());  // a connector that accepted the genuine INIT answers the genuine device
            dev.emplace(done->keys);
          }
          hs.reset();
          break;
        case FrameType::kSessionClose:
          Check(last && con->state() == SessionState::kClosed);
          Check(SessionClose::Decode(r.payload).ok());
          break;
        case FrameType::kSealedStream:
        case FrameType::kSealedDatagram: {
          if (!dev) break;  // the connector accepted a mutated INIT: another "device" (not this one) runs it
          std::vector<uint8_t> sealed(r.payload.begin(), r.payload.end());
          const SealedAd ad = SealedAssociatedData(r.header.type, stream_in);
          const crypto::Opened o = dev->Open(ad.view(), sealed);
          Check(o.status == crypto::OpenStatus::kOk);
          if (r.header.type == FrameType::kSealedStream) ++stream_in;
          if (r.header.type == FrameType::kSealedStream) {
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

  void Judge(SessionState before, uint64_t drops_before[kSessionDropCount], SessionResult r) {
    Check(con->CheckInvariants());
    Check(static_cast<uint8_t>(con->state()) >= static_cast<uint8_t>(before));
    Check(con->state() != SessionState::kAwaitOffer && con->state() != SessionState::kAwaitAccept);
    if (r.action == SessionAction::kDrop) {
      Check(con->drops(r.drop) == drops_before[static_cast<size_t>(r.drop)] + 1);
      Check(r.size == 0 && con->state() == before);
    }
    if (r.action == SessionAction::kClose) Check(con->state() == SessionState::kClosed);
    if (before == SessionState::kClosed) Check(r.action != SessionAction::kSend);
    if (con->established()) {
      const crypto::VerifiedCredential* peer = con->peer();
      Check(peer != nullptr && peer->subject_id == "laptop-1" && peer->tenant_id == "acme");
    }
    if (app.from_callback) {
      const SessionResult cb = *app.from_callback;
      app.from_callback.reset();
      if (cb.size != 0) Consume(std::span(app.cb_out).first(cb.size), cb.action);
    }
    if (r.size != 0) Consume(std::span(out).first(r.size), r.action);
  }

  template <class F>
  void Step(F&& call) {
    const SessionState before = con->state();
    uint64_t drops_before[kSessionDropCount];
    for (size_t i = 0; i < kSessionDropCount; ++i) drops_before[i] = con->counters().drops[i];
    const SessionResult r = call();
    Judge(before, drops_before, r);
  }

  void Frame(FrameType type, uint32_t channel, std::span<const uint8_t> bytes) {
    payload.assign(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(std::min(bytes.size(), kMaxPayload)));
    const FrameHeader h{kFramingVersion, type, 0, static_cast<uint32_t>(payload.size()), channel};
    const bool was_closed = con->state() == SessionState::kClosed;
    Step([&] {
      const SessionResult r = con->OnFrame(h, payload, kNow, out);
      if (was_closed) Check(r.action == SessionAction::kDrop && r.drop == SessionDrop::kAfterClose);
      return r;
    });
  }

  uint32_t channel() const { return con->channel() != 0 ? con->channel() : kChannel; }

  std::vector<uint8_t> SealOnly(FrameType type, std::span<const uint8_t> plaintext) {
    std::vector<uint8_t> buf(crypto::kTransportOverhead + plaintext.size());
    std::copy(plaintext.begin(), plaintext.end(), buf.begin() + crypto::kTransportHeaderSize);
    const SealedAd ad = SealedAssociatedData(type, stream_out);
    Check(dev->Seal(ad.view(), buf, plaintext.size()).status == crypto::SealStatus::kOk);
    if (type == FrameType::kSealedStream) ++stream_out;
    return buf;
  }

  void Sealed(FrameType type, std::span<const uint8_t> plaintext) {
    if (!dev || plaintext.size() > kMaxSealedPlaintext) return;
    last_sealed = SealOnly(type, plaintext);
    last_type = type;
    Frame(type, channel(), last_sealed);
  }

  void Drain() {
    for (int i = 0; i < 64; ++i) {
      bool more = false;
      Step([&] {
        const SessionResult r = con->PollOutgoing(out);
        more = r.action == SessionAction::kSend;
        return r;
      });
      if (!more) return;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run run;
  SessionConfig config = Fix().ConnectorConfig();
  config.init_replay = &run.init_replay;
  auto created = Session::Create(std::move(config), &run.app);
  Check(created.ok());
  run.con = std::move(created).value();
  run.app.s = run.con.get();

  std::span<const uint8_t> in(data, size);
  while (in.size() >= 3) {
    const uint8_t op = in[0];
    const size_t len = std::min<size_t>((size_t{in[1]} << 8) | in[2], in.size() - 3);
    const std::span<const uint8_t> b = in.subspan(3, len);
    in = in.subspan(3 + len);
    switch (op % 6) {
      case 0: {
        if (b.size() < 2) break;
        const uint32_t channels[4] = {kChannel, 0, kChannel + 1, kChannel};
        run.Frame(static_cast<FrameType>(b[0]), channels[b[1] % 4], b.subspan(2));
        break;
      }
      case 1: run.Frame(FrameType::kSessionInit, run.channel(), Fix().init); break;
      case 2: run.Sealed(FrameType::kSealedStream, b); break;
      case 3: run.Sealed(FrameType::kSealedDatagram, b); break;
      case 4: {
        if (b.size() < 3 || !run.dev) break;
        std::vector<uint8_t> frame;
        FrameType t = run.last_type;
        if ((b[2] & 2) != 0) {
          if (b.size() - 3 > kMaxSealedPlaintext) break;
          frame = run.SealOnly(t, b.subspan(3));  // a fresh frame, tampered on the way
        } else {
          frame = run.last_sealed;  // a replay
        }
        if (frame.empty()) break;
        const size_t bit = (size_t{b[0]} << 8) | b[1];
        if (bit != 0xFFFF && bit / 8 < frame.size()) frame[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        if ((b[2] & 1) != 0) t = t == FrameType::kSealedStream ? FrameType::kSealedDatagram : FrameType::kSealedStream;
        run.Frame(t, run.channel(), frame);
        break;
      }
      case 5: {
        if (b.empty()) break;
        if (b[0] % 3 == 0) {
          run.Step([&] { return run.con->SendDatagram(b.subspan(1), run.out); });
        } else if (b[0] % 3 == 1) {
          if (StreamMux* m = run.con->mux(); m != nullptr && run.app.newest != 0) {
            (void)m->Write(run.app.newest, b.subspan(1));
          }
        } else {
          const auto code = static_cast<ErrorCode>(b.size() > 1 ? b[1] : 1);
          run.Step([&] { return run.con->Close(code, "fuzz", run.out); });
        }
        break;
      }
    }
    run.Drain();
  }
  return 0;
}

#ifdef SESSION_FUZZER_SEED_MAIN
// Writes the seed corpus (see the header comment for how to build this).
#include <cstdio>

namespace {
std::vector<uint8_t> Rec(uint8_t op, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> r = {op, static_cast<uint8_t>(b.size() >> 8), static_cast<uint8_t>(b.size())};
  r.insert(r.end(), b.begin(), b.end());
  return r;
}
std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
std::vector<uint8_t> Inner(void (*build)(InnerFrameWriter&)) {
  std::vector<uint8_t> buf(kMaxSealedPlaintext);
  InnerFrameWriter w(buf);
  build(w);
  buf.resize(w.written());
  return buf;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  std::vector<uint8_t> raw_init = {static_cast<uint8_t>(FrameType::kSessionInit), 0};
  raw_init.insert(raw_init.end(), Fix().init.begin(), Fix().init.end());
  static const uint8_t kHost[] = {'d', 'b', '.', 'i', 'n', 't', 'e', 'r', 'n', 'a', 'l'};
  const auto open_data = Inner([](InnerFrameWriter& w) {
    (void)w.Open(1, 65536, OpenTarget{AddrType::kDomain, kHost, 5432});
    (void)w.Data(1, std::span<const uint8_t>(kHost), false);
  });
  const auto open_even = Inner([](InnerFrameWriter& w) { (void)w.Open(2, 65536, {AddrType::kIPv4, kHost, 22}); });
  const auto more = Inner([](InnerFrameWriter& w) {
    (void)w.Window(0, 4096);
    (void)w.Window(1, 4096);
    (void)w.Data(1, std::span<const uint8_t>(kHost), true);
    static const uint8_t kV6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    (void)w.Open(3, 1024, {AddrType::kIPv6, kV6, 80});
    (void)w.Reset(3, ErrorCode::kCancelled);
  });
  const std::vector<uint8_t> pkt = {0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  std::vector<uint8_t> echo = pkt, closer = pkt;
  echo[0] = 0xEE;
  closer[0] = 0xCC;
  std::vector<uint8_t> app_write = {1, 'h', 'i'};
  std::vector<uint8_t> app_dgram = {0};
  app_dgram.insert(app_dgram.end(), pkt.begin(), pkt.end());
  const std::vector<uint8_t> close_payload = {0, 12, 4, 'g', 'o', 'n', 'e'};
  std::vector<uint8_t> raw_close = {static_cast<uint8_t>(FrameType::kSessionClose), 0};
  raw_close.insert(raw_close.end(), close_payload.begin(), close_payload.end());
  std::vector<uint8_t> garbage_init = {static_cast<uint8_t>(FrameType::kSessionInit), 0};
  garbage_init.insert(garbage_init.end(), Fix().init.begin(), Fix().init.begin() + 60);

  const std::pair<const char*, std::vector<uint8_t>> seeds[] = {
      {"raw_init", Rec(0, raw_init)},
      {"raw_init_streams",
       Cat({Rec(0, raw_init), Rec(2, open_data), Rec(2, open_even), Rec(5, app_write), Rec(2, more)})},
      {"init_streams_datagrams",
       Cat({Rec(1, {}), Rec(2, open_data), Rec(3, pkt), Rec(5, app_dgram), Rec(3, echo), Rec(2, more)})},
      {"replay_and_flip", Cat({Rec(1, {}), Rec(3, pkt), Rec(4, {0xFF, 0xFF, 0}), Rec(4, {0, 62, 2, 0x45, 1}),
                               Rec(4, {0, 70, 2, 0x45, 1}), Rec(2, open_data), Rec(4, {0xFF, 0xFF, 3, 1, 2, 3}),
                               Rec(4, {0xFF, 0xFF, 0}), Rec(3, pkt), Rec(2, open_even), Rec(4, {0, 70, 2, 1, 2})})},
      {"close_from_callback", Cat({Rec(1, {}), Rec(2, open_data), Rec(3, closer), Rec(3, pkt)})},
      {"peer_close", Cat({Rec(1, {}), Rec(0, raw_close), Rec(1, {})})},
      {"garbage_init", Cat({Rec(0, garbage_init), Rec(1, {})})},
      {"app_close", Cat({Rec(1, {}), Rec(5, {2, 19})})},
  };
  for (const auto& [name, bytes] : seeds) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
      std::perror(path.c_str());
      return 1;
    }
  }
  return 0;
}
#endif
