#include "tunnel/stream_mux.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tunnel/mux_harness.h"
#include "tests/testing/alloc_counter.h"

namespace strait::tunnel {
namespace {

using testing::MuxPair;

std::span<const uint8_t> B(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

const OpenTarget kTarget{AddrType::kDomain, B("intranet.example"), 443};

MuxOptions Windows(uint32_t stream, uint32_t session) {
  MuxOptions o;
  o.stream_window = stream;
  o.session_window = session;
  o.peer_session_window = session;
  return o;
}

// Opens a stream on the pair and completes OPEN / OPEN_OK.
StreamId OpenAccepted(MuxPair& p) {
  auto r = p.dev.Open(kTarget);
  EXPECT_EQ(r.status, CallStatus::kOk);
  p.Pump();
  EXPECT_TRUE(p.dev_events.accepted.count(r.id));
  return r.id;
}

// Writes all of `data`, pumping whenever the mux takes no more. Returns false if it stalls.
bool WriteAll(MuxPair& p, StreamMux& from, StreamId id, std::string_view data) {
  size_t off = 0;
  int stalls = 0;
  while (off < data.size()) {
    const size_t n = from.Write(id, B(data.substr(off)));
    off += n;
    if (n == 0 && p.Pump() == 0 && ++stalls > 2) return false;
  }
  p.Pump();
  return true;
}

// Feeds one hand-built inner frame message to `mux`.
template <class F>
MuxReason Feed(StreamMux& mux, F build) {
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  InnerFrameWriter w(buf);
  build(w);
  return mux.OnPlaintext(w.data());
}

// Decodes what `mux` wants to send into frames (copies payloads).
struct Sent { InnerType type; uint8_t flags; StreamId id; std::vector<uint8_t> payload; };
std::vector<Sent> Drain(StreamMux& mux) {
  std::vector<Sent> out;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  while (size_t n = mux.PollOutgoing(buf)) {
    InnerFrameReader r{std::span<const uint8_t>(buf).first(n)};
    InnerFrame f;
    while (r.Next(&f) == InnerStatus::kFrame) {
      out.push_back({f.type, f.flags, f.stream_id, {f.payload.begin(), f.payload.end()}});
    }
  }
  return out;
}

TEST(StreamMux, DeviceOpensAndConnectorAccepts) {
  MuxPair p;
  auto r = p.dev.Open(kTarget);
  ASSERT_EQ(r.status, CallStatus::kOk);
  EXPECT_EQ(r.id, 1u);
  StreamInfo info{};
  ASSERT_TRUE(p.dev.FindStream(r.id, &info));
  EXPECT_EQ(info.state, StreamState::kOpening);
  EXPECT_EQ(p.dev.SendCapacity(r.id), 0u);  // nothing may be sent before OPEN_OK
  p.Pump();
  EXPECT_TRUE(p.con_events.opened.count(1));
  EXPECT_EQ(p.con_events.last_target, "intranet.example");
  EXPECT_TRUE(p.dev_events.accepted.count(1));
  ASSERT_TRUE(p.dev.FindStream(1, &info));
  EXPECT_EQ(info.state, StreamState::kOpen);
  EXPECT_EQ(info.send_credit, kDefaultStreamWindow);
  EXPECT_EQ(p.dev.Open(kTarget).id, 2u);  // ids increase
}

TEST(StreamMux, OnlyTheDeviceOpensAndOnlyTheConnectorAccepts) {
  MuxPair p;
  EXPECT_EQ(p.con.Open(kTarget).status, CallStatus::kWrongRole);
  auto r = p.dev.Open(kTarget);
  EXPECT_EQ(p.dev.Accept(r.id), CallStatus::kWrongRole);
  // An OPEN arriving at a device is a protocol error.
  EXPECT_EQ(Feed(p.dev, [](InnerFrameWriter& w) { w.Open(7, 100, kTarget); }), MuxReason::kUnexpectedFrame);
  EXPECT_EQ(ErrorCodeFor(p.dev.failure()), ErrorCode::kProtocolError);
}

TEST(StreamMux, ConnectorRejectsWithCode) {
  MuxPair p;
  p.con_events.auto_accept = false;
  auto r = p.dev.Open(kTarget);
  p.Pump();
  ASSERT_TRUE(p.con_events.opened.count(r.id));
  EXPECT_EQ(p.con.Reject(r.id, ErrorCode::kRefusedByPolicy), CallStatus::kOk);
  p.Pump();
  EXPECT_EQ(p.dev_events.resets.at(r.id), ErrorCode::kRefusedByPolicy);
  EXPECT_EQ(p.dev.live_streams(), 0u);
  EXPECT_EQ(p.con.live_streams(), 0u);
}

TEST(StreamMux, MovesDataBothWays) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  EXPECT_EQ(p.dev.Write(id, B("GET / HTTP/1.1\r\n\r\n")), 18u);
  p.Pump();
  EXPECT_EQ(p.con_events.received[id], "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(p.con.Write(id, B("HTTP/1.1 200 OK\r\n")), 17u);
  p.Pump();
  EXPECT_EQ(p.dev_events.received[id], "HTTP/1.1 200 OK\r\n");
  EXPECT_TRUE(p.dev.CheckInvariants());
  EXPECT_TRUE(p.con.CheckInvariants());
}

TEST(StreamMux, SmallWritesShareOneDataFrame) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(p.dev.Write(id, B("abc")), 3u);
  ASSERT_EQ(p.dev.CloseWrite(id), CallStatus::kOk);
  auto sent = Drain(p.dev);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].payload.size(), 30u);
  EXPECT_EQ(sent[0].flags, kInnerFlagFin);  // FIN rides on the queued DATA
}

