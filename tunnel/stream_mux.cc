#include "tunnel/stream_mux.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "crypto/byte_reader.h"

namespace strait::tunnel {

std::string_view MuxReasonName(MuxReason r) {
  switch (r) {
    case MuxReason::kOk: return "ok";
    case MuxReason::kLateFrame: return "late_frame";
    case MuxReason::kUnknownType: return "unknown_type";
    case MuxReason::kStreamFlowControl: return "stream_flow_control";
    case MuxReason::kStreamWindowOverflow: return "stream_window_overflow";
    case MuxReason::kDataBeforeOpenOk: return "data_before_open_ok";
    case MuxReason::kDataAfterFin: return "data_after_fin";
    case MuxReason::kTooManyStreams: return "too_many_streams";
    case MuxReason::kBadTunnelConfig: return "bad_tunnel_config";
    case MuxReason::kSessionFlowControl: return "session_flow_control";
    case MuxReason::kSessionWindowOverflow: return "session_window_overflow";
    case MuxReason::kStreamIdReused: return "stream_id_reused";
    case MuxReason::kUnknownStream: return "unknown_stream";
    case MuxReason::kBadStreamId: return "bad_stream_id";
    case MuxReason::kUnexpectedFrame: return "unexpected_frame";
    case MuxReason::kMalformedFrame: return "malformed_frame";
    case MuxReason::kTruncated: return "truncated";
    case MuxReason::kControlQueueFull: return "control_queue_full";
    case MuxReason::kSessionFailed: return "session_failed";
  }
  return "unknown";
}

bool IsSessionFatal(MuxReason r) { return r >= MuxReason::kSessionFlowControl; }

ErrorCode ErrorCodeFor(MuxReason r) {
  switch (r) {
    case MuxReason::kStreamFlowControl:
    case MuxReason::kStreamWindowOverflow:
    case MuxReason::kSessionFlowControl:
    case MuxReason::kSessionWindowOverflow: return ErrorCode::kFlowControl;
    case MuxReason::kTooManyStreams: return ErrorCode::kTooManyStreams;
    case MuxReason::kControlQueueFull: return ErrorCode::kOverloaded;
    default: return ErrorCode::kProtocolError;
  }
}

std::string_view CallStatusName(CallStatus s) {
  switch (s) {
    case CallStatus::kOk: return "ok";
    case CallStatus::kUnknownStream: return "unknown_stream";
    case CallStatus::kWrongState: return "wrong_state";
    case CallStatus::kWrongRole: return "wrong_role";
    case CallStatus::kOutboxFull: return "outbox_full";
    case CallStatus::kTooManyStreams: return "too_many_streams";
    case CallStatus::kIdsExhausted: return "ids_exhausted";
    case CallStatus::kBadArgument: return "bad_argument";
    case CallStatus::kSessionFailed: return "session_failed";
  }
  return "unknown";
}

StreamMux::StreamMux(const MuxOptions& options, MuxVisitor* visitor)
    : options_(options),
      visitor_(visitor),
      control_reserve_(std::min<size_t>(1024, options.outbox_bytes / 4)),
      session_send_(options.peer_session_window),
      session_recv_(options.session_window) {
  assert(visitor_ != nullptr);
  assert(options_.max_data_chunk >= 1 && options_.max_data_chunk <= kMaxStreamChunk);
  assert(options_.outbox_bytes >= control_reserve_ + kInnerHeaderSize + options_.max_data_chunk);
  assert(options_.outbox_bytes >= kInnerHeaderSize + kMaxOpenSize);
}

// ---------------------------------------------------------------------------------------------------------------
// Lookup and failure helpers

Stream* StreamMux::Find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}
const Stream* StreamMux::Find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

bool StreamMux::IsPastId(StreamId id) const {
  if (id == 0) return false;
  if (options_.role == MuxRole::kDevice) return next_id_ == 0 || id < next_id_;
  return id <= highest_peer_id_;
}

MuxReason StreamMux::Fatal(MuxReason r) {
  failure_ = r;
  return r;
}

MuxReason StreamMux::Unknown(StreamId id) {
  return IsPastId(id) ? MuxReason::kLateFrame : Fatal(MuxReason::kUnknownStream);
}

bool StreamMux::QueueReset(StreamId id, ErrorCode code) {
  if (pending_resets_ >= kMaxPendingResets) return false;
  ++pending_resets_;
  control_.push_back(Control{id, true, code});
  return true;
}

