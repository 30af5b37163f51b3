#include "tunnel/connector/device_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <ctime>
#include <string>
#include <utility>

#include "tunnel/connector/open_plan.h"
#include "tunnel/frame_reader.h"

namespace strait::connector {

using tunnel::ErrorCode;
using tunnel::StreamId;

std::string_view RefuseReasonName(RefuseReason r) {
  switch (r) {
    case RefuseReason::kPolicy: return "refused_by_policy";
    case RefuseReason::kDnsFailed: return "dns_failed";
    case RefuseReason::kConnectFailed: return "connect_failed";
    case RefuseReason::kTimeout: return "timeout";
    case RefuseReason::kOverloaded: return "overloaded";
  }
  return "unknown";
}

namespace {

ErrorCode CodeFor(RefuseReason r) {
  switch (r) {
    case RefuseReason::kPolicy: return ErrorCode::kRefusedByPolicy;
    case RefuseReason::kDnsFailed: return ErrorCode::kDnsFailed;
    case RefuseReason::kConnectFailed: return ErrorCode::kConnectFailed;
    case RefuseReason::kTimeout: return ErrorCode::kTimeout;
    case RefuseReason::kOverloaded: return ErrorCode::kOverloaded;
  }
  return ErrorCode::kInternal;
}

std::uint64_t NowUnix() { return static_cast<std::uint64_t>(std::time(nullptr)); }
// The tunnel leases' clock (AddressPool): monotonic seconds.
std::uint64_t NowSeconds() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

DeviceSession::DeviceSession(SessionContext& ctx, link::TlsLink* link, std::uint32_t channel, bool direct)
    : ctx_(ctx), channel_(channel), direct_(direct), link_(link) {}

DeviceSession::~DeviceSession() {
  for (auto& [id, slot] : streams_) {
    DisarmTimer(slot);
    if (slot.token != 0) ctx_.tokens.erase(slot.token);
  }
  if (counted_up_ && ctx_.stats->sessions_active > 0) --ctx_.stats->sessions_active;
}

bool DeviceSession::Init() {
  tunnel::SessionConfig config = ctx_.session;
  config.relay_credit = !direct_;  // through a relay, its credit bounds what we send (protocol.md §8)
  auto s = tunnel::Session::Create(std::move(config), this);
  if (!s) return false;
  session_ = std::move(*s);
  return true;
}

tunnel::StreamMux* DeviceSession::Mux() {
  return (session_ && !closed_ && session_->established()) ? session_->mux() : nullptr;
}

void DeviceSession::OnFrame(const link::Frame& frame) {
  if (closed_ || !session_) return;
  ctx_.in.assign(frame.payload.begin(), frame.payload.end());
  ++in_frame_;
  const bool was_established = session_->established();
  tunnel::SessionResult r = session_->OnFrame(frame.header, std::span(ctx_.in), NowUnix(), std::span(ctx_.out));
  --in_frame_;
  if (!was_established && session_->established() && !AdmitDevice()) return;  // SESSION_ACCEPT never sent
  switch (r.action) {
    case tunnel::SessionAction::kSend:
      SendFrames(std::span(ctx_.out).first(r.size));
      break;
    case tunnel::SessionAction::kClose:
      SendFrames(std::span(ctx_.out).first(r.size));
      if (!was_established) {
        ++ctx_.stats->sessions_refused;
        LogRefused();
      }
      EndSession();
      break;
    case tunnel::SessionAction::kDrop:
    case tunnel::SessionAction::kNone:
      break;
  }
  if (!closed_ && !was_established && session_->established()) {
    counted_up_ = true;
    ++ctx_.stats->sessions_up;
    ++ctx_.stats->sessions_active;
    if (ctx_.log) {
      const auto* peer = session_->peer();
      ctx_.log(logging::Event(logging::Level::kInfo, "session_up")
                   .With("device", peer ? peer->subject_id : std::string("?"))
                   .With("channel", channel_)
                   .With("via", direct_ ? "direct" : "relay"));
    }
  }
  Flush();
}

std::string_view DeviceSession::device() const {
  const auto* peer = session_ ? session_->peer() : nullptr;
  return peer ? std::string_view(peer->subject_id) : std::string_view();
}

bool DeviceSession::AdmitDevice() {
  ErrorCode code = ErrorCode::kRevoked;
  std::string_view why;
  if (ctx_.tenant_suspended) {
    code = ErrorCode::kUnauthorized;
    why = "tenant suspended";
    ++ctx_.stats->sessions_refused_suspended;
  } else if (ctx_.denials != nullptr && ctx_.denials->IsDenied(device(), NowUnix())) {
    why = "device revoked";
    ++ctx_.stats->sessions_refused_revoked;
  } else {
    return true;
  }
  ++ctx_.stats->sessions_refused;
  // The SESSION_ACCEPT that OnFrame wrote is dropped; the device gets SESSION_CLOSE instead (it takes one in any
  // state, protocol.md §5).
  Close(code, why);
  LogRefused();
  return false;
}

const PolicyPtr& DeviceSession::CurrentPolicy() {
  if (ctx_.policies == nullptr) return PolicySet::DenyAll();
  if (policy_epoch_ != ctx_.policies->epoch()) {
    policy_ = ctx_.policies->For(device());
    policy_epoch_ = ctx_.policies->epoch();
  }
  return policy_;
}

bool SessionContext::AdmitRefusalLine() {
  if (!log) return false;
  const link::RefusalLog::Verdict v = refusal_log.Admit(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  if (v.not_logged > 0) {
    log(logging::Event(logging::Level::kWarn, "session_refusals_not_logged")
            .With("count", v.not_logged)
            .With("max_per_second", refusal_log.per_second()));
  }
  return v.log;
}

void DeviceSession::LogRefused() {
  if (session_->closed_by_peer() || !ctx_.AdmitRefusalLine()) return;
  const auto* peer = session_->peer();
  ctx_.log(logging::Event(logging::Level::kWarn, "session_refused")
               .With("device", peer ? peer->subject_id : std::string("?"))
               .With("channel", channel_)
               .With("via", direct_ ? "direct" : "relay")
               .With("reason", tunnel::ErrorCodeName(session_->close_code()))
               .With("detail", session_->close_reason()));
}

void DeviceSession::SendFrames(std::span<const std::uint8_t> bytes) {
  if (link_ == nullptr) return;
  while (bytes.size() >= tunnel::kHeaderSize) {
    tunnel::FrameHeader h;
    if (!tunnel::ParseFrameHeader(bytes, &h)) break;
    const std::size_t n = tunnel::kHeaderSize + h.length;
    if (n > bytes.size()) break;
    // The pending bound was checked before this output was made (Flush), so this is not refused for room.
    (void)link_->SendEncoded(bytes.first(n));
    bytes = bytes.subspan(n);
  }
}

std::size_t DeviceSession::Flush(std::size_t max_frames) {
  if (in_frame_ > 0 || link_ == nullptr || !session_) return 0;
  if (flushing_) {
    flush_again_ = true;
    return 0;
  }
  flushing_ = true;
  std::size_t sent = 0;
  do {
    flush_again_ = false;
    while (!closed_ && sent < max_frames && session_->HasOutgoing()) {
      // Keep within the link's pending bound so SendEncoded never refuses sealed output (it cannot be resent).
      if (link_->backlog_bytes() + tunnel::kSessionOutSize > ctx_.link_max_pending) break;
      tunnel::SessionResult r = session_->PollOutgoing(std::span(ctx_.out));
      if (r.action == tunnel::SessionAction::kSend) {
        SendFrames(std::span(ctx_.out).first(r.size));
        ++sent;
      } else if (r.action == tunnel::SessionAction::kClose) {
        SendFrames(std::span(ctx_.out).first(r.size));
        ++sent;
        EndSession();
      } else {
        break;
      }
    }
  } while (flush_again_ && !closed_ && sent < max_frames);
  flushing_ = false;
  if (link_ != nullptr) link_->Flush();
  return sent;
}

void DeviceSession::Close(ErrorCode code, std::string_view reason) {
  if (closed_ || !session_) return;
  tunnel::SessionResult r = session_->Close(code, reason, std::span(ctx_.out));
  if (r.action == tunnel::SessionAction::kClose) SendFrames(std::span(ctx_.out).first(r.size));
  EndSession();
  if (link_ != nullptr) link_->Flush();
}

void DeviceSession::OnLinkGone() {
  link_ = nullptr;
  // No SESSION_CLOSE came: the session's close code is only its default. Say what happened.
  EndSession("link_lost");
}

void DeviceSession::EndSession(std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  if (counted_up_ && ctx_.log) {
    if (reason.empty()) reason = tunnel::ErrorCodeName(session_ ? session_->close_code() : ErrorCode::kInternal);
    ctx_.log(logging::Event(logging::Level::kInfo, "session_down").With("channel", channel_).With("reason", reason));
  }
  // Copy the ids first: aborting a pump never erases synchronously (PumpDone comes from OnClose), but resolving
  // slots are erased here.
  std::vector<StreamId> resolving;
  for (auto& [id, slot] : streams_) {
    DisarmTimer(slot);
    if (slot.token != 0) {
      ctx_.tokens.erase(slot.token);
      slot.token = 0;
    }
    if (slot.pump) {
      slot.pump->OnSessionGone();
    } else {
      resolving.push_back(id);
    }
  }
  for (StreamId id : resolving) streams_.erase(id);
  if (lease_ && ctx_.tunnel_pool != nullptr) {
    ctx_.tunnel_pool->Release(*lease_, NowSeconds());
    ctx_.stats->tunnel_leases = ctx_.tunnel_pool->leases();
  }
  if (lease_address_ != 0 && ctx_.tunnel_port != nullptr) ctx_.tunnel_port->Unbind(lease_address_, this);
  lease_.reset();
  lease_address_ = 0;
  if (ctx_.reap_soon) ctx_.reap_soon();
}

// ---- the IP tunnel's set-up (docs/ip-tunnel.md §1-§3) ----

bool DeviceSession::OnTunnelRequest(const tunnel::TunnelRequest& request) {
  ++ctx_.stats->tunnel_requests;
  tunnel::StreamMux* mux = Mux();
  if (ctx_.tunnel_pool == nullptr || mux == nullptr || session_->peer() == nullptr) {
    ++ctx_.stats->tunnel_refused_off;
    return false;  // the mux refuses: no tunnel served here
  }
  AddressPool& pool = *ctx_.tunnel_pool;
  AddressPool::Key key;
  std::ranges::copy(session_->peer()->noise_key.bytes(), key.begin());
  const std::optional<uint32_t> address = pool.Acquire(key, NowSeconds());
  if (!address) {
    ++ctx_.stats->tunnel_refused_full;
    (void)mux->RefuseTunnel(ErrorCode::kOverloaded, "tunnel address pool exhausted");
    return true;
  }
  lease_ = key;
  lease_address_ = *address;
  if (ctx_.tunnel_port != nullptr) ctx_.tunnel_port->Bind(*address, this);
  ctx_.stats->tunnel_leases = pool.leases();
  const TunnelPolicy& tp = CurrentPolicy()->tunnel();  // routes and DNS: fixed for the session (docs/ip-tunnel.md)
  tunnel::TunnelConfig config;
  config.address = *address;
  config.gateway = pool.gateway();
  config.mtu = std::min<uint16_t>(ctx_.tunnel_mtu, request.mtu_max);
  config.lease_s = static_cast<uint32_t>(pool.grace_s());
  config.routes = tp.routes;
  config.dns_servers = tp.dns_servers;
  config.dns_domains = tp.dns_domains;
  if (mux->AnswerTunnel(config) != tunnel::CallStatus::kOk) {
    // The outbox is full at set-up (not expected: nothing else is queued yet) or the policy's lists failed the
    // codec's bounds (the loader already keeps them within): refuse rather than leave the device waiting.
    ++ctx_.stats->tunnel_refused_full;
    (void)mux->RefuseTunnel(ErrorCode::kInternal, "tunnel configuration could not be sent");
    return true;
  }
  ++ctx_.stats->tunnel_answered;
  if (ctx_.log) {
    ctx_.log(logging::Event(logging::Level::kInfo, "tunnel_up")
                 .With("channel", channel_)
                 .With("address", tunnel::Ipv4Text(*address))
                 .With("mtu", config.mtu));
  }
  return true;
}

// ---- streams: open ----

void DeviceSession::Refuse(StreamId id, RefuseReason why) {
  ++ctx_.stats->streams_refused[static_cast<std::size_t>(why)];
  if (tunnel::StreamMux* mux = Mux()) (void)mux->Reject(id, CodeFor(why));
  if (auto it = streams_.find(id); it != streams_.end()) {
    DisarmTimer(it->second);
    if (it->second.token != 0) ctx_.tokens.erase(it->second.token);
    if (it->second.pump) {
      it->second.pump->OnSessionGone();  // the stream is answered; the socket just goes (PumpDone erases)
      it->second.phase = StreamPhase::kResolving;  // marks "answered": PumpDone refuses nothing more
      it->second.timed_out = true;
      return;
    }
    streams_.erase(it);
  }
  Flush();
}

void DeviceSession::OnStreamOpen(StreamId id, const tunnel::OpenTarget& target) {
  // The device's policy as of now (a changed policy applies to the next OPEN; open streams stay, docs/policy.md).
  const PolicyPtr& policy = CurrentPolicy();
  OpenPlan plan = PlanOpen(*policy, target);  // policy and target: open_plan.h
  if (plan.kind == OpenPlan::Kind::kRefuse) {
    Refuse(id, plan.refuse);
    return;
  }
  Slot slot;
  slot.port = plan.port;
  slot.verdict = plan.verdict;
  if (plan.kind != OpenPlan::Kind::kDial) slot.policy = policy;  // a name: its addresses face this policy too
  auto [it, inserted] = streams_.emplace(id, std::move(slot));
  if (!inserted) return;  // the mux never repeats an id
  Slot& s = it->second;
  s.timer = ctx_.loop->AddTimer(ctx_.open_timeout, this, id);
  s.timer_armed = s.timer.valid();
  if (plan.kind == OpenPlan::Kind::kDial) {
    Dial(id, s, plan.address);
    return;
  }
  const std::uint64_t token = ctx_.next_token++;
  if (!ctx_.resolver->Submit(token, plan.name)) {
    Refuse(id, RefuseReason::kOverloaded);
    return;
  }
  s.token = token;
  s.phase = StreamPhase::kResolving;
  ctx_.tokens.emplace(token, std::make_pair(this, id));
}

void DeviceSession::OnResolved(StreamId id, const ResolveResult& result) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Slot& s = it->second;
  s.token = 0;
  ResolvedPlan plan = PlanResolved(s.policy ? *s.policy : *PolicySet::DenyAll(), s.verdict, s.port, result);
  s.policy.reset();
  if (plan.refuse) {
    Refuse(id, *plan.refuse);
    return;
  }
  s.next = std::move(plan.dial);
  const IpAddress first = s.next.front();
  s.next.erase(s.next.begin());
  Dial(id, s, first);
}

void DeviceSession::Dial(StreamId id, Slot& slot, const IpAddress& address) {
  slot.phase = StreamPhase::kConnecting;
  slot.pump = std::make_unique<link::StreamPump>(*ctx_.loop, *this, id, ctx_.pump);
  if (!slot.pump->Connect(ToSocketAddress(address, slot.port))) {
    slot.pump.reset();
    Refuse(id, RefuseReason::kConnectFailed);
  }
}

void DeviceSession::DisarmTimer(Slot& slot) {
  if (slot.timer_armed) {
    ctx_.loop->CancelTimer(slot.timer);
    slot.timer_armed = false;
  }
}

void DeviceSession::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t arg) {
  const auto id = static_cast<StreamId>(arg);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.timer_armed = false;
  if (it->second.phase == StreamPhase::kOpen) return;
  Refuse(id, RefuseReason::kTimeout);
}

void DeviceSession::PumpConnected(link::StreamPump& pump) {
  auto it = streams_.find(pump.stream_id());
  tunnel::StreamMux* mux = Mux();
  if (it == streams_.end() || mux == nullptr || it->second.timed_out) {
    pump.OnSessionGone();
    return;
  }
  DisarmTimer(it->second);
  if (mux->Accept(pump.stream_id()) != tunnel::CallStatus::kOk) {
    pump.OnSessionGone();
    return;
  }
  it->second.phase = StreamPhase::kOpen;
  ++ctx_.stats->streams_opened;
  ++ctx_.stats->streams_open;
  pump.Attach(pump.conn());
  Flush();
}

void DeviceSession::PumpDone(link::StreamPump& pump, bool connected, runtime::CloseReason /*reason*/,
                             int /*err*/) {
  const StreamId id = pump.stream_id();
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Slot& s = it->second;
  ctx_.stats->bytes_to_targets += pump.stats().bytes_to_socket;
  ctx_.stats->bytes_from_targets += pump.stats().bytes_to_stream;
  if (s.phase == StreamPhase::kOpen && ctx_.stats->streams_open > 0) --ctx_.stats->streams_open;
  const bool answer = !connected && s.phase == StreamPhase::kConnecting && !s.timed_out && !closed_;
  if (answer && !s.next.empty()) {
    // Another address of the name: dial it (the pump that failed is replaced; the open timer keeps running).
    const IpAddress a = s.next.front();
    s.next.erase(s.next.begin());
    std::unique_ptr<link::StreamPump> done = std::move(s.pump);  // destroyed on return: PumpDone is its last call
    Dial(id, s, a);
    return;
  }
  DisarmTimer(s);
  streams_.erase(it);  // destroys the pump: allowed, PumpDone is its last call
  if (answer) {
    ++ctx_.stats->streams_refused[static_cast<std::size_t>(RefuseReason::kConnectFailed)];
    if (tunnel::StreamMux* mux = Mux()) (void)mux->Reject(id, ErrorCode::kConnectFailed);
  }
  Flush();
  if (closed_ && streams_.empty() && ctx_.reap_soon) ctx_.reap_soon();
}

// ---- streams: data (routed to the pump) ----

void DeviceSession::OnStreamAccepted(StreamId /*id*/) {}  // connector role: never called

void DeviceSession::OnStreamData(StreamId id, std::span<const std::uint8_t> data) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.pump) {
    it->second.pump->OnStreamData(data);
  } else if (tunnel::StreamMux* mux = Mux()) {
    (void)mux->Consume(id, data.size());
  }
}