TEST(StreamMux, HalfCloseInEitherOrderEndsTheStream) {
  for (bool device_first : {true, false}) {
    SCOPED_TRACE(device_first ? "device FIN first" : "connector FIN first");
    MuxPair p;
    const StreamId id = OpenAccepted(p);
    StreamMux& first = device_first ? p.dev : p.con;
    StreamMux& second = device_first ? p.con : p.dev;
    testing::Recorder& first_events = device_first ? p.dev_events : p.con_events;
    testing::Recorder& second_events = device_first ? p.con_events : p.dev_events;

    ASSERT_EQ(first.Write(id, B("last words")), 10u);
    ASSERT_EQ(first.CloseWrite(id), CallStatus::kOk);
    EXPECT_EQ(first.Write(id, B("more")), 0u);  // our half is closed
    EXPECT_EQ(first.CloseWrite(id), CallStatus::kWrongState);
    p.Pump();
    EXPECT_EQ(second_events.received[id], "last words");
    EXPECT_TRUE(second_events.fins.count(id));
    StreamInfo info{};
    ASSERT_TRUE(second.FindStream(id, &info));
    EXPECT_EQ(info.state, StreamState::kHalfClosedRemote);
    ASSERT_TRUE(first.FindStream(id, &info));
    EXPECT_EQ(info.state, StreamState::kHalfClosedLocal);

    // The other direction still flows.
    ASSERT_EQ(second.Write(id, B("reply")), 5u);
    ASSERT_EQ(second.CloseWrite(id), CallStatus::kOk);
    EXPECT_EQ(second.live_streams(), 0u);  // both FINs: gone
    p.Pump();
    EXPECT_EQ(first_events.received[id], "reply");
    EXPECT_TRUE(first_events.fins.count(id));
    EXPECT_EQ(first.live_streams(), 0u);
  }
}

TEST(StreamMux, ResetFromEitherSideEndsTheStreamOnBoth) {
  for (bool device_resets : {true, false}) {
    MuxPair p;
    const StreamId id = OpenAccepted(p);
    StreamMux& resetter = device_resets ? p.dev : p.con;
    testing::Recorder& peer_events = device_resets ? p.con_events : p.dev_events;
    ASSERT_EQ(resetter.Reset(id, ErrorCode::kCancelled), CallStatus::kOk);
    EXPECT_EQ(resetter.Write(id, B("x")), 0u);
    EXPECT_EQ(resetter.Reset(id, ErrorCode::kCancelled), CallStatus::kUnknownStream);
    p.Pump();
    EXPECT_EQ(peer_events.resets.at(id), ErrorCode::kCancelled);
    EXPECT_EQ(p.dev.live_streams(), 0u);
    EXPECT_EQ(p.con.live_streams(), 0u);
  }
}

TEST(StreamMux, ResetBeforeOpenIsFlushedStillArrivesAfterOpen) {
  MuxPair p;
  auto r = p.dev.Open(kTarget);
  ASSERT_EQ(p.dev.Reset(r.id, ErrorCode::kCancelled), CallStatus::kOk);
  p.Pump();
  EXPECT_FALSE(p.con.failed());
  EXPECT_TRUE(p.con_events.opened.count(r.id));
  EXPECT_EQ(p.con_events.resets.at(r.id), ErrorCode::kCancelled);
  EXPECT_EQ(p.con.live_streams(), 0u);
  EXPECT_EQ(p.dev.count(MuxReason::kLateFrame), 1u);  // the OPEN_OK that crossed the RESET
}

