#include "tunnel/connector/connector_metrics.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "metrics/prometheus_text.h"
#include "tunnel/connector/connector.h"

namespace strait::connector {

using metrics::MetricType;

namespace {

// The IP tunnel's packet path (docs/ip-tunnel.md §2, §6): TunnelPort's and PacketFilter's counters, one drop family
// with every reason, so rate(drops_total) by reason reads the whole path.
void RenderTunnel(const ConnectorMetrics& m, metrics::PrometheusText& out) {
  const TunnelPortStats& t = m.tunnel;
  const PacketFilterStats& f = m.tunnel_filter;
  out.Gauge("strait_connector_tunnel_up", "1 while the connector's TUN is open (--tunnel-device).", m.tunnel_up ? 1 : 0);
  out.Gauge("strait_connector_tunnel_pool_free", "Tunnel addresses a new device could be given now.",
            m.tunnel_pool_free);
  out.Family("strait_connector_tunnel_packets_total", MetricType::kCounter,
             "IP tunnel packets through the TUN: from_devices (written to it), to_devices (read and sent to a device).");
  out.Sample("strait_connector_tunnel_packets_total", {"direction", "from_devices"}, t.packets_from_devices);
  out.Sample("strait_connector_tunnel_packets_total", {"direction", "to_devices"}, t.packets_to_devices);
  out.Family("strait_connector_tunnel_bytes_total", MetricType::kCounter,
             "IP packet bytes through the TUN, by direction (as packets_total).");
  out.Sample("strait_connector_tunnel_bytes_total", {"direction", "from_devices"}, t.bytes_from_devices);
  out.Sample("strait_connector_tunnel_bytes_total", {"direction", "to_devices"}, t.bytes_to_devices);
  out.Family("strait_connector_tunnel_drops_total", MetricType::kCounter,
             "IP tunnel packets dropped, by reason (malformed ones by what the parser refused).");
  constexpr const char* kDrops = "strait_connector_tunnel_drops_total";
  for (std::size_t i = 0; i < kPacketDropCount; ++i) {
    const auto d = static_cast<PacketDrop>(i);
    if (d == PacketDrop::kMalformed) continue;  // the malformed_* samples below add up to it
    out.Sample(kDrops, {"reason", PacketDropName(d)}, f.drops[i]);
  }
  for (std::size_t i = 0; i < ip::kDropReasonCount; ++i) {
    out.Sample(kDrops, {"reason", fmt::format("malformed_{}", ip::DropReasonName(static_cast<ip::DropReason>(i)))},
               f.malformed[i]);
  }
  out.Sample(kDrops, {"reason", "no_session"}, t.no_session);
  out.Sample(kDrops, {"reason", "tun_write_error"}, t.tun_write_errors);
  out.Sample(kDrops, {"reason", "link_full"}, m.stats.tunnel_link_full);
  out.Counter("strait_connector_tunnel_mss_clamped_total", "TCP SYNs whose MSS option was lowered to the tunnel's.",
              f.mss_clamped);
  out.Counter("strait_connector_tunnel_icmp_sent_total",
              "ICMP errors sent to devices (administratively prohibited, fragmentation needed).", f.icmp_sent);
  out.Counter("strait_connector_tunnel_icmp_limited_total",
              "ICMP errors not sent: over the connector's rate limit (100 a second).", f.icmp_limited);
}

}  // namespace

std::string RenderPrometheus(const ConnectorMetrics& m) {
  const ConnectorStats& s = m.stats;
  metrics::PrometheusText out;
  out.Gauge("strait_connector_relays", "Relay links configured.", m.relays);
  out.Gauge("strait_connector_relay_links_up", "Relay links logged in now.", m.relays_up);
  out.Counter("strait_connector_relay_logins_total", "Relay link logins (the first of each relay and every reconnect).",
              s.relay_links_up);
  out.Counter("strait_connector_relay_links_down_total", "Relay links that went down after logging in.",
              s.relay_links_down);
  out.Counter("strait_connector_relay_login_failures_total",
              "Relay dials that did not log in (TLS, connection refused, ERROR from the relay, name not resolved).",
              s.relay_login_failures);
  out.Family("strait_connector_direct_logins_total", MetricType::kCounter, "Direct Connect logins by result.");
  out.Sample("strait_connector_direct_logins_total", {"result", "ok"}, s.direct_links_up);
  out.Sample("strait_connector_direct_logins_total", {"result", "other_tenant"}, m.direct.refused_tenant);
  out.Sample("strait_connector_direct_logins_total", {"result", "failed"}, m.direct.logins_failed);
  out.Sample("strait_connector_direct_logins_total", {"result", "revoked"}, s.direct_logins_refused_revoked);
  out.Family("strait_connector_direct_refused_total", MetricType::kCounter,
             "Direct Connect connections closed before login, by reason.");
  out.Sample("strait_connector_direct_refused_total", {"reason", "listener_full"}, m.direct.refused_full);
  out.Sample("strait_connector_direct_refused_total", {"reason", "source_limit"}, m.direct.refused_source);
  out.Sample("strait_connector_direct_refused_total", {"reason", "login_evicted"}, m.direct.logins_evicted);
  out.Gauge("strait_connector_sessions", "Device sessions now.", s.sessions_active);
  out.Counter("strait_connector_sessions_opened_total", "Device sessions established.", s.sessions_up);
  out.Counter("strait_connector_sessions_refused_total",
              "SESSION_INIT refused (credential, session limit, stopping, replay).", s.sessions_refused);
  out.Family("strait_connector_control_denials_total", MetricType::kCounter,
             "What the control plane's denials did (docs/control-plane.md section 7.3): SESSION_INITs refused and up "
             "sessions closed for a revoked device or a suspended tenant, relay links closed for a revoked relay.");
  out.Sample("strait_connector_control_denials_total", {"what", "session_init_revoked"}, s.sessions_refused_revoked);
  out.Sample("strait_connector_control_denials_total", {"what", "session_init_suspended"},
             s.sessions_refused_suspended);
  out.Sample("strait_connector_control_denials_total", {"what", "session_closed_revoked"}, s.sessions_closed_revoked);
  out.Sample("strait_connector_control_denials_total", {"what", "session_closed_suspended"},
             s.sessions_closed_suspended);
  out.Sample("strait_connector_control_denials_total", {"what", "relay_revoked"}, s.relay_links_refused_revoked);
  out.Family("strait_connector_control_over_bound_total", MetricType::kCounter,
             "Control-plane state the connector did not hold because a table was at its bound (docs/connector.md "
             "\"Limits\"): policies and per-device policy entries, revoked relay ids.");
  out.Sample("strait_connector_control_over_bound_total", {"table", "policy_set"}, m.policy_set_over_bound);
  out.Sample("strait_connector_control_over_bound_total", {"table", "revoked_relays"}, s.revoked_relays_over_bound);
  out.Family("strait_connector_session_inits_stale_total", MetricType::kCounter,
             "SESSION_INITs refused by the timestamp check (replayed; protocol.md section 6), by reason. Also counted "
             "in strait_connector_sessions_refused_total.");
  for (tunnel::InitCheck c : {tunnel::InitCheck::kReplayed, tunnel::InitCheck::kBelowFloor,
                              tunnel::InitCheck::kTooOld, tunnel::InitCheck::kTooNew}) {
    out.Sample("strait_connector_session_inits_stale_total", {"reason", tunnel::InitCheckName(c)},
               m.init_replay.count(c));
  }
  out.Gauge("strait_connector_init_replay_devices",
            "Devices the SESSION_INIT replay record holds now (at most 65,536).", m.init_replay_entries);
  out.Counter("strait_connector_init_replay_dropped_full_total",
              "Replay record entries dropped before their window ended to make room (each raises the record's floor).",
              m.init_replay.dropped_full);
  out.Gauge("strait_connector_streams", "Streams open now (accepted, not finished).", s.streams_open);
  out.Counter("strait_connector_streams_opened_total", "Streams accepted (OPEN_OK sent).", s.streams_opened);
  out.Family("strait_connector_streams_refused_total", MetricType::kCounter, "Stream OPENs answered RESET, by reason.");
  for (std::size_t i = 0; i < kRefuseReasonCount; ++i) {
    out.Sample("strait_connector_streams_refused_total", {"reason", RefuseReasonName(static_cast<RefuseReason>(i))},
               s.streams_refused[i]);
  }
  out.Counter("strait_connector_stream_bytes_to_targets_total",
              "Stream bytes written to target sockets (counted when a stream finishes).", s.bytes_to_targets);
  out.Counter("strait_connector_stream_bytes_from_targets_total",
              "Target bytes sent on streams (counted when a stream finishes).", s.bytes_from_targets);
  out.Counter("strait_connector_frames_unknown_channel_total", "Session frames for no known session (dropped).",
              s.frames_unknown_channel);
  out.Counter("strait_connector_datagrams_dropped_total", "SEALED_DATAGRAM frames dropped: no tunnel asked for or served.",
              s.datagrams_dropped);
  out.Family("strait_connector_tunnel_requests_total", MetricType::kCounter,
             "TUNNEL_REQUESTs by answer: answered (address leased), refused_off (no pool), refused_full.");
  out.Sample("strait_connector_tunnel_requests_total", {"result", "answered"}, s.tunnel_answered);
  out.Sample("strait_connector_tunnel_requests_total", {"result", "refused_off"}, s.tunnel_refused_off);
  out.Sample("strait_connector_tunnel_requests_total", {"result", "refused_full"}, s.tunnel_refused_full);
  out.Gauge("strait_connector_tunnel_leases", "Tunnel addresses leased, live or in their grace period.",
            s.tunnel_leases);
  RenderTunnel(m, out);
  out.Counter("strait_connector_loop_connects_total", "TCP connects started by the loop (targets and relays).",
              m.loop_connects);
  out.Counter("strait_connector_loop_recv_bytes_total", "Bytes received on the loop's sockets.", m.loop_recv_bytes);
  out.Counter("strait_connector_loop_send_bytes_total", "Bytes sent on the loop's sockets.", m.loop_send_bytes);
  out.Counter("strait_connector_loop_send_queue_full_total", "Sends refused: a socket's send queue was at its limit.",
              m.loop_send_queue_full);
  out.Counter("strait_connector_loop_recv_starved_total",
              "Receives that found the loop's receive ring empty (ENOBUFS); the socket waits for buffers.",
              m.loop_recv_starved);
  out.Counter("strait_connector_link_stalls_total",
              "Forward-progress watchdog: relay or Direct Connect links that had bytes to move and moved none for a "
              "second, one per link per second.",
              m.link_stalls);
  return out.Take();
}

MetricsPublisher::MetricsPublisher(runtime::EventLoop& loop, const Connector& connector,
                                   std::chrono::milliseconds interval)
    : loop_(loop), connector_(connector), interval_(interval) {
  // Both ends blocking: the loop adopts its end (io_uring waits on it; an O_NONBLOCK fd would make the recv fail
  // with EAGAIN instead of waiting), and askers write with MSG_DONTWAIT.
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0) {
    wake_fd_ = fds[0];
    loop_fd_ = fds[1];
  }
}

