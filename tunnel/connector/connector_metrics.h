// The connector's metrics: a copy of its counters that the loop publishes (MetricsPublisher: once per interval and
// on demand, never per stream or per frame; the loop takes one mutex only then) and their Prometheus text. The HTTP
// side is metrics::HttpEndpoint, wired by `strait connector --metrics-listen` (cli/connector_command.cc).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "runtime/event_loop.h"
#include "tunnel/connector/connector_stats.h"
#include "tunnel/connector/direct_listener.h"
#include "tunnel/connector/tunnel_port.h"
#include "tunnel/init_replay.h"

namespace strait::connector {

class Connector;

// One published copy. Counters are monotonic; gauges are as of the publish.
struct ConnectorMetrics {
  ConnectorStats stats;              // the connector's own counters (streams, sessions, bytes, refusals)
  std::uint64_t relays = 0;          // gauge: relay links configured
  std::uint64_t relays_up = 0;       // gauge: relay links logged in now
  std::uint64_t loop_connects = 0;   // the loop's TCP connects started (targets and relays)
  std::uint64_t loop_recv_bytes = 0; // bytes received on every socket of the loop (TLS and target TCP)
  std::uint64_t loop_send_bytes = 0; // bytes sent on every socket of the loop
  std::uint64_t loop_send_queue_full = 0;  // sends the loop refused: a socket's send queue at its limit
  std::uint64_t loop_recv_starved = 0;     // receives that found the ring empty (LoopStats::recv_enobufs)
  std::uint64_t link_stalls = 0;           // watchdog: links with bytes to move that moved none for a second
  DirectListenerStats direct;              // the Direct Connect port's refusals (zero when it is off)
  tunnel::InitReplayStats init_replay;     // SESSION_INIT timestamp checks (protocol.md §6)
  std::uint64_t init_replay_entries = 0;   // gauge: devices the replay record holds now
  std::uint64_t policy_set_over_bound = 0;  // policies / device entries not held (PolicySet::over_bound())
  bool tunnel_up = false;                  // gauge: the connector's TUN is open (--tunnel-device)
  std::uint64_t tunnel_pool_free = 0;      // gauge: addresses a new device could get now (0 without a pool)
  TunnelPortStats tunnel;                  // the TUN's packets both ways (zero while it is closed)
  PacketFilterStats tunnel_filter;         // per-packet drops by reason, MSS clamps, ICMP answers
  std::uint64_t publishes = 0;       // how many copies have been published (0: none yet)
};

// The Prometheus text exposition of `m` (version 0.0.4); names are listed in docs/connector.md.
std::string RenderPrometheus(const ConnectorMetrics& m);

// Copies a connector's counters into a mutex-guarded slot from the loop thread: at Start(), once per `interval`,
// and when another thread asks for a fresh copy (Fresh: one byte on a socketpair whose loop end the loop has
// adopted, so the loop wakes and publishes; no loop state is read off the loop). Nothing on the data path takes
// the mutex.
class MetricsPublisher final : private runtime::TimerHandler, private runtime::ConnectionHandler {
 public:
  // `loop` and `connector` must outlive the publisher. Construct and Start it on the loop's thread before Run (or
  // from a loop callback); destroy it after Run returned.
  MetricsPublisher(runtime::EventLoop& loop, const Connector& connector,
                   std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~MetricsPublisher() override;  // cancels its timer, closes its end of the wake-up channel
  MetricsPublisher(const MetricsPublisher&) = delete;
  MetricsPublisher& operator=(const MetricsPublisher&) = delete;

  // [loop] Publishes once now, arms the periodic timer and adopts the wake-up channel.
  void Start();
  // [any] The last published copy (all zero, publishes == 0, before Start).
  ConnectorMetrics Latest() const;
  // [any thread but the loop's] Asks the loop to publish and waits up to `wait` for that copy. Returns the newest
  // copy either way: when the loop does not answer in time (busy, not started, stopped) it is the last periodic one.
  ConnectorMetrics Fresh(std::chrono::milliseconds wait);

 private:
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override;
  void OnClose(runtime::EventLoop& loop, runtime::ConnId id, runtime::CloseReason reason, int err) override;
  void Publish();

  // Immutable after construction.
  runtime::EventLoop& loop_;
  const Connector& connector_;
  const std::chrono::milliseconds interval_;
  int wake_fd_ = -1;  // the askers' end of the socketpair (any thread writes one byte; -1 if socketpair failed)

  // Loop thread only.
  int loop_fd_ = -1;  // the loop's end until Start adopts it
  runtime::TimerId timer_;
  runtime::ConnId wake_conn_;
  std::uint64_t publishes_ = 0;

  // Guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable published_;  // notified after each publish
  ConnectorMetrics latest_;
};

}  // namespace strait::connector
