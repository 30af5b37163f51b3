// Relay bulk throughput: one device and one connector (fake peers of tests/relay/relay_harness.h: real TLS links
// over loopback, real end-to-end sessions) through an in-process relay::Relay. A figure, not a regression check: it
// was a disabled test in tests/relay/relay_test.cc.
//
//   BM_RelayBulk/shards:<n>  the relay with n shards; per iteration the device sends 8 MiB on a new stream and the
//                            iteration ends when the connector has received all of it. bytes_per_second is the
//                            figure. The peers share one loop thread, which bounds both rows alike, so the same-run
//                            comparison is shards:2 against shards:1 (both directions of the device->connector path
//                            on different shards cross the SPSC rings).
//
// Method (bench/README.md): build/bench/strait_relay_bench --benchmark_repetitions=5
//                           --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "tests/relay/relay_harness.h"

namespace strait::relay::testing {
namespace {

constexpr std::size_t kBytes = 8u << 20;

// Connects `p` to the relay and waits for its login; false if it went down instead.
bool Login(PeerLoop& pl, Peer& p, const runtime::SocketAddress& addr) {
  pl.Exec([&] { p.Connect(addr); });
  return pl.Wait([&] { return p.up || p.down; }) && pl.Exec([&] { return p.up; });
}

void RunBulk(benchmark::State& state, RelayFixture& f) {
  PeerLoop pl;
  Peer con(pl, Pki::Issue(f.acme, crypto::Role::kConnector, "conn-1"));
  Peer dev(pl, Pki::Issue(f.acme, crypto::Role::kDevice, "dev-1"));
  con.SetRoot(f.pki.root.public_key);
  dev.SetRoot(f.pki.root.public_key);
  if (!Login(pl, con, f.relay->connector_address()) || !Login(pl, dev, f.relay->device_address())) {
    state.SkipWithError("login failed");
    pl.Stop();
    return;
  }
  pl.Exec([&] { dev.RequestSession(); });
  std::uint32_t ch = 0;
  if (pl.Wait([&] { return !dev.offers.empty(); })) ch = pl.Exec([&] { return dev.offers.back(); });
  if (ch == 0 || !pl.Wait([&] { return dev.Established(ch) && con.sessions.contains(ch) && con.Established(ch); })) {
    state.SkipWithError("no session");
    pl.Stop();
    return;
  }
  const std::string data(kBytes, 'x');
  for (auto _ : state) {
    const tunnel::StreamId sid = pl.Exec([&] { return dev.OpenStream(ch, data); });
    if (!pl.Wait([&] { return con.sessions.at(ch)->received[sid].size() >= kBytes; }, std::chrono::seconds(60))) {
      state.SkipWithError("the connector did not receive the stream within 60 s");
      break;
    }
    pl.Exec([&] { con.sessions.at(ch)->received.erase(sid); });
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytes));
  pl.Stop();  // every peer link goes down before the peers are destroyed
}

void BM_RelayBulk(benchmark::State& state) {
  RelayFixture f;
  f.Start(RelayFixture::DefaultOptions(static_cast<std::size_t>(state.range(0))));
  if (!f.relay) {
    state.SkipWithError("the relay did not start");
    return;
  }
  RunBulk(state, f);
  f.relay->Stop();
}
BENCHMARK(BM_RelayBulk)->ArgName("shards")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace strait::relay::testing