TEST(StreamMux, SenderBlocksAtWindowAndResumesWhenReaderConsumes) {
  MuxPair p(Windows(1000, 1 << 20), Windows(1000, 1 << 20));
  p.con_events.auto_consume = false;
  const StreamId id = OpenAccepted(p);
  const std::string data(5000, 'z');
  EXPECT_EQ(p.dev.Write(id, B(data)), 1000u);  // exactly the stream window
  EXPECT_EQ(p.dev.Write(id, B(data)), 0u);
  p.Pump();
  EXPECT_EQ(p.con_events.received[id].size(), 1000u);
  EXPECT_EQ(p.dev.SendCapacity(id), 0u);
  EXPECT_EQ(p.dev_events.writable[id], 0);

  // Consuming less than half a window returns nothing yet; half a window sends one WINDOW.
  ASSERT_EQ(p.con.Consume(id, 499), CallStatus::kOk);
  p.Pump();
  EXPECT_EQ(p.dev.SendCapacity(id), 0u);
  ASSERT_EQ(p.con.Consume(id, 1), CallStatus::kOk);
  p.Pump();
  EXPECT_EQ(p.dev.SendCapacity(id), 500u);
  EXPECT_EQ(p.dev_events.writable[id], 1);  // "writable again"
  EXPECT_EQ(p.con.Consume(id, 501), CallStatus::kBadArgument);  // only 500 are held
}

// The §8 property, by credit accounting: stream A's reader never consumes. A's sender stops at exactly A's
// window, while stream B moves 100 windows' worth of bytes through the same session.
TEST(StreamMux, SlowStreamDoesNotStallOthers) {
  constexpr uint32_t kStreamWindow = 4096;
  constexpr uint32_t kSessionWindow = 16384;
  MuxPair p(Windows(kStreamWindow, kSessionWindow), Windows(kStreamWindow, kSessionWindow));
  const StreamId a = OpenAccepted(p);
  const StreamId b = OpenAccepted(p);
  p.con_events.hold.insert(a);  // A's reader has stalled

  const std::string fill(3 * kStreamWindow, 'a');
  size_t a_sent = p.dev.Write(a, B(fill));
  p.Pump();
  a_sent += p.dev.Write(a, B(fill));
  EXPECT_EQ(a_sent, kStreamWindow);  // blocked at exactly its window
  EXPECT_EQ(p.dev.SendCapacity(a), 0u);

  std::string b_data(100 * kStreamWindow, '\0');
  for (size_t i = 0; i < b_data.size(); ++i) b_data[i] = static_cast<char>(i * 31 + 7);
  ASSERT_TRUE(WriteAll(p, p.dev, b, b_data));
  EXPECT_EQ(p.con_events.received[b], b_data);  // in order, complete

  // A holds its window on the receiver and nothing more; the session has all its credit back.
  StreamInfo ai{};
  ASSERT_TRUE(p.con.FindStream(a, &ai));
  EXPECT_EQ(ai.recv_held, kStreamWindow);
  EXPECT_EQ(ai.recv_credit, 0u);
  EXPECT_EQ(p.con.session_recv().held(), 0u);
  EXPECT_EQ(p.con_events.received[a].size(), kStreamWindow);
  ASSERT_TRUE(p.dev.FindStream(a, &ai));
  EXPECT_EQ(ai.send_credit, 0u);
  EXPECT_EQ(p.dev.Write(a, B(fill)), 0u);  // still blocked
  EXPECT_GE(p.dev.session_send_credit(), kSessionWindow / 2);
  EXPECT_TRUE(p.dev.CheckInvariants());
  EXPECT_TRUE(p.con.CheckInvariants());
}

TEST(StreamMux, SessionWindowLimitsAllStreamsTogether) {
  MuxPair p(Windows(1 << 20, 3000), Windows(1 << 20, 3000));
  p.con_events.auto_consume = false;  // session credit comes back anyway
  const StreamId a = OpenAccepted(p);
  const StreamId b = OpenAccepted(p);
  const std::string data(2000, 'q');
  EXPECT_EQ(p.dev.Write(a, B(data)), 2000u);
  EXPECT_EQ(p.dev.Write(b, B(data)), 1000u);  // session window is shared
  p.Pump();
  EXPECT_EQ(p.dev_events.writable[b], 1);  // session credit returned on arrival, not on consumption
  EXPECT_EQ(p.dev.session_send_credit(), 3000u);
}

