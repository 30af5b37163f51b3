// Drives a device/connector StreamMux pair with an input-chosen sequence of operations and checks it against a
// simple model of what the application did:
//   - bytes delivered on each stream and direction are a prefix of the bytes written, in order;
//   - every recv window is consistent (credit + held + pending == window) and held == delivered - consumed,
//     so buffered bytes per stream never exceed the window;
//   - with nothing in flight from the sender, its send credit equals the receiver's credit, for the session and
//     for every stream live on both sides (no credit is created or lost);
//   - with an injected raw inner message (a misbehaving peer) the model is dropped but the mux must stay
//     consistent and never crash.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "tunnel/stream_mux.h"

using namespace strait::tunnel;

namespace {

uint8_t Pattern(int dir, StreamId id, uint64_t offset) {
  return static_cast<uint8_t>(id * 131u + offset * 7u + static_cast<unsigned>(dir) * 61u);
}

struct Side : MuxVisitor {
  int dir = 0;  // 0: receives what the device wrote; 1: receives what the connector wrote
  StreamMux* mux = nullptr;
  bool auto_accept = true;
  bool tainted = false;
  std::map<StreamId, uint64_t>* written_by_peer = nullptr;
  std::map<StreamId, uint64_t> delivered, consumed;

  void OnStreamOpen(StreamId id, const OpenTarget&) override {
    if (auto_accept) (void)mux->Accept(id);
  }
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override {
    uint64_t& got = delivered[id];
    if (!tainted) {
      const int writer_dir = dir == 0 ? 0 : 1;
      for (size_t i = 0; i < d.size(); ++i) {
        if (d[i] != Pattern(writer_dir, id, got + i)) __builtin_trap();
      }
      if (got + d.size() > (*written_by_peer)[id]) __builtin_trap();
    }
    got += d.size();
  }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
};

struct Input {
  const uint8_t* p;
  size_t n;
  bool Take(uint8_t* out) {
    if (n == 0) return false;
    *out = *p++;
    --n;
    return true;
  }
  uint8_t Byte() {
    uint8_t b = 0;
    Take(&b);
    return b;
  }
};

void CheckSide(const StreamMux& m, const Side& s) {
  if (!m.CheckInvariants()) __builtin_trap();
  for (const auto& [id, got] : s.delivered) {
    StreamInfo info{};
    if (!m.FindStream(id, &info)) continue;
    auto c = s.consumed.find(id);
    const uint64_t used = c == s.consumed.end() ? 0 : c->second;
    if (!s.tainted && info.recv_held != got - used) __builtin_trap();
    if (info.recv_held > info.recv_window) __builtin_trap();
  }
}

// Sender's credit == receiver's credit when the sender has nothing queued (frames move atomically here).
void CheckCredit(const StreamMux& from, const StreamMux& to, const std::vector<StreamId>& ids) {
  if (from.outbox_bytes() != 0 || from.failed() || to.failed()) return;
  if (from.session_send_credit() != to.session_recv().credit()) __builtin_trap();
  for (StreamId id : ids) {
    StreamInfo a{}, b{};
    if (!from.FindStream(id, &a) || !to.FindStream(id, &b)) continue;
    if (!CanSend(a.state) || !CanReceive(b.state)) continue;
    if (a.send_credit != b.recv_credit) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  MuxOptions dev_o, con_o;
  dev_o.role = MuxRole::kDevice;
  con_o.role = MuxRole::kConnector;
  dev_o.stream_window = 1 + in.Byte() * 64u;
  con_o.stream_window = 1 + in.Byte() * 64u;
  dev_o.session_window = con_o.peer_session_window = 1 + in.Byte() * 256u;
  con_o.session_window = dev_o.peer_session_window = 1 + in.Byte() * 256u;
  con_o.max_streams = dev_o.peer_max_streams = static_cast<uint16_t>(1 + in.Byte() % 8);
  dev_o.max_data_chunk = con_o.max_data_chunk = 1 + in.Byte() * 8u;
  dev_o.outbox_bytes = con_o.outbox_bytes = 4096 + in.Byte() * 32u;

  std::map<StreamId, uint64_t> dev_written, con_written;
  Side dev_side, con_side;
  StreamMux dev(dev_o, &dev_side), con(con_o, &con_side);
  dev_side.dir = 1;  // the device receives what the connector wrote
  dev_side.mux = &dev;
  dev_side.written_by_peer = &con_written;
  con_side.dir = 0;
  con_side.mux = &con;
  con_side.written_by_peer = &dev_written;
  con_side.auto_accept = (in.Byte() & 1) != 0;

  std::vector<StreamId> ids;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  std::vector<uint8_t> scratch(1024);
  auto pick = [&](uint8_t b) -> StreamId { return ids.empty() ? 1 + b % 4 : ids[b % ids.size()]; };
  auto write = [&](StreamMux& m, std::map<StreamId, uint64_t>& written, int dir, StreamId id, size_t len) {
    uint64_t& w = written[id];
    scratch.resize(len);
    for (size_t i = 0; i < len; ++i) scratch[i] = Pattern(dir, id, w + i);
    w += m.Write(id, scratch);
  };
  auto consume = [&](StreamMux& m, Side& s, StreamId id, size_t want) {
    StreamInfo info{};
    if (!m.FindStream(id, &info)) return;
    const size_t n = std::min<size_t>(want, info.recv_held);
    if (m.Consume(id, n) == CallStatus::kOk) s.consumed[id] += n;
  };
  auto deliver = [&](StreamMux& from, StreamMux& to) {
    if (size_t n = from.PollOutgoing(buf)) (void)to.OnPlaintext(std::span(buf).first(n));
  };

  uint8_t op = 0;
  for (int steps = 0; steps < 4096 && in.Take(&op); ++steps) {
    const uint8_t a = in.Byte(), b = in.Byte();
    const StreamId id = pick(a);
    switch (op % 14) {
      case 0: {
        static const uint8_t kAddr[4] = {10, 0, 0, 1};
        auto r = dev.Open(OpenTarget{AddrType::kIPv4, kAddr, 80});
        if (r.status == CallStatus::kOk) ids.push_back(r.id);
        break;
      }
      case 1: write(dev, dev_written, 0, id, size_t{b} * 37); break;
      case 2: write(con, con_written, 1, id, size_t{b} * 37); break;
      case 3: consume(con, con_side, id, size_t{b} * 37); break;
      case 4: consume(dev, dev_side, id, size_t{b} * 37); break;
      case 5: deliver(dev, con); break;
      case 6: deliver(con, dev); break;
      case 7: (void)dev.CloseWrite(id); break;
      case 8: (void)con.CloseWrite(id); break;
      case 9: (void)dev.Reset(id, ErrorCode::kCancelled); break;
      case 10: (void)con.Reset(id, ErrorCode::kConnectFailed); break;
      case 11: (void)con.Accept(id); break;
      case 12: (void)con.Reject(id, ErrorCode::kRefusedByPolicy); break;
      case 13: {
        // A misbehaving peer: raw bytes as one inner-frame message, to either side.
        const size_t len = std::min<size_t>(b, in.n);
        StreamMux& target = (a & 1) ? dev : con;
        dev_side.tainted = con_side.tainted = true;  // the model no longer knows what was sent
        (void)target.OnPlaintext(std::span<const uint8_t>(in.p, len));
        in.p += len;
        in.n -= len;
        break;
      }
    }
    CheckSide(dev, dev_side);
    CheckSide(con, con_side);
    if (!dev_side.tainted) {
      CheckCredit(dev, con, ids);
      CheckCredit(con, dev, ids);
    }
  }
  return 0;
}