void DeviceSession::OnStreamFin(StreamId id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.pump) it->second.pump->OnStreamFin();
}

void DeviceSession::OnStreamReset(StreamId id, ErrorCode code) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second.pump) {
    it->second.timed_out = true;  // answered: nothing more to send on this stream
    it->second.pump->OnStreamReset(code);
    return;
  }
  DisarmTimer(it->second);
  if (it->second.token != 0) ctx_.tokens.erase(it->second.token);
  streams_.erase(it);
}

void DeviceSession::OnStreamWritable(StreamId id) {
  auto it = streams_.find(id);
  if (it != streams_.end() && it->second.pump) it->second.pump->OnStreamWritable();
}

void DeviceSession::OnDatagram(std::span<std::uint8_t> packet) {  // edited in place: no copy per packet
  if (lease_address_ == 0 || ctx_.tunnel_port == nullptr) {
    ++ctx_.stats->datagrams_dropped;  // no tunnel asked for, or none served here
    return;
  }
  // The packet rules of the device's policy as of now: a changed policy applies to the next packet.
  const std::span<const std::uint8_t> answer =
      ctx_.tunnel_port->FromDevice(packet, lease_address_, &CurrentPolicy()->tunnel());
  if (!answer.empty()) (void)SendPacket(answer);
}