MetricsPublisher::~MetricsPublisher() {
  if (timer_.valid()) loop_.CancelTimer(timer_);
  if (loop_fd_ >= 0) ::close(loop_fd_);  // never adopted
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void MetricsPublisher::Start() {
  Publish();
  timer_ = loop_.AddTimer(interval_, this);
  if (loop_fd_ >= 0) {
    wake_conn_ = loop_.Adopt(loop_fd_, static_cast<runtime::ConnectionHandler*>(this));
    if (wake_conn_.valid()) loop_fd_ = -1;  // the loop owns it now; Fresh() then waits for periodic copies only
  }
}

ConnectorMetrics MetricsPublisher::Latest() const {
  std::lock_guard lock(mu_);
  return latest_;
}

ConnectorMetrics MetricsPublisher::Fresh(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  const std::uint64_t seen = latest_.publishes;
  lock.unlock();
  if (wake_fd_ >= 0) {
    const char one = 1;
    (void)::send(wake_fd_, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);  // EAGAIN: wake-ups are already pending
  }
  lock.lock();
  published_.wait_for(lock, wait, [&] { return latest_.publishes != seen; });
  return latest_;
}

void MetricsPublisher::OnData(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::Buffer /*data*/) {
  Publish();  // one copy per batch of wake-up bytes, however many askers wrote
}

void MetricsPublisher::OnClose(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::CloseReason /*reason*/,
                               int /*err*/) {
  wake_conn_ = {};
}

void MetricsPublisher::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  timer_ = {};
  Publish();
  timer_ = loop_.AddTimer(interval_, this);
}