TEST(StreamMux, StreamFlowControlViolationResetsTheStream) {
  MuxPair p(Windows(100, 1 << 20), Windows(100, 1 << 20));
  p.con_events.auto_consume = false;
  const StreamId id = OpenAccepted(p);
  const std::string over(101, 'x');
  EXPECT_EQ(Feed(p.con, [&](InnerFrameWriter& w) { w.Data(id, B(over), false); }), MuxReason::kOk);
  EXPECT_EQ(p.con.count(MuxReason::kStreamFlowControl), 1u);
  EXPECT_EQ(p.con_events.resets.at(id), ErrorCode::kFlowControl);
  EXPECT_FALSE(p.con.failed());
  auto sent = Drain(p.con);
  ASSERT_FALSE(sent.empty());
  EXPECT_EQ(sent[0].type, InnerType::kReset);
  EXPECT_EQ(*DecodeReset(sent[0].payload), ErrorCode::kFlowControl);
}

TEST(StreamMux, SessionFlowControlViolationFailsTheSession) {
  MuxPair p(Windows(1 << 20, 1000), Windows(1 << 20, 1000));
  const StreamId a = OpenAccepted(p);
  const StreamId b = OpenAccepted(p);
  const std::string d(600, 'x');
  // Both within their stream windows, together beyond the session window, in one sealed message.
  auto r = Feed(p.con, [&](InnerFrameWriter& w) {
    w.Data(a, B(d), false);
    w.Data(b, B(d), false);
  });
  EXPECT_EQ(r, MuxReason::kSessionFlowControl);
  EXPECT_TRUE(p.con.failed());
  EXPECT_EQ(ErrorCodeFor(r), ErrorCode::kFlowControl);
  EXPECT_EQ(p.con.Write(a, B("x")), 0u);
  EXPECT_EQ(p.con.PollOutgoing(p.buf), 0u);
}

TEST(StreamMux, WindowOverflowIsAFlowControlError) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  EXPECT_EQ(Feed(p.dev, [&](InnerFrameWriter& w) { w.Window(id, 0xFFFFFFFFu); }), MuxReason::kOk);
  EXPECT_EQ(p.dev.count(MuxReason::kStreamWindowOverflow), 1u);
  EXPECT_EQ(p.dev_events.resets.at(id), ErrorCode::kFlowControl);
  EXPECT_EQ(Feed(p.dev, [&](InnerFrameWriter& w) { w.Window(0, 0xFFFFFFFFu); }), MuxReason::kSessionWindowOverflow);
}

TEST(StreamMux, MaxStreamsEnforcedOnBothSides) {
  MuxOptions dev, con;
  dev.peer_max_streams = 2;
  con.max_streams = 2;
  MuxPair p(dev, con);
  OpenAccepted(p);
  OpenAccepted(p);
  EXPECT_EQ(p.dev.Open(kTarget).status, CallStatus::kTooManyStreams);
  // A device that ignores the limit gets RESET too_many_streams; the session stays up.
  EXPECT_EQ(Feed(p.con, [](InnerFrameWriter& w) { w.Open(3, 100, kTarget); }), MuxReason::kOk);
  EXPECT_EQ(p.con.count(MuxReason::kTooManyStreams), 1u);
  EXPECT_EQ(p.con.live_streams(), 2u);
  auto sent = Drain(p.con);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, 3u);
  EXPECT_EQ(*DecodeReset(sent[0].payload), ErrorCode::kTooManyStreams);
}

TEST(StreamMux, StreamIdReuseIsRejected) {
  struct Case { StreamId second; };
  for (Case c : {Case{5}, Case{4}}) {
    MuxPair p;
    EXPECT_EQ(Feed(p.con, [](InnerFrameWriter& w) { w.Open(5, 100, kTarget); }), MuxReason::kOk);
    EXPECT_EQ(p.con.Reset(5, ErrorCode::kCancelled), CallStatus::kOk);  // closed, but the id stays used
    EXPECT_EQ(Feed(p.con, [&](InnerFrameWriter& w) { w.Open(c.second, 100, kTarget); }),
              MuxReason::kStreamIdReused);
    EXPECT_EQ(ErrorCodeFor(p.con.failure()), ErrorCode::kProtocolError);
  }
}