bool DeviceSession::SendPacket(std::span<const std::uint8_t> packet) {
  if (packet.empty() || packet.size() > tunnel::kMaxDatagramSize) return false;
  std::memcpy(ctx_.datagram_out.data() + tunnel::kSealedPlaintextOffset, packet.data(), packet.size());
  return SendFrame(std::span(ctx_.datagram_out), packet.size());
}

bool DeviceSession::SendFrame(std::span<std::uint8_t> frame, std::size_t packet_size) {
  if (closed_ || link_ == nullptr || !session_ || !session_->established()) return false;
  if (link_->backlog_bytes() + tunnel::kMaxLinkFrameSize > ctx_.link_max_pending) {
    ++ctx_.stats->tunnel_link_full;
    return false;
  }
  const tunnel::SessionResult r = session_->SealDatagram(frame, packet_size);
  if (r.action == tunnel::SessionAction::kSend) {
    (void)link_->SendEncoded(frame.first(r.size));
    return true;
  }
  if (r.action == tunnel::SessionAction::kClose) {
    SendFrames(frame.first(r.size));
    EndSession();
  }
  return false;
}

tunnel::StreamMux* DeviceSession::PumpMux(link::StreamPump& /*pump*/) { return Mux(); }

void DeviceSession::PumpOutput(link::StreamPump& /*pump*/) { Flush(); }

}  // namespace strait::connector