MuxReason StreamMux::ResetFromMux(StreamId id, ErrorCode code, MuxReason why) {
  streams_.erase(id);
  if (!QueueReset(id, code)) return Fatal(MuxReason::kControlQueueFull);
  visitor_->OnStreamReset(id, code);
  return why;
}

// ---------------------------------------------------------------------------------------------------------------
// Inbound

MuxReason StreamMux::OnPlaintext(std::span<const uint8_t> plaintext) {
  if (failed()) return MuxReason::kSessionFailed;
  InnerFrameReader reader(plaintext);
  InnerFrame f;
  for (;;) {
    switch (reader.Next(&f)) {
      case InnerStatus::kEnd:
        return MuxReason::kOk;
      case InnerStatus::kTruncated:
        ++counts_[static_cast<size_t>(MuxReason::kTruncated)];
        return Fatal(MuxReason::kTruncated);
      case InnerStatus::kFrame:
        break;
    }
    const MuxReason r = OnFrame(f);
    if (IsSessionFatal(r)) return r;
  }
}

MuxReason StreamMux::OnFrame(const InnerFrame& f) {
  if (failed()) return MuxReason::kSessionFailed;
  MuxReason r = MuxReason::kUnknownType;
  switch (f.type) {
    case InnerType::kOpen: r = HandleOpen(f); break;
    case InnerType::kOpenOk: r = HandleOpenOk(f); break;
    case InnerType::kData: r = HandleData(f); break;
    case InnerType::kWindow: r = HandleWindow(f); break;
    case InnerType::kReset: r = HandleReset(f); break;
    case InnerType::kTunnelRequest:
    case InnerType::kTunnelConfig:
    case InnerType::kTunnelRefused: r = HandleTunnel(f); break;
  }
  ++counts_[static_cast<size_t>(r)];
  return r;
}

MuxReason StreamMux::HandleOpen(const InnerFrame& f) {
  if (options_.role != MuxRole::kConnector) return Fatal(MuxReason::kUnexpectedFrame);
  if (f.stream_id == 0) return Fatal(MuxReason::kBadStreamId);
  if (f.stream_id <= highest_peer_id_) return Fatal(MuxReason::kStreamIdReused);
  auto open = DecodeOpen(f.payload);
  if (!open.ok()) return Fatal(MuxReason::kMalformedFrame);
  highest_peer_id_ = f.stream_id;
  if (streams_.size() >= options_.max_streams) {
    if (!QueueReset(f.stream_id, ErrorCode::kTooManyStreams)) return Fatal(MuxReason::kControlQueueFull);
    return MuxReason::kTooManyStreams;
  }
  Stream& s = streams_[f.stream_id];
  s.state = StreamState::kOpening;
  s.send = SendWindow(open->initial_window);
  s.recv = RecvWindow(0);  // the device may not send before OPEN_OK
  visitor_->OnStreamOpen(f.stream_id, open->target);
  return MuxReason::kOk;
}

MuxReason StreamMux::HandleTunnel(const InnerFrame& f) {
  if (f.stream_id != 0) return Fatal(MuxReason::kBadStreamId);
  if (f.type == InnerType::kTunnelRequest) {
    if (options_.role != MuxRole::kConnector || tunnel_step_ != TunnelStep::kNone) {
      return Fatal(MuxReason::kUnexpectedFrame);
    }
    auto req = DecodeTunnelRequest(f.payload);
    if (!req.ok()) return Fatal(MuxReason::kMalformedFrame);
    tunnel_step_ = TunnelStep::kRequested;
    tunnel_mtu_max_ = req->mtu_max;
    if (!visitor_->OnTunnelRequest(*req) && tunnel_step_ == TunnelStep::kRequested &&
        RefuseTunnel(ErrorCode::kRefusedByPolicy, "no IP tunnel served here") != CallStatus::kOk) {
      return Fatal(MuxReason::kControlQueueFull);
    }
    return MuxReason::kOk;
  }
  if (options_.role != MuxRole::kDevice || tunnel_step_ != TunnelStep::kRequested) {
    return Fatal(MuxReason::kUnexpectedFrame);
  }
  tunnel_step_ = TunnelStep::kAnswered;
  if (f.type == InnerType::kTunnelRefused) {
    auto refused = DecodeTunnelRefused(f.payload);
    if (!refused.ok()) return Fatal(MuxReason::kMalformedFrame);
    visitor_->OnTunnelRefused(*refused);
    return MuxReason::kOk;
  }
  auto config = DecodeTunnelConfig(f.payload, tunnel_mtu_max_);
  if (!config.ok()) {
    visitor_->OnTunnelRefused({ErrorCode::kProtocolError, "unusable TUNNEL_CONFIG: " + config.error().reason});
    return MuxReason::kBadTunnelConfig;
  }
  visitor_->OnTunnelConfig(*config);
  return MuxReason::kOk;
}

