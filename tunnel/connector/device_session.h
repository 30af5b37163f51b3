// DeviceSession: the connector's end of one end-to-end session (one device, one (link, channel)). It drives a
// tunnel::Session (connector role) with the frames of its channel, and for each stream OPEN runs (the policy and
// address decisions are open_plan.h's, without I/O)
//
//   policy.Decide ─▶ denied: RESET refused_by_policy
//     │ address literal: policy.CheckResolved ─▶ dial
//     │ name: Resolver ─▶ (result posted back) ─▶ no address: RESET dns_failed; every address CheckResolved;
//     │                                           first allowed address ─▶ dial; none allowed: refused_by_policy
//   dial: StreamPump::Connect ─▶ connected: mux Accept (OPEN_OK), pump attached  ·  failed: RESET connect_failed
//   open_timeout from OPEN to connected: RESET timeout
//
// then moves bytes with a link::StreamPump per stream. Output (sealed frames) goes to the link with
// TlsLink::SendEncoded, never more than the link's pending bound: when the link is backed up, output waits in
// the mux (whose writers then stop, so TCP reads pause) until the connector calls Flush on OnSendQueueLow.
//
// Lifetime: owned by the Connector. When the session closes or its link goes down, its pumps are aborted; the
// object stays until every pump has reported PumpDone (dead() is then true) and the connector reaps it.
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "logging/event.h"
#include "runtime/event_loop.h"
#include "tunnel/connector/address_pool.h"
#include "tunnel/connector/connector_stats.h"
#include "tunnel/connector/device_denials.h"
#include "tunnel/connector/tunnel_port.h"
#include "tunnel/connector/policy.h"
#include "tunnel/connector/policy_set.h"
#include "tunnel/connector/resolver.h"
#include "tunnel/link/refusal_log.h"
#include "tunnel/link/stream_pump.h"
#include "tunnel/link/tls_link.h"
#include "tunnel/session.h"

