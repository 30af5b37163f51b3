#include "relay/metrics.h"

#include "metrics/prometheus_text.h"

namespace strait::relay {

using metrics::MetricType;

void MetricsSnapshot::Add(const MetricsSnapshot& o) {
  device_links += o.device_links;
  connector_links += o.connector_links;
  handshakes_in_flight += o.handshakes_in_flight;
  sessions += o.sessions;
  cross_queue_bytes += o.cross_queue_bytes;
  paused_links += o.paused_links;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  frames_forwarded += o.frames_forwarded;
  frames_cross_shard += o.frames_cross_shard;
  sessions_opened += o.sessions_opened;
  sessions_closed += o.sessions_closed;
  goaway_sent += o.goaway_sent;
  link_stalls += o.link_stalls;
  recv_starved += o.recv_starved;
  socket_bytes_in += o.socket_bytes_in;
  socket_bytes_out += o.socket_bytes_out;
  pings_unanswered += o.pings_unanswered;
  links_expired += o.links_expired;
  links_replaced += o.links_replaced;
  offers_refused += o.offers_refused;
  credit_frames += o.credit_frames;
  links_revoked += o.links_revoked;
  for (std::size_t i = 0; i < logins_refused.size(); ++i) logins_refused[i] += o.logins_refused[i];
  held_bytes += o.held_bytes;
  link_send_backlog_bytes += o.link_send_backlog_bytes;
  for (std::size_t i = 0; i < handshakes.size(); ++i) handshakes[i] += o.handshakes[i];
  for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += o.drops[i];
}

std::string RenderPrometheus(const MetricsSnapshot& s) {
  metrics::PrometheusText out;
  out.Family("strait_relay_links", MetricType::kGauge, "Logged-in links by role.");
  out.Sample("strait_relay_links", {"role", "device"}, s.device_links);
  out.Sample("strait_relay_links", {"role", "connector"}, s.connector_links);
  out.Gauge("strait_relay_handshakes_in_flight", "Logins in progress.", s.handshakes_in_flight);
  out.Family("strait_relay_handshakes_total", MetricType::kCounter, "Finished logins by result.");
  for (std::size_t i = 0; i < kHandshakeResultCount; ++i) {
    out.Sample("strait_relay_handshakes_total", {"result", kHandshakeResultNames[i]}, s.handshakes[i]);
  }
  out.Gauge("strait_relay_sessions", "Live sessions.", s.sessions);
  out.Counter("strait_relay_sessions_opened_total", "Sessions offered to devices.", s.sessions_opened);
  out.Counter("strait_relay_sessions_closed_total", "Sessions ended (either side, or a link gone).",
              s.sessions_closed);
  out.Counter("strait_relay_bytes_in_total", "Frame bytes received for forwarding.", s.bytes_in);
  out.Counter("strait_relay_bytes_out_total", "Frame bytes written to links.", s.bytes_out);
  out.Counter("strait_relay_frames_forwarded_total", "Frames handed to the peer link.", s.frames_forwarded);
  out.Counter("strait_relay_frames_cross_shard_total", "Forwarded frames that crossed shards.",
              s.frames_cross_shard);
  out.Counter("strait_relay_goaway_total", "GOAWAY frames sent.", s.goaway_sent);
  out.Family("strait_relay_drops_total", MetricType::kCounter, "Dropped frames and connections by reason.");
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    out.Sample("strait_relay_drops_total", {"reason", kDropReasonNames[i]}, s.drops[i]);
  }
  out.Gauge("strait_relay_cross_queue_bytes", "Bytes waiting in cross-shard queues.", s.cross_queue_bytes);
  out.Gauge("strait_relay_paused_links", "Links whose reads are paused by backpressure.", s.paused_links);
  out.Counter("strait_relay_link_stalls_total",
              "Forward-progress watchdog: links that had bytes to move and moved none for a second, one per link per "
              "second.",
              s.link_stalls);
  out.Counter("strait_relay_recv_starved_total",
              "Receives that found the shard's receive ring empty (ENOBUFS); the socket waits for buffers.",
              s.recv_starved);
  out.Counter("strait_relay_socket_bytes_received_total",
              "Bytes read from link sockets, all of them (TLS, logins, PINGs), not only frames for forwarding.",
              s.socket_bytes_in);
  out.Counter("strait_relay_socket_bytes_sent_total", "Bytes written to link sockets, all of them.",
              s.socket_bytes_out);
  out.Counter("strait_relay_pings_unanswered_total",
              "PINGs not answered: over the PONG rate, or no room under the link's send bound.", s.pings_unanswered);
  out.Counter("strait_relay_links_expired_total",
              "Links closed because their credential expired while they were up (ERROR bad_credential).",
              s.links_expired);
  out.Counter("strait_relay_links_replaced_total",
              "Links closed because a newer login of the same credential subject took it over "
              "max_links_per_credential (ERROR unauthorized).",
              s.links_replaced);
  out.Counter("strait_relay_offers_refused_total",
              "Connectors a device refused when offered (SESSION_CLOSE bad_credential); not offered to it again.",
              s.offers_refused);
  out.Counter("strait_relay_credit_frames_total",
              "SESSION_CREDIT frames sent: relay credit returned to a session's sender as the other link took its "
              "frames.",
              s.credit_frames);
  out.Family("strait_relay_logins_refused_total", MetricType::kCounter,
             "Logins whose credential verified, refused by the control plane's denial list (ERROR revoked).");
  for (std::size_t i = 0; i < kLoginDenialCount; ++i) {
    out.Sample("strait_relay_logins_refused_total", {"reason", kLoginDenialNames[i]}, s.logins_refused[i]);
  }
  out.Counter("strait_relay_links_revoked_total",
              "Live links closed because the control plane denied their subject or suspended their tenant "
              "(ERROR revoked).",
              s.links_revoked);
  out.Gauge("strait_relay_denials", "Subjects (devices, connectors) the denial list refuses.", s.denials);
  out.Gauge("strait_relay_suspended_tenants", "Tenants the denial list refuses.", s.suspended_tenants);
  out.Counter("strait_relay_denials_evicted_total",
              "Denials pushed out by max_denials (the one ending soonest); should stay 0.", s.denials_evicted);
  out.Counter("strait_relay_suspensions_dropped_total",
              "Tenant suspensions dropped by max_suspended_tenants; should stay 0.", s.suspensions_dropped);
  out.Gauge("strait_relay_held_bytes",
            "Frames held for links whose send side is full (bounded per session by its relay credit).",
            s.held_bytes);
  out.Gauge("strait_relay_link_send_backlog_bytes",
            "Bytes waiting to go out to links (socket queues, sealed, pending and held frames).",
            s.link_send_backlog_bytes);
  out.Counter("strait_relay_log_dropped_total",
              "Log lines dropped because the log queue was full (the writer fell behind; docs/logging.md).",
              s.log_dropped);
  return out.Take();
}

runtime::SetupResult<std::unique_ptr<MetricsServer>> MetricsServer::Start(const runtime::SocketAddress& address,
                                                                          std::function<MetricsSnapshot()> source) {
  auto endpoint = metrics::HttpEndpoint::Start(
      address, [source = std::move(source)] { return RenderPrometheus(source()); });
  if (!endpoint.ok()) return endpoint.error();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(endpoint).value()));
}

}  // namespace strait::relay