MuxReason StreamMux::HandleOpenOk(const InnerFrame& f) {
  if (options_.role != MuxRole::kDevice) return Fatal(MuxReason::kUnexpectedFrame);
  if (f.stream_id == 0) return Fatal(MuxReason::kBadStreamId);
  auto window = DecodeOpenOk(f.payload);
  if (!window.ok()) return Fatal(MuxReason::kMalformedFrame);
  Stream* s = Find(f.stream_id);
  if (s == nullptr) return Unknown(f.stream_id);
  const Transition t = OnAccepted(s->state);
  if (!t.ok) return Fatal(MuxReason::kUnexpectedFrame);
  s->state = t.to;
  s->send = SendWindow(*window);
  visitor_->OnStreamAccepted(f.stream_id);
  return MuxReason::kOk;
}

MuxReason StreamMux::HandleData(const InnerFrame& f) {
  if (f.stream_id == 0) return Fatal(MuxReason::kBadStreamId);
  const auto len = static_cast<uint32_t>(f.payload.size());
  // Session credit first: every DATA byte counts against the session window, wherever it ends up, and is
  // returned at once (released) so a stalled stream never holds session credit.
  if (!session_recv_.Accept(len)) return Fatal(MuxReason::kSessionFlowControl);
  session_recv_.Release(len);

  Stream* s = Find(f.stream_id);
  if (s == nullptr) return Unknown(f.stream_id);
  if (s->state == StreamState::kOpening) {
    return ResetFromMux(f.stream_id, ErrorCode::kProtocolError, MuxReason::kDataBeforeOpenOk);
  }
  if (!CanReceive(s->state)) {
    return ResetFromMux(f.stream_id, ErrorCode::kProtocolError, MuxReason::kDataAfterFin);
  }
  if (!s->recv.Accept(len)) {
    return ResetFromMux(f.stream_id, ErrorCode::kFlowControl, MuxReason::kStreamFlowControl);
  }
  if (len > 0) visitor_->OnStreamData(f.stream_id, f.payload);
  if (f.fin()) {
    s = Find(f.stream_id);  // the visitor may have reset it
    if (s == nullptr) return MuxReason::kOk;
    const Transition t = OnRemoteFin(s->state);
    if (t.ok) {
      if (t.to == StreamState::kClosed) {
        streams_.erase(f.stream_id);
      } else {
        s->state = t.to;
      }
      visitor_->OnStreamFin(f.stream_id);
    }
  }
  return MuxReason::kOk;
}

MuxReason StreamMux::HandleWindow(const InnerFrame& f) {
  auto inc = DecodeWindow(f.payload);
  if (!inc.ok()) return Fatal(MuxReason::kMalformedFrame);
  if (f.stream_id == 0) {
    if (!session_send_.Grant(*inc)) return Fatal(MuxReason::kSessionWindowOverflow);
    NotifyWritable();
    return MuxReason::kOk;
  }
  Stream* s = Find(f.stream_id);
  if (s == nullptr) return Unknown(f.stream_id);
  if (!s->send.Grant(*inc)) {
    return ResetFromMux(f.stream_id, ErrorCode::kFlowControl, MuxReason::kStreamWindowOverflow);
  }
  NotifyWritable();
  return MuxReason::kOk;
}

