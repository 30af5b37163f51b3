// strait_frame_bench: the sans-I/O tunnel core's costs (method: bench/README.md; report medians of 5
// repetitions, against the memcpy baseline measured in the same run).
//
//   BM_FrameHeaderEncode / BM_FrameHeaderDecode   one 12-byte header through ByteWriter / ByteReader
//   BM_FrameReaderNext/<payload>                  FrameReader::Next over a 1 MiB buffer of back-to-back frames
//   BM_MemcpyBaseline/<payload>                   memcpy of the same 1 MiB buffer (the floor for "touching" it)
//   BM_InnerFramePack/<payload>                   InnerFrameWriter::Data packing one sealed message full
//   BM_InnerFrameRead/<payload>                   InnerFrameReader over that message
//   BM_StreamMuxThroughput                        device Write(16 KiB) -> PollOutgoing -> connector OnPlaintext
//                                                 -> Consume -> WINDOW back; bytes/s of stream payload
//   BM_MuxCopyBaseline                            the two 16 KiB memcpys the mux path does (outbox in, out)
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/inner_frame.h"
#include "tunnel/stream_mux.h"

namespace strait::tunnel {
namespace {

constexpr size_t kBufferBytes = 1 << 20;

std::vector<uint8_t> ManyFrames(size_t payload, size_t* frames) {
  std::vector<uint8_t> buf;
  std::vector<uint8_t> one(kHeaderSize + payload);
  std::vector<uint8_t> body(payload, 0xab);
  *frames = 0;
  while (buf.size() + one.size() <= kBufferBytes) {
    EncodeFrame(FrameType::kSealedStream, 0, 42, body, one);
    buf.insert(buf.end(), one.begin(), one.end());
    ++*frames;
  }
  return buf;
}

void BM_FrameHeaderEncode(benchmark::State& state) {
  std::array<uint8_t, kHeaderSize> out{};
  FrameHeader h{kFramingVersion, FrameType::kSealedStream, 0, 16384, 42};
  for (auto _ : state) {
    benchmark::DoNotOptimize(h);
    benchmark::DoNotOptimize(EncodeFrameHeader(h, out));
    benchmark::ClobberMemory();
    ++h.channel;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FrameHeaderEncode);

void BM_FrameHeaderDecode(benchmark::State& state) {
  std::array<uint8_t, kHeaderSize> in{};
  EncodeFrameHeader(FrameHeader{kFramingVersion, FrameType::kSealedStream, 0, 16384, 42}, in);
  FrameHeader h;
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    benchmark::DoNotOptimize(ParseFrameHeader(in, &h));
    benchmark::DoNotOptimize(h);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FrameHeaderDecode);

void BM_FrameReaderNext(benchmark::State& state) {
  size_t frames = 0;
  const auto buf = ManyFrames(static_cast<size_t>(state.range(0)), &frames);
  FrameReader reader;
  for (auto _ : state) {
    std::span<const uint8_t> rest(buf);
    size_t n = 0;
    for (;;) {
      const ReadResult r = reader.Next(rest);
      if (r.kind != ReadKind::kFrame) break;
      benchmark::DoNotOptimize(r.payload.data());
      rest = rest.subspan(r.consumed);
      ++n;
    }
    if (n != frames) state.SkipWithError("frame count mismatch");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_FrameReaderNext)->Arg(64)->Arg(1024)->Arg(16384);

void BM_MemcpyBaseline(benchmark::State& state) {
  size_t frames = 0;
  const auto buf = ManyFrames(static_cast<size_t>(state.range(0)), &frames);
  std::vector<uint8_t> dst(buf.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), buf.data(), buf.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_MemcpyBaseline)->Arg(64)->Arg(1024)->Arg(16384);

void BM_InnerFramePack(benchmark::State& state) {
  const std::vector<uint8_t> body(static_cast<size_t>(state.range(0)), 0x11);
  std::array<uint8_t, kMaxSealedPlaintext> out{};
  int64_t frames = 0, bytes = 0;
  for (auto _ : state) {
    InnerFrameWriter w(out);
    StreamId id = 1;
    while (w.Data(id++, body, false)) {
      ++frames;
      bytes += static_cast<int64_t>(body.size());
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(frames);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_InnerFramePack)->Arg(64)->Arg(1024)->Arg(16384);

void BM_InnerFrameRead(benchmark::State& state) {
  const std::vector<uint8_t> body(static_cast<size_t>(state.range(0)), 0x11);
  std::array<uint8_t, kMaxSealedPlaintext> out{};
  InnerFrameWriter w(out);
  StreamId id = 1;
  int64_t per = 0;
  while (w.Data(id++, body, false)) ++per;
  const auto msg = w.data();
  for (auto _ : state) {
    InnerFrameReader r(msg);
    InnerFrame f;
    while (r.Next(&f) == InnerStatus::kFrame) benchmark::DoNotOptimize(f.payload.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * per);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * per * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_InnerFrameRead)->Arg(64)->Arg(1024)->Arg(16384);

struct Sink : MuxVisitor {
  StreamMux* mux = nullptr;
  void OnStreamOpen(StreamId id, const OpenTarget&) override { mux->Accept(id); }
  void OnStreamAccepted(StreamId) override {}
  void OnStreamData(StreamId id, std::span<const uint8_t> d) override { mux->Consume(id, d.size()); }
  void OnStreamFin(StreamId) override {}
  void OnStreamReset(StreamId, ErrorCode) override {}
  void OnStreamWritable(StreamId) override {}
};

void BM_StreamMuxThroughput(benchmark::State& state) {
  MuxOptions dopts, copts;
  dopts.role = MuxRole::kDevice;
  copts.role = MuxRole::kConnector;
  Sink dsink, csink;
  StreamMux dev(dopts, &dsink), con(copts, &csink);
  dsink.mux = &dev;
  csink.mux = &con;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
  auto pump = [&] {
    for (;;) {
      const size_t a = dev.PollOutgoing(buf);
      if (a != 0) (void)con.OnPlaintext(std::span(buf).first(a));
      const size_t b = con.PollOutgoing(buf);
      if (b != 0) (void)dev.OnPlaintext(std::span(buf).first(b));
      if (a == 0 && b == 0) return;
    }
  };
  static const uint8_t kAddr[4] = {10, 0, 0, 1};
  const StreamId id = dev.Open(OpenTarget{AddrType::kIPv4, kAddr, 80}).id;
  pump();
  const std::vector<uint8_t> chunk(16384, 0x77);
  int64_t bytes = 0;
  for (auto _ : state) {
    const size_t n = dev.Write(id, chunk);
    bytes += static_cast<int64_t>(n);
    pump();
    if (n == 0) {
      state.SkipWithError("stalled");
      break;
    }
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_StreamMuxThroughput);

void BM_MuxCopyBaseline(benchmark::State& state) {
  const std::vector<uint8_t> chunk(16384, 0x77);
  std::vector<uint8_t> outbox(64 * 1024), out(kMaxSealedPlaintext);
  for (auto _ : state) {
    std::memcpy(outbox.data(), chunk.data(), chunk.size());
    benchmark::ClobberMemory();
    std::memcpy(out.data(), outbox.data(), chunk.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_MuxCopyBaseline);

}  // namespace
}  // namespace strait::tunnel
