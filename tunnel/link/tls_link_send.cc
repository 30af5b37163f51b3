// TlsLink's send path (the rest is in tls_link.cc): frames appended to the pending plaintext, sealed straight into
// loop send buffers, handed to the loop in order, refused bytes kept and retried, and the owner's backpressure
// callbacks (docs/link.md, "Buffers" and "Backpressure contract").
#include <algorithm>
#include <cassert>
#include <vector>

#include "tunnel/frame_writer.h"
#include "tunnel/link/tls_link.h"

namespace strait::link {

using tunnel::FrameType;

namespace {

// Lends a loop-wide scratch to one user at a time; a nested user (a callback that flushes another link while this
// one is inside loop.Send) gets a local one instead. The scratch is empty when lent and when returned.
template <typename T>
class LentScratch {
 public:
  LentScratch(T& shared, bool& busy) : busy_(busy), owner_(!busy) {
    if (owner_) {
      busy_ = true;
      v_ = &shared;
    } else {
      v_ = &local_;
    }
  }
  ~LentScratch() {
    v_->clear();
    if (owner_) busy_ = false;
  }
  LentScratch(const LentScratch&) = delete;
  LentScratch& operator=(const LentScratch&) = delete;
  T& get() { return *v_; }

 private:
  bool& busy_;
  const bool owner_;
  T* v_ = nullptr;
  T local_;
};

// Seals into loop send buffers: each Reserve hands out the tail of the current plain-pool buffer, or a fresh one.
// If the pool runs dry mid-seal, the rest goes to `overflow` (sent after the buffers, through the copying path).
class SendBufferSink final : public crypto::ByteSink {
 public:
  SendBufferSink(runtime::EventLoop& loop, std::vector<runtime::Buffer>& bufs, std::vector<std::uint8_t>& overflow)
      : loop_(loop), bufs_(bufs), overflow_(overflow) {}
  std::span<std::uint8_t> Reserve(std::size_t want) override {
    if (overflow_.empty()) {
      if (!bufs_.empty() && !bufs_.back().tailroom().empty()) return bufs_.back().tailroom();
      if (runtime::Buffer b = loop_.AllocateBuffer()) {
        bufs_.push_back(std::move(b));
        return bufs_.back().tailroom();
      }
    }
    base_ = overflow_.size();
    overflow_.resize(base_ + want);
    in_overflow_ = true;
    return std::span(overflow_).subspan(base_);
  }
  void Commit(std::size_t n) override {
    if (in_overflow_) {
      overflow_.resize(base_ + n);
      in_overflow_ = false;
    } else {
      bufs_.back().Commit(n);
    }
  }

