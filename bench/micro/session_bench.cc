// Micro-benchmarks for the end-to-end session (tunnel/session.h) with a same-run bare AEAD baseline.
//
// What each family measures:
//   BM_SessionStream/16384   : one established device/connector pair in memory, no relay. Per iteration the device
//                              writes 16 KiB to one stream (StreamMux::Write), PollOutgoing packs and seals it into
//                              SEALED_STREAM frames, the connector's OnFrame opens them in place and the mux delivers
//                              the bytes to the visitor, which Consumes them; WINDOW updates flow back the same way
//                              (connector PollOutgoing -> device OnFrame) whenever they are due.
//   BM_SessionDatagram/<n>   : device SendDatagram(n bytes) -> connector OnFrame -> OnDatagram.
//   BM_BareSealOpen/<n>      : the floor: two bare ChaCha20-Poly1305 passes over the same n bytes (BoringSSL
//                              EVP_AEAD_CTX_seal_scatter then open_gather, in place, 1 byte of AD, Noise nonce), the
//                              backend crypto/aead.cc uses. No framing, no mux, no copies.
//   Session overhead = BM_Session* time / BM_BareSealOpen time for the same n (1.0 would be "crypto only").
//
// Method (bench/README.md): compare medians of repeated runs in one process:
//   build-sess/bench/strait_session_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <openssl/aead.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "crypto/aead.h"
#include "crypto/credential.h"
#include "crypto/keys.h"
#include "tunnel/frame_reader.h"
#include "tunnel/session.h"

namespace strait::tunnel {
namespace {

constexpr uint64_t kNow = 1'700'000'000;
constexpr uint32_t kChannel = 1;
const uint8_t kAd[] = {0x20};

struct Sink : SessionVisitor {
  Session* s = nullptr;
  uint64_t bytes = 0;
  void OnStreamOpen(StreamId id, const OpenTarget&) override { (void)s->mux()->Accept(id); }
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override {
    bytes += d.size();
    (void)s->mux()->Consume(id, d.size());
  }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
  void OnDatagram(std::span<uint8_t> p) override { bytes += p.size(); }
};

// An established pair, set up with real credentials and a real Noise IK handshake.
struct Pair {
  InitReplayRecord init_replay;  // the connector's (protocol.md §6); declared first: the session points at it
  Sink dev_sink, con_sink;
  std::unique_ptr<Session> dev, con;
  std::vector<uint8_t> out = std::vector<uint8_t>(4 * kSessionOutSize);
  std::vector<uint8_t> scratch = std::vector<uint8_t>(kSessionOutSize);
  bool ok = false;

  Pair() {
    const auto root = crypto::Ed25519KeyPair::Generate();
    const auto tenant = crypto::Ed25519KeyPair::Generate();
    const auto tc = crypto::IssueTenantCert(root, {"acme", tenant.public_key, kNow - 100, kNow + 100}).value();
    auto issue = [&](crypto::Role role, const crypto::X25519KeyPair& noise) {
      const crypto::CredentialParams p{role, "bench", crypto::Ed25519KeyPair::Generate().public_key, noise.public_key,
                                       1, kNow - 10, kNow + 10};
      return crypto::IssueCredential(tenant, tc, p).value();
    };
    auto config = [&](SessionRole role, crypto::Role cred_role) {
      SessionConfig c;
      c.role = role;
      c.static_key = crypto::X25519KeyPair::Generate();
      c.credential = issue(cred_role, c.static_key);
      c.root_key = root.public_key;
      c.tenant = "acme";
      return c;
    };
    SessionConfig dc = config(SessionRole::kDevice, crypto::Role::kDevice);
    SessionConfig cc = config(SessionRole::kConnector, crypto::Role::kConnector);
    dc.init_timestamp = kNow * kNsPerSecond;
    cc.init_replay = &init_replay;
    const std::vector<uint8_t> con_cred = cc.credential;
    dev = Session::Create(std::move(dc), &dev_sink).value();
    con = Session::Create(std::move(cc), &con_sink).value();
    dev_sink.s = dev.get();
    con_sink.s = con.get();

    SessionOffer offer{{}, con_cred};
    const uint8_t id[] = {'c'};
    offer.connector_id = id;
    SessionResult r = dev->OnOffer(kChannel, offer, kNow, out);
    if (r.action != SessionAction::kSend) return;
    Forward(*con, r.size, scratch);
    ok = dev->established() && con->established();
  }