MuxReason StreamMux::HandleReset(const InnerFrame& f) {
  if (f.stream_id == 0) return Fatal(MuxReason::kBadStreamId);
  auto code = DecodeReset(f.payload);
  if (!code.ok()) return Fatal(MuxReason::kMalformedFrame);
  if (Find(f.stream_id) == nullptr) return Unknown(f.stream_id);
  streams_.erase(f.stream_id);
  visitor_->OnStreamReset(f.stream_id, *code);
  return MuxReason::kOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbox

void StreamMux::EnsureOutbox() {
  if (outbox_.size() != options_.outbox_bytes) outbox_.resize(options_.outbox_bytes);
}

size_t StreamMux::OutboxFree() const { return options_.outbox_bytes - (out_tail_ - out_head_); }

size_t StreamMux::OutboxDataFree() const {
  const size_t free = OutboxFree();
  return free > control_reserve_ ? free - control_reserve_ : 0;
}

// Compacts the queued frames to the front if `need` bytes do not fit behind out_tail_.
void StreamMux::MakeRoom(size_t need) {
  EnsureOutbox();
  if (outbox_.size() - out_tail_ < need && out_head_ > 0) {
    std::memmove(outbox_.data(), outbox_.data() + out_head_, out_tail_ - out_head_);
    if (last_data_ != kNoFrame) last_data_ -= out_head_;
    out_tail_ -= out_head_;
    out_head_ = 0;
  }
}

// A writer over the free tail (compacted so that `need` bytes fit, if they fit at all).
InnerFrameWriter StreamMux::OutboxWriter(size_t need) {
  MakeRoom(need);
  return InnerFrameWriter(std::span<uint8_t>(outbox_).subspan(out_tail_));
}

size_t StreamMux::AppendData(StreamId id, std::span<const uint8_t> bytes) {
  size_t accepted = 0;
  // Extend the newest DATA frame of this stream while it is still queued, so small writes share a header.
  if (last_data_ != kNoFrame && last_data_stream_ == id && last_data_ >= out_head_) {
    ByteReader r{std::span<const uint8_t>(outbox_).subspan(last_data_ + kInnerLengthOffset, 2)};
    uint16_t len = 0;
    r.ReadU16(&len);
    const size_t room = std::min({options_.max_data_chunk - len, OutboxDataFree(), bytes.size()});
    if (room > 0 && last_data_ + kInnerHeaderSize + len == out_tail_) {
      MakeRoom(room);  // may compact; last_data_ moves with the data
      std::memcpy(outbox_.data() + out_tail_, bytes.data(), room);
      ByteWriter lw{std::span<uint8_t>(outbox_).subspan(last_data_ + kInnerLengthOffset, 2)};
      lw.U16(static_cast<uint16_t>(len + room));
      out_tail_ += room;
      accepted += room;
    }
  }
  while (accepted < bytes.size()) {
    const size_t free = OutboxDataFree();
    if (free <= kInnerHeaderSize) break;
    const size_t chunk = std::min({bytes.size() - accepted, options_.max_data_chunk, free - kInnerHeaderSize});
    InnerFrameWriter w = OutboxWriter(kInnerHeaderSize + chunk);
    if (!w.Data(id, bytes.subspan(accepted, chunk), false)) break;
    last_data_ = out_tail_;
    last_data_stream_ = id;
    out_tail_ += w.written();
    accepted += chunk;
  }
  return accepted;
}

// ---------------------------------------------------------------------------------------------------------------
// Application calls

OpenResult StreamMux::Open(const OpenTarget& target) {
  if (failed()) return {CallStatus::kSessionFailed, 0};
  if (options_.role != MuxRole::kDevice) return {CallStatus::kWrongRole, 0};
  if (streams_.size() >= options_.peer_max_streams) return {CallStatus::kTooManyStreams, 0};
  if (next_id_ == 0) return {CallStatus::kIdsExhausted, 0};
  const size_t size = OpenPayloadSize(target);
  if (size == 0) return {CallStatus::kBadArgument, 0};
  if (OutboxFree() < kInnerHeaderSize + size) return {CallStatus::kOutboxFull, 0};
  const StreamId id = next_id_;
  InnerFrameWriter w = OutboxWriter(kInnerHeaderSize + size);
  if (!w.Open(id, options_.stream_window, target)) return {CallStatus::kOutboxFull, 0};
  out_tail_ += w.written();
  ++next_id_;  // wraps to 0 after 0xFFFFFFFF: exhausted
  Stream& s = streams_[id];
  s.state = StreamState::kOpening;
  s.recv = RecvWindow(options_.stream_window);
  s.send = SendWindow(0);  // until OPEN_OK
  return {CallStatus::kOk, id};
}

CallStatus StreamMux::QueueTunnelFrame(InnerType type, std::span<const uint8_t> payload) {
  if (OutboxFree() < kInnerHeaderSize + payload.size()) return CallStatus::kOutboxFull;
  InnerFrameWriter w = OutboxWriter(kInnerHeaderSize + payload.size());
  if (!w.Raw(static_cast<uint8_t>(type), 0, 0, payload)) return CallStatus::kOutboxFull;
  out_tail_ += w.written();
  return CallStatus::kOk;
}

CallStatus StreamMux::RequestTunnel(uint16_t mtu_max) {
  if (failed()) return CallStatus::kSessionFailed;
  if (options_.role != MuxRole::kDevice) return CallStatus::kWrongRole;
  if (tunnel_step_ != TunnelStep::kNone) return CallStatus::kWrongState;
  std::vector<uint8_t> payload;
  if (!EncodeTunnelRequest({mtu_max}, &payload).ok()) return CallStatus::kBadArgument;
  const CallStatus st = QueueTunnelFrame(InnerType::kTunnelRequest, payload);
  if (st == CallStatus::kOk) {
    tunnel_step_ = TunnelStep::kRequested;
    tunnel_mtu_max_ = mtu_max;
  }
  return st;
}

CallStatus StreamMux::AnswerTunnel(const TunnelConfig& config) {
  if (failed()) return CallStatus::kSessionFailed;
  if (options_.role != MuxRole::kConnector) return CallStatus::kWrongRole;
  if (tunnel_step_ != TunnelStep::kRequested) return CallStatus::kWrongState;
  if (config.mtu > tunnel_mtu_max_) return CallStatus::kBadArgument;  // the device would refuse it
  std::vector<uint8_t> payload;
  if (!EncodeTunnelConfig(config, &payload).ok()) return CallStatus::kBadArgument;
  const CallStatus st = QueueTunnelFrame(InnerType::kTunnelConfig, payload);
  if (st == CallStatus::kOk) tunnel_step_ = TunnelStep::kAnswered;
  return st;
}

CallStatus StreamMux::RefuseTunnel(ErrorCode code, std::string_view reason) {
  if (failed()) return CallStatus::kSessionFailed;
  if (options_.role != MuxRole::kConnector) return CallStatus::kWrongRole;
  if (tunnel_step_ != TunnelStep::kRequested) return CallStatus::kWrongState;
  std::vector<uint8_t> payload;
  if (!EncodeTunnelRefused({code, std::string(reason)}, &payload).ok()) return CallStatus::kBadArgument;
  const CallStatus st = QueueTunnelFrame(InnerType::kTunnelRefused, payload);
  if (st == CallStatus::kOk) tunnel_step_ = TunnelStep::kAnswered;
  return st;
}

CallStatus StreamMux::Accept(StreamId id) {
  if (failed()) return CallStatus::kSessionFailed;
  if (options_.role != MuxRole::kConnector) return CallStatus::kWrongRole;
  Stream* s = Find(id);
  if (s == nullptr) return CallStatus::kUnknownStream;
  const Transition t = OnAccepted(s->state);
  if (!t.ok) return CallStatus::kWrongState;
  if (OutboxFree() < kInnerHeaderSize + kOpenOkSize) return CallStatus::kOutboxFull;
  InnerFrameWriter w = OutboxWriter(kInnerHeaderSize + kOpenOkSize);
  if (!w.OpenOk(id, options_.stream_window)) return CallStatus::kOutboxFull;
  out_tail_ += w.written();
  s->state = t.to;
  s->recv = RecvWindow(options_.stream_window);
  return CallStatus::kOk;
}

CallStatus StreamMux::Reject(StreamId id, ErrorCode code) {
  if (failed()) return CallStatus::kSessionFailed;
  if (options_.role != MuxRole::kConnector) return CallStatus::kWrongRole;
  const Stream* s = Find(id);
  if (s == nullptr) return CallStatus::kUnknownStream;
  if (s->state != StreamState::kOpening) return CallStatus::kWrongState;
  return Reset(id, code);
}

CallStatus StreamMux::Reset(StreamId id, ErrorCode code) {
  if (failed()) return CallStatus::kSessionFailed;
  if (Find(id) == nullptr) return CallStatus::kUnknownStream;
  if (OutboxFree() < kInnerHeaderSize + kResetSize) return CallStatus::kOutboxFull;
  InnerFrameWriter w = OutboxWriter(kInnerHeaderSize + kResetSize);
  if (!w.Reset(id, code)) return CallStatus::kOutboxFull;
  out_tail_ += w.written();
  streams_.erase(id);
  return CallStatus::kOk;
}

size_t StreamMux::SendCapacity(const Stream& s) const {
  if (!CanSend(s.state)) return 0;
  return static_cast<size_t>(std::min<uint64_t>(s.send.available(), SharedCapacity()));
}

size_t StreamMux::SharedCapacity() const {
  const size_t room = OutboxDataFree();
  const size_t outbox = room > kInnerHeaderSize ? room - kInnerHeaderSize : 0;
  return static_cast<size_t>(std::min<uint64_t>(session_send_.available(), outbox));
}

size_t StreamMux::SendCapacity(StreamId id) const {
  if (failed()) return 0;
  const Stream* s = Find(id);
  return s == nullptr ? 0 : SendCapacity(*s);
}

void StreamMux::MarkBlocked(StreamId id, Stream& s) {
  if (s.write_blocked) return;
  s.write_blocked = true;
  blocked_.push_back(id);
}

size_t StreamMux::Write(StreamId id, std::span<const uint8_t> bytes) {
  if (failed() || bytes.empty()) return 0;
  Stream* s = Find(id);
  if (s == nullptr || !CanSend(s->state)) return 0;
  const uint64_t credit = std::min(s->send.available(), session_send_.available());
  const size_t want = static_cast<size_t>(std::min<uint64_t>(bytes.size(), credit));
  const size_t accepted = want > 0 ? AppendData(id, bytes.first(want)) : 0;
  s->send.Spend(accepted);
  session_send_.Spend(accepted);
  if (accepted < bytes.size()) MarkBlocked(id, *s);
  return accepted;
}

CallStatus StreamMux::CloseWrite(StreamId id) {
  if (failed()) return CallStatus::kSessionFailed;
  Stream* s = Find(id);
  if (s == nullptr) return CallStatus::kUnknownStream;
  const Transition t = OnLocalFin(s->state);
  if (!t.ok) return CallStatus::kWrongState;
  if (last_data_ != kNoFrame && last_data_stream_ == id && last_data_ >= out_head_) {
    // The stream's newest DATA is still queued: FIN rides on it.
    outbox_[last_data_ + kInnerFlagsOffset] |= kInnerFlagFin;
  } else {
    if (OutboxFree() < kInnerHeaderSize) return CallStatus::kOutboxFull;
    InnerFrameWriter w = OutboxWriter(kInnerHeaderSize);
    if (!w.Data(id, {}, true)) return CallStatus::kOutboxFull;
    out_tail_ += w.written();
  }
  last_data_ = kNoFrame;  // nothing may be appended after a FIN
  if (t.to == StreamState::kClosed) {
    streams_.erase(id);
  } else {
    s->state = t.to;
  }
  return CallStatus::kOk;
}

CallStatus StreamMux::Consume(StreamId id, size_t n) {
  if (failed()) return CallStatus::kSessionFailed;
  Stream* s = Find(id);
  if (s == nullptr) return CallStatus::kUnknownStream;
  if (n > s->recv.held()) return CallStatus::kBadArgument;
  s->recv.Release(static_cast<uint32_t>(n));
  // No update once the peer has finished sending: it could not use the credit.
  if (s->recv.UpdateDue() && !s->window_queued && CanReceive(s->state)) {
    s->window_queued = true;
    control_.push_back(Control{id, false, ErrorCode::kProtocolError});
  }
  return CallStatus::kOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Outbound

size_t StreamMux::PollOutgoing(std::span<uint8_t> out) {
  if (failed()) return 0;
  InnerFrameWriter w(out);
  if (session_recv_.UpdateDue()) {
    if (!w.Window(0, session_recv_.pending())) return 0;
    session_recv_.TakeUpdate();
  }
  while (control_head_ < control_.size()) {
    const Control& c = control_[control_head_];
    if (c.reset) {
      if (!w.Reset(c.id, c.code)) return w.written();
      --pending_resets_;
    } else if (Stream* s = Find(c.id)) {
      if (s->recv.pending() > 0 && CanReceive(s->state)) {
        if (!w.Window(c.id, s->recv.pending())) return w.written();
        s->recv.TakeUpdate();
      }
      s->window_queued = false;
    }
    ++control_head_;
  }
  control_.clear();
  control_head_ = 0;

  const size_t before = out_tail_ - out_head_;
  while (out_head_ < out_tail_) {
    ByteReader r(std::span<const uint8_t>(outbox_).subspan(out_head_, out_tail_ - out_head_));
    uint8_t type = 0, flags = 0;
    uint32_t sid = 0;
    uint16_t len = 0;
    std::span<const uint8_t> payload;
    const bool parsed = r.ReadU8(&type) && r.ReadU8(&flags) && r.ReadU32(&sid) && r.ReadU16(&len) &&
                        r.ReadBytes(len, &payload);
    assert(parsed);  // the outbox holds only frames we encoded
    if (!parsed || !w.Raw(type, flags, sid, payload)) break;
    out_head_ += kInnerHeaderSize + len;
  }
  if (last_data_ != kNoFrame && last_data_ < out_head_) last_data_ = kNoFrame;
  if (out_head_ == out_tail_) {
    out_head_ = out_tail_ = 0;
    last_data_ = kNoFrame;
  }
  if (out_tail_ - out_head_ < before) NotifyWritable();
  return w.written();
}

bool StreamMux::HasOutgoing() const {
  if (failed()) return false;
  return session_recv_.UpdateDue() || control_head_ < control_.size() || out_tail_ > out_head_;
}

// Round-robin over the blocked streams: they are offered the shared room (outbox, session credit) in the order they
// blocked, until it runs out; the rest keep their places at the front, and a stream that blocks again during its
// turn queues behind them. (Offering every stream a turn in the same order each time let the first one take all
// the room for as long as it had bytes: issue 12, "fairness between one session's streams".)
void StreamMux::NotifyWritable() {
  if (blocked_.empty() || notifying_) return;
  notifying_ = true;
  scratch_.swap(blocked_);  // blocked_ now collects only the streams that block again during this round
  std::size_t keep = 0;     // scratch_[0, keep): still waiting for their own stream credit
  std::size_t next = 0;
  for (; next < scratch_.size(); ++next) {
    const StreamId id = scratch_[next];
    Stream* s = Find(id);
    if (s == nullptr || !s->write_blocked) continue;
    if (SharedCapacity() == 0) break;
    if (SendCapacity(*s) == 0) {
      scratch_[keep++] = id;
      continue;
    }
    s->write_blocked = false;
    visitor_->OnStreamWritable(id);
  }
  // Queue order: those waiting for their own credit, those not reached this round, then those that blocked again.
  scratch_.erase(scratch_.begin() + static_cast<std::ptrdiff_t>(keep),
                 scratch_.begin() + static_cast<std::ptrdiff_t>(next));
  scratch_.insert(scratch_.end(), blocked_.begin(), blocked_.end());
  scratch_.swap(blocked_);
  scratch_.clear();
  notifying_ = false;
}

void StreamMux::ReleaseIdleMemory() {
  if (out_head_ == out_tail_) {
    std::vector<uint8_t>().swap(outbox_);
    out_head_ = out_tail_ = 0;
    last_data_ = kNoFrame;
  }
  if (control_head_ == control_.size()) {
    std::vector<Control>().swap(control_);
    control_head_ = 0;
  }
  if (blocked_.empty()) std::vector<StreamId>().swap(blocked_);
  std::vector<StreamId>().swap(scratch_);
}

// ---------------------------------------------------------------------------------------------------------------
// Inspection

bool StreamMux::FindStream(StreamId id, StreamInfo* out) const {
  const Stream* s = Find(id);
  if (s == nullptr) return false;
  *out = StreamInfo{s->state, s->send.available(), s->recv.window(), s->recv.credit(), s->recv.held(),
                    s->recv.pending()};
  return true;
}

bool StreamMux::CheckInvariants() const {
  if (!session_recv_.Consistent() || session_recv_.held() != 0) return false;
  for (const auto& [id, s] : streams_) {
    if (!s.recv.Consistent()) return false;
    if (s.send.available() > kMaxWindow) return false;
  }
  return out_head_ <= out_tail_ && out_tail_ <= outbox_.size() && pending_resets_ <= kMaxPendingResets;
}

}  // namespace strait::tunnel