void MetricsPublisher::Publish() {
  ConnectorMetrics m;
  m.stats = connector_.stats();
  m.relays = connector_.relay_count();
  m.relays_up = connector_.relays_up();
  const runtime::LoopStats& ls = loop_.stats();
  m.loop_connects = ls.connects;
  m.loop_recv_bytes = ls.recv_bytes;
  m.loop_send_bytes = ls.send_bytes;
  m.loop_send_queue_full = ls.send_queue_full;
  m.loop_recv_starved = ls.recv_enobufs;
  m.link_stalls = ls.stalls;
  if (const DirectListener* d = connector_.direct()) m.direct = d->stats();
  m.init_replay = connector_.init_replay().stats();
  m.init_replay_entries = connector_.init_replay().size();
  m.policy_set_over_bound = connector_.policies().over_bound();
  if (const TunnelPort* t = connector_.tunnel_port()) {
    m.tunnel_up = true;
    m.tunnel = t->stats();
    m.tunnel_filter = t->filter_stats();
  }
  if (const AddressPool* pool = connector_.tunnel_pool()) m.tunnel_pool_free = pool->free();
  m.publishes = ++publishes_;
  {
    std::lock_guard lock(mu_);
    latest_ = m;
  }
  published_.notify_all();
}

}  // namespace strait::connector