  // Hands the frames in out[0, n) to `to`; replies (SESSION_ACCEPT) go back to the other side.
  void Forward(Session& to, size_t n, std::vector<uint8_t>& reply_buf) {
    FrameReader reader;
    std::span<uint8_t> frames(out.data(), n);
    while (!frames.empty()) {
      const ReadResult rr = reader.Next(frames);
      if (rr.kind != ReadKind::kFrame) std::abort();
      const SessionResult res = to.OnFrame(rr.header, frames.subspan(kHeaderSize, rr.header.length), kNow, reply_buf);
      if (res.action == SessionAction::kSend) {  // set-up only: SESSION_ACCEPT back to the device
        Session& back = &to == con.get() ? *dev : *con;
        const ReadResult ar = FrameReader().Next(std::span<const uint8_t>(reply_buf.data(), res.size));
        if (back.OnFrame(ar.header, std::span(reply_buf).subspan(kHeaderSize, ar.header.length), kNow, out).action ==
            SessionAction::kClose) {
          std::abort();
        }
      } else if (res.action != SessionAction::kNone) {
        std::abort();
      }
      frames = frames.subspan(rr.consumed);
    }
  }
  // Moves everything both ways until nothing is due.
  void Pump() {
    for (;;) {
      const SessionResult a = dev->PollOutgoing(out);
      if (a.action == SessionAction::kSend) Forward(*con, a.size, scratch);
      const SessionResult b = con->PollOutgoing(out);
      if (b.action == SessionAction::kSend) Forward(*dev, b.size, scratch);
      if (a.action == SessionAction::kNone && b.action == SessionAction::kNone) return;
    }
  }
};

void BM_SessionStream(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Pair p;
  if (!p.ok) {
    state.SkipWithError("set-up failed");
    return;
  }
  static const uint8_t kAddr[4] = {10, 0, 0, 1};
  const StreamId id = p.dev->mux()->Open(OpenTarget{AddrType::kIPv4, kAddr, 80}).id;
  p.Pump();
  const std::vector<uint8_t> chunk(n, 0x5a);
  for (auto _ : state) {
    if (p.dev->mux()->Write(id, chunk) != n) {
      state.SkipWithError("write cut short");
      break;
    }
    p.Pump();
  }
  if (p.con_sink.bytes != static_cast<uint64_t>(state.iterations()) * n) state.SkipWithError("bytes lost");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_SessionStream)->Arg(16384);

void BM_SessionDatagram(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Pair p;
  if (!p.ok) {
    state.SkipWithError("set-up failed");
    return;
  }
  const std::vector<uint8_t> packet(n, 0x45);
  for (auto _ : state) {
    const SessionResult r = p.dev->SendDatagram(packet, p.out);
    p.Forward(*p.con, r.size, p.scratch);
  }
  if (p.con_sink.bytes != static_cast<uint64_t>(state.iterations()) * n) state.SkipWithError("bytes lost");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_SessionDatagram)->Arg(1400)->Arg(16384);

// Two bare passes over the same bytes: seal in place, then open in place (which restores the plaintext).
void BM_BareSealOpen(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  crypto::SymmetricKey key;
  for (auto& b : key.mutable_bytes()) b = 7;
  EVP_AEAD_CTX ctx;
  if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_chacha20_poly1305(), key.bytes().data(), key.kSize, crypto::kAeadTagSize,
                         nullptr)) {
    std::abort();
  }
  std::vector<uint8_t> buf(n + crypto::kAeadTagSize, 0x5a);
  uint8_t* body = buf.data();
  uint64_t counter = 0;
  bool failed = false;
  for (auto _ : state) {
    uint8_t nonce[crypto::kAeadNonceSize];
    crypto::EncodeNoiseNonce(counter++, nonce);
    size_t tag_len = 0;
    EVP_AEAD_CTX_seal_scatter(&ctx, body, body + n, &tag_len, crypto::kAeadTagSize, nonce, sizeof nonce, body, n,
                              nullptr, 0, kAd, sizeof kAd);
    benchmark::ClobberMemory();
    if (!EVP_AEAD_CTX_open_gather(&ctx, body, nonce, sizeof nonce, body, n, body + n, crypto::kAeadTagSize, kAd,
                                  sizeof kAd)) {
      failed = true;
    }
    benchmark::ClobberMemory();
  }
  EVP_AEAD_CTX_cleanup(&ctx);
  if (failed) state.SkipWithError("open failed");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_BareSealOpen)->Arg(1400)->Arg(16384);

}  // namespace
}  // namespace strait::tunnel