TEST(StreamMux, LateDataForResetStreamReturnsSessionCredit) {
  MuxPair p(Windows(1 << 16, 10000), Windows(1 << 16, 10000));
  const StreamId id = OpenAccepted(p);
  const std::string d(6000, 'x');
  ASSERT_EQ(p.dev.Write(id, B(d)), 6000u);
  ASSERT_EQ(p.con.Reset(id, ErrorCode::kCancelled), CallStatus::kOk);  // crosses the DATA
  p.Pump();
  EXPECT_EQ(p.con.count(MuxReason::kLateFrame), 1u);
  EXPECT_EQ(p.dev.session_send_credit(), 10000u);  // nothing leaked
  EXPECT_EQ(p.dev_events.resets.at(id), ErrorCode::kCancelled);
}

TEST(StreamMux, FramesForNeverOpenedStreamsFailTheSession) {
  struct Case { const char* name; InnerType type; };
  for (Case c : {Case{"data", InnerType::kData}, Case{"window", InnerType::kWindow},
                 Case{"reset", InnerType::kReset}}) {
    SCOPED_TRACE(c.name);
    MuxPair p;
    const uint8_t payload[4] = {0, 0, 0, 1};
    const size_t len = c.type == InnerType::kReset ? 2 : (c.type == InnerType::kWindow ? 4 : 1);
    auto r = Feed(p.con, [&](InnerFrameWriter& w) {
      w.Raw(static_cast<uint8_t>(c.type), 0, 9, std::span(payload).first(len));
    });
    EXPECT_EQ(r, MuxReason::kUnknownStream);
  }
}

TEST(StreamMux, MalformedAndTruncatedPlaintextFailTheSession) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  EXPECT_EQ(Feed(p.dev, [&](InnerFrameWriter& w) { w.Raw(0x04, 0, id, B("abc")); }), MuxReason::kMalformedFrame);
  MuxPair q;
  const uint8_t truncated[] = {0x03, 0, 0, 0, 0, 1, 0, 9, 'x'};
  EXPECT_EQ(q.con.OnPlaintext(truncated), MuxReason::kTruncated);
  EXPECT_EQ(q.con.OnPlaintext({}), MuxReason::kSessionFailed);
}

TEST(StreamMux, UnknownInnerTypesAreSkipped) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  EXPECT_EQ(Feed(p.dev, [&](InnerFrameWriter& w) {
              w.Raw(0x42, 0, id, B("future"));
              w.Data(id, B("ok"), false);
            }),
            MuxReason::kOk);
  EXPECT_EQ(p.dev_events.received[id], "ok");
}

TEST(StreamMux, OutboxFullBlocksWritesUntilPolled) {
  MuxOptions o;
  o.outbox_bytes = 20 * 1024;
  MuxPair p(o, o);
  const StreamId id = OpenAccepted(p);
  const std::string big(100 * 1024, 'b');
  const size_t first = p.dev.Write(id, B(big));
  EXPECT_GT(first, 0u);
  EXPECT_LT(first, o.outbox_bytes);
  EXPECT_EQ(p.dev.Write(id, B(big)), 0u);
  p.Pump();
  EXPECT_GE(p.dev_events.writable[id], 1);
  EXPECT_GT(p.dev.Write(id, B(big)), 0u);
}

// A writer like the link's StreamPump: each time a stream may write again, it writes all it can at once.
struct GreedyWriter : MuxVisitor {
  StreamMux* mux = nullptr;
  std::string data = std::string(1 << 20, 'g');
  std::map<StreamId, uint64_t> written;
  void WriteMore(StreamId id) { written[id] += mux->Write(id, B(data)); }
  void OnStreamOpen(StreamId, const OpenTarget&) override {}
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId, std::span<const uint8_t>) override {}
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId id) override { WriteMore(id); }
};