namespace strait::connector {

class DeviceSession;

// What every session of one connector shares. Owned by the Connector; outlives its sessions.
struct SessionContext {
  runtime::EventLoop* loop = nullptr;
  // Which policy each device faces (policy_set.h); a session caches its pointer with the set's epoch.
  const PolicySet* policies = nullptr;
  // Devices the control plane revoked or locked: their SESSION_INIT is refused with SESSION_CLOSE revoked.
  const DeviceDenials* denials = nullptr;
  // The tenant is suspended (tenant.suspended): every SESSION_INIT is refused with SESSION_CLOSE unauthorized.
  bool tenant_suspended = false;
  AddressPool* tunnel_pool = nullptr;  // nullptr: no IP tunnel served here
  std::uint16_t tunnel_mtu = 0;
  TunnelPort* tunnel_port = nullptr;   // the TUN; nullptr: addresses are handed out but packets are dropped
  Resolver* resolver = nullptr;
  ConnectorStats* stats = nullptr;
  tunnel::SessionConfig session;  // template: role, credential, static key, root key, tenant, mux
  std::chrono::milliseconds open_timeout{10000};
  link::StreamPumpOptions pump;
  std::size_t link_max_pending = link::LinkOptions{}.max_pending_bytes;  // the links' LinkOptions bound
  // Resolution tokens: token -> (session, stream). A session forgets its tokens when it closes.
  std::unordered_map<std::uint64_t, std::pair<DeviceSession*, tunnel::StreamId>> tokens;
  std::uint64_t next_token = 1;
  // Scratch (one at a time: a session never nests OnFrame or Flush into another session's).
  std::vector<std::uint8_t> in;   // a frame's payload, decrypted in place
  std::vector<std::uint8_t> out;  // kSessionOutSize
  std::vector<std::uint8_t> datagram_out;  // kMaxLinkFrameSize: one SEALED_DATAGRAM (SendPacket)
  // Called when a session may have become dead(), so the connector reaps it (outside the callback).
  std::function<void()> reap_soon;
  logging::Sink log;
  // Sessions refused during set-up (a replayed or stale SESSION_INIT, a bad credential): one line each, at most 10
  // a second, the rest summed up (issue 7: every refusal is visible).
  link::RefusalLog refusal_log;
  // Whether this refusal gets its line (refusal_log's rate); first logs how many went unlogged before it.
  bool AdmitRefusalLine();
};

class DeviceSession final : public tunnel::SessionVisitor,
                            public link::StreamPumpHost,
                            private runtime::TimerHandler {
 public:
  // The link must stay valid until OnLinkGone(). Create the tunnel::Session with Init().
  DeviceSession(SessionContext& ctx, link::TlsLink* link, std::uint32_t channel, bool direct);
  ~DeviceSession() override;
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  // False (and nothing sent) when the session could not be created (own credential unusable).
  bool Init();
  // One frame of this session's channel.
  void OnFrame(const link::Frame& frame);
  // The link is gone (no frame may be sent): the session ends, its pumps abort.
  void OnLinkGone();
  // Ends the session from this side (SESSION_CLOSE code) if it is up; pumps abort.
  void Close(tunnel::ErrorCode code, std::string_view reason);
  // Sends what the session has queued, as far as the link's bound allows, at most `max_frames` sealed frames.
  // Returns the number sent.
  std::size_t Flush(std::size_t max_frames = SIZE_MAX);
  // A resolution finished (routed by token).
  void OnResolved(tunnel::StreamId id, const ResolveResult& result);
  // One IPv4 packet to the device as a SEALED_DATAGRAM. False (dropped, counted) when the session is not up or its
  // link is above its pending bound: datagrams never wait (protocol.md §9).
  // The frames go out when the link is flushed: the caller calls FlushLink once after a batch of packets.
  bool SendPacket(std::span<const std::uint8_t> packet);
  // The same for a packet already at frame[kSealedPlaintextOffset, +packet_size), sealed there (no copy).
  bool SendFrame(std::span<std::uint8_t> frame, std::size_t packet_size);
  void FlushLink() {
    if (link_ != nullptr) link_->Flush();
  }

  bool closed() const { return closed_; }
  bool dead() const { return closed_ && streams_.empty(); }
  link::TlsLink* link() const { return link_; }
  std::uint32_t channel() const { return channel_; }
  std::size_t stream_count() const { return streams_.size(); }
  const tunnel::Session* session() const { return session_.get(); }
  // The device's subject id once its SESSION_INIT verified, else empty.
  std::string_view device() const;

  // ---- tunnel::SessionVisitor ----
  void OnStreamOpen(tunnel::StreamId id, const tunnel::OpenTarget& target) override;
  void OnStreamAccepted(tunnel::StreamId id) override;
  void OnStreamData(tunnel::StreamId id, std::span<const std::uint8_t> data) override;
  void OnStreamFin(tunnel::StreamId id) override;
  void OnStreamReset(tunnel::StreamId id, tunnel::ErrorCode code) override;
  void OnStreamWritable(tunnel::StreamId id) override;
  void OnDatagram(std::span<std::uint8_t> packet) override;
  bool OnTunnelRequest(const tunnel::TunnelRequest& request) override;

  // ---- link::StreamPumpHost ----
  tunnel::StreamMux* PumpMux(link::StreamPump& pump) override;
  void PumpOutput(link::StreamPump& pump) override;
  void PumpConnected(link::StreamPump& pump) override;
  void PumpDone(link::StreamPump& pump, bool connected, runtime::CloseReason reason, int err) override;

 private:
  enum class StreamPhase : std::uint8_t { kResolving, kConnecting, kOpen };
  struct Slot {
    StreamPhase phase = StreamPhase::kResolving;
    std::unique_ptr<link::StreamPump> pump;
    runtime::TimerId timer;
    bool timer_armed = false;
    std::uint64_t token = 0;
    Verdict verdict;
    PolicyPtr policy;  // the policy the OPEN was decided by: the resolved addresses face the same one
    std::uint16_t port = 0;
    bool timed_out = false;
    std::vector<IpAddress> next;  // further allowed addresses of the name, tried in order if a connect fails
  };

  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;
  void Refuse(tunnel::StreamId id, RefuseReason why);
  void Dial(tunnel::StreamId id, Slot& slot, const IpAddress& address);
  void DisarmTimer(Slot& slot);
  // After the session closed (either side) or its link went: abort pumps, forget tokens. `reason` for the log
  // line; empty: the session's close code.
  void EndSession(std::string_view reason = {});
  void SendFrames(std::span<const std::uint8_t> bytes);
  // A session refused during set-up: one rate-limited line with the reason (ctx_.refusal_log).
  void LogRefused();
  tunnel::StreamMux* Mux();
  // The policy this session's device faces now: the cached pointer while the PolicySet's epoch is unchanged (one
  // integer compare), else looked up again.
  const PolicyPtr& CurrentPolicy();
  // Right after SESSION_INIT verified: false when the device is denied or the tenant suspended (then the session
  // was closed with SESSION_CLOSE revoked / unauthorized instead of answered, and counted).
  bool AdmitDevice();
  // The IP tunnel's lease of this session, if it took one (released when the session ends).
  std::optional<AddressPool::Key> lease_;
  std::uint32_t lease_address_ = 0;  // its address (0: none)

  // Immutable after construction.
  SessionContext& ctx_;
  const std::uint32_t channel_;
  const bool direct_;

  // Loop thread only.
  link::TlsLink* link_;
  std::unique_ptr<tunnel::Session> session_;
  std::unordered_map<tunnel::StreamId, Slot> streams_;
  PolicyPtr policy_;                 // CurrentPolicy()'s cache
  std::uint64_t policy_epoch_ = 0;   // the PolicySet epoch policy_ was taken at (0: never)
  bool closed_ = false;
  bool counted_up_ = false;
  int in_frame_ = 0;     // inside Session::OnFrame: output is flushed when it returns
  bool flushing_ = false;
  bool flush_again_ = false;
};

}  // namespace strait::connector
