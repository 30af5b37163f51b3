#include "tunnel/link/stream_pump.h"

#include <algorithm>
#include <utility>

#include "runtime/net.h"

namespace strait::link {

StreamPump::StreamPump(runtime::EventLoop& loop, StreamPumpHost& host, tunnel::StreamId id,
                       const StreamPumpOptions& options)
    : loop_(loop), host_(host), id_(id), options_(options) {}

StreamPump::~StreamPump() {
  if (retry_armed_) loop_.CancelTimer(retry_timer_);
}

bool StreamPump::Connect(const runtime::SocketAddress& addr, int* err) {
  conn_ = loop_.Connect(addr, this, tag, err);
  if (!conn_.valid()) return false;
  loop_.SetRecvMode(conn_, runtime::RecvMode::kNoHold);
  connecting_ = true;
  return true;
}

void StreamPump::Attach(runtime::ConnId conn) {
  conn_ = conn;
  connecting_ = false;
  attached_ = true;
  loop_.SetRecvMode(conn_, runtime::RecvMode::kNoHold);
  // Bytes that arrived before the stream was accepted were refused by the mux and kept; try them now.
  if (pending_bytes() > 0) PushToStream();
}

void StreamPump::KeepPending(std::span<const std::uint8_t> bytes) {
  pending_.assign(bytes.begin(), bytes.end());
  pending_head_ = 0;
}

void StreamPump::DropPending() {
  std::vector<std::uint8_t>().swap(pending_);  // a stream that waits for credit holds no heap while it flows
  pending_head_ = 0;
}

tunnel::StreamMux* StreamPump::Mux() { return stream_live_ ? host_.PumpMux(*this) : nullptr; }

void StreamPump::Abort(tunnel::ErrorCode code) {
  if (stream_live_) {
    tunnel::StreamMux* mux = host_.PumpMux(*this);
    stream_live_ = false;
    if (mux != nullptr) {
      (void)mux->Reset(id_, code);
      host_.PumpOutput(*this);
    }
  }
  DropPending();
  if (conn_.valid() && !closing_) {
    closing_ = true;
    loop_.Close(conn_, runtime::CloseMode::kAbort);
  }
}

// ---- TCP -> stream ----

void StreamPump::OnConnected(runtime::EventLoop& loop, runtime::ConnId id) {
  conn_ = id;
  connecting_ = false;
  (void)runtime::SetTcpNoDelay(loop.Fd(id));  // the target socket relays app writes as they come: no Nagle
  host_.PumpConnected(*this);
}

void StreamPump::OnData(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::Buffer data) {
  // The common case: the mux takes the whole buffer and it goes straight back to the loop's ring.
  TakeBytes(data.data());
}

void StreamPump::TakeBytes(std::span<const std::uint8_t> bytes) {
  if (closing_ || !stream_live_ || fin_sent_ || bytes.empty()) return;  // nowhere to put it: the stream is going
  if (pending_bytes() > 0) {
    // Bytes the kernel had delivered before the pause took effect (RecvMode::kNoHold), or from a host that
    // forwards: keep order by appending. Bounded by one batch per pause: the loop reads nothing more while paused.
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
    if (conn_.valid()) loop_.PauseRecv(conn_);
    return;
  }
  if (!attached_) {
    KeepPending(bytes);
    if (conn_.valid()) loop_.PauseRecv(conn_);
    return;
  }
  PushToStream(bytes);
}

void StreamPump::PushToStream(std::span<const std::uint8_t> fresh) {
  tunnel::StreamMux* mux = Mux();
  if (mux == nullptr) {
    DropPending();
    return;
  }
  bool wrote = false;
  const bool from_pending = fresh.empty();
  const auto bytes = from_pending ? std::span<const std::uint8_t>(pending_).subspan(pending_head_) : fresh;
  if (!bytes.empty()) {
    const std::size_t n = mux->Write(id_, bytes);
    if (n > 0) {
      wrote = true;
      stats_.bytes_to_stream += n;
    }
    if (n == bytes.size()) {
      if (from_pending) DropPending();
      if (!eof_read_ && loop_.RecvPaused(conn_)) loop_.ResumeRecv(conn_);
    } else {
      // No credit for the rest: copy it out of the loop's buffer, so that a stream waiting for its peer holds
      // none of the receive buffers the links need (docs/runtime.md, "Who holds receive buffers").
      if (from_pending) {
        pending_head_ += n;
      } else {
        KeepPending(bytes.subspan(n));
        ++stats_.pending_copies;
      }
      if (!loop_.RecvPaused(conn_)) loop_.PauseRecv(conn_);
    }
  }
  if (pending_bytes() == 0 && eof_read_ && !fin_sent_) {
    if (mux->CloseWrite(id_) == tunnel::CallStatus::kOk) {
      fin_sent_ = true;
      wrote = true;
      if (peer_fin_) stream_live_ = false;  // both FINs: the mux forgot the stream
    }
    // kOutboxFull: retried on OnStreamWritable.
  }
  if (wrote) host_.PumpOutput(*this);
  MaybeFinish();
}

void StreamPump::OnReadClosed(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/) {
  eof_read_ = true;
  if (attached_ && stream_live_) PushToStream();
}

void StreamPump::OnStreamWritable() {
  if (attached_ && stream_live_) PushToStream();
}

// ---- stream -> TCP ----

bool StreamPump::QueueToSocket(std::span<const std::uint8_t> bytes) {
  // Send(span) is all-or-nothing per call; feed it at most one buffer's worth at a time so a refusal keeps the
  // already-queued prefix.
  const std::size_t chunk = loop_.options().buffer_size - loop_.options().buffer_headroom;
  while (!bytes.empty()) {
    const std::size_t n = std::min(chunk, bytes.size());
    if (loop_.Send(conn_, bytes.first(n)) != runtime::SendResult::kQueued) {
      ++stats_.send_refused;
      if (overflow_.capacity() == 0) overflow_.reserve(tunnel::kDefaultStreamWindow);
      overflow_.insert(overflow_.end(), bytes.begin(), bytes.end());
      ArmRetry();
      return false;
    }
    stats_.bytes_to_socket += n;
    owed_ += n;
    bytes = bytes.subspan(n);
  }
  return true;
}

void StreamPump::OnStreamData(std::span<const std::uint8_t> data) {
  if (closing_ || !conn_.valid()) {
    // The socket is going away; the bytes are discarded but the credit returns so the session is not starved.
    if (tunnel::StreamMux* mux = Mux()) (void)mux->Consume(id_, data.size());
    return;
  }
  if (overflow_bytes() > 0) {
    overflow_.insert(overflow_.end(), data.begin(), data.end());
    return;
  }
  (void)QueueToSocket(data);
  SettleCredit();
}

void StreamPump::SendControl(std::span<const std::uint8_t> bytes) {
  if (closing_ || !conn_.valid() || bytes.empty()) return;
  const std::size_t chunk = loop_.options().buffer_size - loop_.options().buffer_headroom;
  if (overflow_bytes() == 0 && bytes.size() <= chunk && loop_.Send(conn_, bytes) == runtime::SendResult::kQueued) {
    return;
  }
  ++stats_.send_refused;
  overflow_.insert(overflow_.end(), bytes.begin(), bytes.end());
  overflow_control_ += bytes.size();
  ArmRetry();
}

void StreamPump::FlushOverflow() {
  if (overflow_bytes() == 0 || closing_) return;
  // Move out what fits; QueueToSocket appends a refused tail again, so work on a detached copy of the range.
  const std::size_t chunk = loop_.options().buffer_size - loop_.options().buffer_headroom;
  while (overflow_head_ < overflow_.size()) {
    const std::size_t n = std::min(chunk, overflow_.size() - overflow_head_);
    if (loop_.Send(conn_, std::span<const std::uint8_t>(overflow_.data() + overflow_head_, n)) !=
        runtime::SendResult::kQueued) {
      ArmRetry();
      break;
    }
    const std::size_t control = std::min(n, overflow_control_);  // not stream bytes: no credit for them
    overflow_control_ -= control;
    stats_.bytes_to_socket += n - control;
    owed_ += n - control;
    overflow_head_ += n;
  }
  if (overflow_head_ == overflow_.size()) {
    overflow_.clear();  // keeps the capacity: the rare path does not allocate twice
    overflow_head_ = 0;
  }
  SettleCredit();
  MaybeShutdownWrite();
}

void StreamPump::SettleCredit() {
  if (owed_ == 0) return;
  if (loop_.SendQueueBytes(conn_) >= loop_.options().send_high_watermark) {
    ++stats_.consume_deferred;
    return;  // OnSendQueueLow settles
  }
  tunnel::StreamMux* mux = Mux();
  const std::size_t n = std::exchange(owed_, 0);
  if (mux != nullptr) {
    (void)mux->Consume(id_, n);
    if (mux->HasOutgoing()) host_.PumpOutput(*this);
  }
}

void StreamPump::OnSendQueueLow(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/) {
  FlushOverflow();
  SettleCredit();
}

void StreamPump::OnStreamFin() {
  peer_fin_ = true;
  if (fin_sent_) stream_live_ = false;  // both FINs: the mux forgot the stream
  MaybeShutdownWrite();
}

void StreamPump::MaybeShutdownWrite() {
  if (!peer_fin_ || write_shut_ || overflow_bytes() > 0 || closing_ || !conn_.valid()) return;
  write_shut_ = true;
  loop_.ShutdownWrite(conn_);
  MaybeFinish();
}

void StreamPump::OnStreamReset(tunnel::ErrorCode /*code*/) {
  stream_live_ = false;
  Abort(tunnel::ErrorCode::kCancelled);
}

void StreamPump::OnSessionGone() {
  stream_live_ = false;
  Abort(tunnel::ErrorCode::kCancelled);
}

void StreamPump::MaybeFinish() {
  if (closing_ || !fin_sent_ || !peer_fin_ || !write_shut_) return;
  closing_ = true;
  loop_.Close(conn_, runtime::CloseMode::kGraceful);
}

void StreamPump::ArmRetry() {
  if (retry_armed_) return;
  retry_timer_ = loop_.AddTimer(options_.retry_delay, this);
  retry_armed_ = retry_timer_.valid();
}

void StreamPump::OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) {
  retry_armed_ = false;
  FlushOverflow();
}

void StreamPump::OnClose(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/, runtime::CloseReason reason,
                         int err) {
  const bool connected = !connecting_;
  DropPending();
  if (retry_armed_) {
    loop_.CancelTimer(retry_timer_);
    retry_armed_ = false;
  }
  if (stream_live_ && reason != runtime::CloseReason::kConnectFailed) {
    // The socket died under a live stream (reset, error, loop shutdown): the peer must learn it.
    tunnel::StreamMux* mux = host_.PumpMux(*this);
    stream_live_ = false;
    if (mux != nullptr) {
      (void)mux->Reset(id_, options_.socket_error_code);
      host_.PumpOutput(*this);
    }
  }
  conn_ = {};
  closing_ = true;
  host_.PumpDone(*this, connected, reason, err);
}

}  // namespace strait::link