// Streams that all have more to send than the outbox takes share it in turns. (Offering the room to the blocked
// streams in the same order every time let the first take all of it while it had bytes: the rest starved.)
TEST(StreamMux, BlockedStreamsShareTheOutboxInTurns) {
  GreedyWriter writer;
  testing::Recorder reader;
  StreamMux dev(MuxPair::WithRole({}, MuxRole::kDevice), &writer);
  StreamMux con(MuxPair::WithRole({}, MuxRole::kConnector), &reader);
  writer.mux = &dev;
  reader.mux = &con;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  auto exchange = [&] {  // one message each way, if there is one
    if (size_t n = dev.PollOutgoing(buf)) {
      ASSERT_EQ(con.OnPlaintext(std::span(buf).first(n)), MuxReason::kOk);
    }
    while (size_t n = con.PollOutgoing(buf)) {
      ASSERT_EQ(dev.OnPlaintext(std::span(buf).first(n)), MuxReason::kOk);
    }
  };
  constexpr int kStreams = 4;
  std::vector<StreamId> ids;
  for (int i = 0; i < kStreams; ++i) ids.push_back(dev.Open(kTarget).id);
  for (int i = 0; i < 8; ++i) exchange();  // OPEN / OPEN_OK
  ASSERT_EQ(reader.opened.size(), static_cast<size_t>(kStreams));
  for (StreamId id : ids) writer.WriteMore(id);  // the first fills the outbox; all four are now blocked
  writer.written.clear();

  constexpr int kRounds = 64;  // 64 sealed messages of up to 16 KiB: about 256 KiB per stream if shared evenly
  for (int i = 0; i < kRounds; ++i) exchange();
  uint64_t least = UINT64_MAX, most = 0, total = 0;
  for (StreamId id : ids) {
    least = std::min(least, writer.written[id]);
    most = std::max(most, writer.written[id]);
    total += writer.written[id];
  }
  EXPECT_GT(total, static_cast<uint64_t>(kRounds - 8) * kMaxStreamChunk);
  EXPECT_GT(least, 0u) << "a blocked stream never got a turn";
  EXPECT_LE(most - least, 2u * kMaxStreamChunk) << "turns were not shared evenly";
}

TEST(StreamMux, ReleaseIdleMemoryKeepsWorking) {
  MuxPair p;
  const StreamId id = OpenAccepted(p);
  p.dev.ReleaseIdleMemory();
  p.con.ReleaseIdleMemory();
  EXPECT_EQ(p.dev.Write(id, B("again")), 5u);
  p.Pump();
  EXPECT_EQ(p.con_events.received[id], "again");
}

// A visitor that only consumes what it is given (Recorder appends to strings, which allocates).
struct Sink : MuxVisitor {
  StreamMux* mux = nullptr;
  uint64_t bytes = 0;
  void OnStreamOpen(StreamId id, const OpenTarget&) override { mux->Accept(id); }
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override {
    bytes += d.size();
    mux->Consume(id, d.size());
  }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
};

TEST(StreamMux, SteadyDataPathNoAlloc) {
  MuxOptions dopts = Windows(64 * 1024, 256 * 1024), copts = dopts;
  dopts.role = MuxRole::kDevice;
  copts.role = MuxRole::kConnector;
  Sink dev_sink, con_sink;
  StreamMux dev(dopts, &dev_sink), con(copts, &con_sink);
  dev_sink.mux = &dev;
  con_sink.mux = &con;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  auto pump = [&] {
    for (;;) {
      const size_t n1 = dev.PollOutgoing(buf);
      if (n1 != 0) {
        ASSERT_EQ(con.OnPlaintext(std::span(buf).first(n1)), MuxReason::kOk);
      }
      const size_t n2 = con.PollOutgoing(buf);
      if (n2 != 0) {
        ASSERT_EQ(dev.OnPlaintext(std::span(buf).first(n2)), MuxReason::kOk);
      }
      if (n1 == 0 && n2 == 0) return;
    }
  };
  const StreamId a = dev.Open(kTarget).id;  // opening allocates (a map node): not the steady path
  const StreamId b = dev.Open(kTarget).id;
  pump();
  const std::vector<uint8_t> chunk(16 * 1024, 0x5c);
  auto steady = [&] {
    for (int i = 0; i < 64; ++i) {
      (void)dev.Write(a, chunk);
      (void)con.Write(a, chunk);
      (void)dev.Write(b, std::span(chunk).first(100));
      pump();
    }
  };
  steady();  // warm-up: queues reach their high-water mark
  const strait::testing::AllocationCounter allocations;
  steady();
  EXPECT_EQ(allocations.Count(), 0u);
  EXPECT_GT(con_sink.bytes, 64u * chunk.size());
  EXPECT_GT(dev_sink.bytes, 64u * chunk.size());
}

}  // namespace
}  // namespace strait::tunnel