 private:
  runtime::EventLoop& loop_;
  std::vector<runtime::Buffer>& bufs_;
  std::vector<std::uint8_t>& overflow_;
  std::size_t base_ = 0;
  bool in_overflow_ = false;
};

void AppendFrame(std::vector<std::uint8_t>& out, FrameType type, std::uint16_t flags, std::uint32_t channel,
                 std::span<const std::uint8_t> payload) {
  std::array<std::uint8_t, tunnel::kHeaderSize> header{};
  const bool ok = tunnel::EncodeFrameHeader(
      {tunnel::kFramingVersion, type, flags, static_cast<std::uint32_t>(payload.size()), channel}, header);
  assert(ok);
  (void)ok;
  if (out.capacity() == 0) out.reserve(header.size() + payload.size());
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), payload.begin(), payload.end());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// Send path

SendStatus TlsLink::SendFrame(FrameType type, std::uint16_t flags, std::uint32_t channel,
                              std::span<const std::uint8_t> payload) {
  if (state_ != LinkState::kUp) {
    return state_ == LinkState::kClosing || state_ == LinkState::kDown ? SendStatus::kClosed : SendStatus::kNotUp;
  }
  if (payload.size() > peer_max_payload_) return SendStatus::kTooLarge;
  if (backlog_bytes() + tunnel::kHeaderSize + payload.size() > config_->options.max_pending_bytes) {
    ++shared_->stats.send_backpressure;
    return SendStatus::kBackpressure;
  }
  AppendFrame(tx_pending_, type, flags, channel, payload);
  ++shared_->stats.frames_out;
  if (tx_pending_.size() >= config_->options.auto_flush_bytes) Flush();
  return SendStatus::kOk;
}

SendStatus TlsLink::SendEncoded(std::span<const std::uint8_t> frame) {
  tunnel::FrameHeader h;
  const bool parsed = tunnel::ParseFrameHeader(frame, &h);
  assert(parsed && tunnel::kHeaderSize + h.length == frame.size());
  (void)parsed;
  if (state_ != LinkState::kUp) {
    return state_ == LinkState::kClosing || state_ == LinkState::kDown ? SendStatus::kClosed : SendStatus::kNotUp;
  }
  if (h.length > peer_max_payload_) return SendStatus::kTooLarge;
  if (backlog_bytes() + frame.size() > config_->options.max_pending_bytes) {
    ++shared_->stats.send_backpressure;
    return SendStatus::kBackpressure;
  }
  ++shared_->stats.frames_out;
  if (tx_pending_.empty() && frame.size() >= config_->options.auto_flush_bytes && tls_->handshake_complete()) {
    // A record's worth with nothing ahead of it: seal it where it lies (a forwarded frame, one TLS record when
    // the sender keeps to kTlsRecordPlaintext), skipping the copy into the pending buffer.
    ++shared_->stats.frames_sealed_direct;
    Seal(frame);
    return SendStatus::kOk;
  }
  if (tx_pending_.capacity() == 0) tx_pending_.reserve(frame.size());
  tx_pending_.insert(tx_pending_.end(), frame.begin(), frame.end());
  if (tx_pending_.size() >= config_->options.auto_flush_bytes) Flush();
  return SendStatus::kOk;
}

void TlsLink::AppendOwnFrame(FrameType type, std::uint32_t channel, std::span<const std::uint8_t> payload) {
  AppendFrame(tx_pending_, type, 0, channel, payload);
}

void TlsLink::Flush() {
  if (tx_pending_.empty() || !tls_ || !tls_->handshake_complete()) return;
  if (state_ == LinkState::kIdle || state_ == LinkState::kDown) return;
  // Taken out first: the owner, told about backpressure at the end of Seal, may append new frames. The storage is
  // freed afterwards, so an idle link holds no buffer.
  std::vector<std::uint8_t> pending;
  pending.swap(tx_pending_);
  Seal(pending);
}

void TlsLink::Seal(std::span<const std::uint8_t> plaintext) {
  LentScratch<std::vector<runtime::Buffer>> bufs(shared_->tx_bufs_, shared_->tx_busy_);
  std::vector<std::uint8_t> local_overflow;
  std::vector<std::uint8_t>& overflow = &bufs.get() == &shared_->tx_bufs_ ? shared_->tx_overflow_ : local_overflow;
  overflow.clear();
  SendBufferSink sink(*loop_, bufs.get(), overflow);
  auto r = tls_->Send(plaintext, sink);
  if (!r) {
    Down(DownReason::kSendFailed, 0, r.error().reason, Ending::kAbort);
    return;
  }
  if (!overflow.empty()) ++shared_->stats.seal_overflow;
  // Every sealed byte is queued (or kept in tx_sealed_) before the owner hears about backpressure: a callback that
  // flushed this link again mid-way would reorder records.
  for (runtime::Buffer& b : bufs.get()) SendSealedBuffer(std::move(b));
  if (!overflow.empty()) SendSealedBytes(overflow);
  overflow.clear();
  UpdateOwnerBackpressure();
}

void TlsLink::SendSealedBuffer(runtime::Buffer&& buffer) {
  if (!buffer || buffer.size() == 0) return;
  if (!tx_sealed_.empty()) {  // older sealed bytes wait: keep the order
    const auto bytes = buffer.data();
    tx_sealed_.insert(tx_sealed_.end(), bytes.begin(), bytes.end());
    return;
  }
  in_loop_send_ = true;
  const runtime::SendResult r = loop_->Send(conn_, std::move(buffer));
  in_loop_send_ = false;
  AfterLoopSend(r, buffer ? buffer.data() : std::span<const std::uint8_t>());
}

void TlsLink::SendCiphertext(std::span<const std::uint8_t> bytes) {
  SendSealedBytes(bytes);
  UpdateOwnerBackpressure();
}

void TlsLink::SendSealedBytes(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (!tx_sealed_.empty()) {  // older sealed bytes wait: keep the order
    tx_sealed_.insert(tx_sealed_.end(), bytes.begin(), bytes.end());
    return;
  }
  in_loop_send_ = true;
  const runtime::SendResult r = loop_->Send(conn_, bytes);
  in_loop_send_ = false;
  AfterLoopSend(r, bytes);
}

void TlsLink::AfterLoopSend(runtime::SendResult r, std::span<const std::uint8_t> refused) {
  switch (r) {
    case runtime::SendResult::kQueued:
      timers_.Sent(NowNs());
      break;
    case runtime::SendResult::kQueueFull:
    case runtime::SendResult::kNoBuffer:
      // Sealed bytes cannot be re-sealed: keep them and retry on OnSendQueueLow or the retry timer.
      ++shared_->stats.loop_send_refused;
      tx_sealed_.assign(refused.begin(), refused.end());
      if (r == runtime::SendResult::kNoBuffer || !loop_high_) {
        timers_.FlushRefused(NowNs());  // no OnSendQueueLow will come for this one
        if (state_ == LinkState::kUp) ArmTimer();
      }
      break;
    case runtime::SendResult::kClosed:
      break;  // the connection is closing; OnClose follows
  }
}

void TlsLink::RetrySealed() {
  if (tx_sealed_.empty()) return;
  // In slices: Send(span) is all or nothing, and what waits here may be more than the loop's queue limit takes at
  // once (max_pending_bytes above send_queue_limit wedged the link for good).
  const std::size_t slice = std::min<std::size_t>(64u << 10, loop_->options().send_queue_limit);
  std::size_t sent = 0;
  runtime::SendResult r = runtime::SendResult::kQueued;
  in_loop_send_ = true;
  while (sent < tx_sealed_.size()) {
    const std::size_t n = std::min(slice, tx_sealed_.size() - sent);
    r = loop_->Send(conn_, std::span<const std::uint8_t>(tx_sealed_).subspan(sent, n));
    if (r != runtime::SendResult::kQueued) break;
    sent += n;
  }
  in_loop_send_ = false;
  if (sent > 0) {
    timers_.Sent(NowNs());
    tx_sealed_.erase(tx_sealed_.begin(), tx_sealed_.begin() + static_cast<std::ptrdiff_t>(sent));
  }
  switch (r) {
    case runtime::SendResult::kQueued:
      ReleaseIfEmpty(tx_sealed_);
      break;
    case runtime::SendResult::kQueueFull:
    case runtime::SendResult::kNoBuffer:
      ++shared_->stats.loop_send_refused;
      if (r == runtime::SendResult::kNoBuffer || !loop_high_) {
        timers_.FlushRefused(NowNs());
        if (state_ == LinkState::kUp) ArmTimer();
      }
      break;
    case runtime::SendResult::kClosed:
      tx_sealed_.clear();
      ReleaseIfEmpty(tx_sealed_);
      break;
  }
  UpdateOwnerBackpressure();
}

void TlsLink::UpdateOwnerBackpressure() {
  if (in_loop_send_) return;  // never re-enter the owner while loop.Send is copying our bytes
  const bool high = loop_high_ || !tx_sealed_.empty();
  if (high == owner_high_ || state_ != LinkState::kUp) return;
  owner_high_ = high;
  if (high) {
    handler_->OnSendQueueHigh(*this);
  } else {
    handler_->OnSendQueueLow(*this);
  }
}

void TlsLink::OnSendQueueHigh(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/) {
  loop_high_ = true;
  UpdateOwnerBackpressure();
}

void TlsLink::OnSendQueueLow(runtime::EventLoop& /*loop*/, runtime::ConnId /*id*/) {
  loop_high_ = false;
  RetrySealed();
  UpdateOwnerBackpressure();
}

}  // namespace strait::link
