#include "relay/shard.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "relay/registry.h"
#include "tunnel/frame.h"
#include "tunnel/frame_reader.h"
#include "tunnel/frame_writer.h"
#include "tunnel/link_messages.h"

namespace strait::relay {

namespace {

tunnel::FrameHeader HeaderOf(std::span<const std::uint8_t> bytes) {
  tunnel::FrameHeader h;
  (void)tunnel::ParseFrameHeader(bytes, &h);
  return h;
}

}  // namespace

void Shard::Pause(Link& l) {
  if (l.pause_count++ == 0) {
    l.tls->PauseRecv();
    ++m_.paused_links;
  }
}
void Shard::Resume(Link& l) {
  if (l.pause_count > 0 && --l.pause_count == 0) {
    l.tls->ResumeRecv();
    --m_.paused_links;
  }
}
void Shard::ResumeRef(std::uint64_t ref) {
  if (Link* l = Resolve(ref)) Resume(*l);
}

void Shard::OnHigh(Link& dst) {
  // A link that does not read what we send it is not read either: what it sends may make the relay answer (PONG,
  // refusals, credit), and its frames wait in its own socket, not in relay memory, until it catches up (issue 7).
  // The links that feed it keep being read: each of their sessions stops at its relay credit (protocol.md §8).
  if (!dst.self_paused) {
    dst.self_paused = true;
    Pause(dst);
  }
}

void Shard::OnLow(Link& dst) {
  if (!SendHeld(dst)) return;
  if (dst.self_paused) {
    dst.self_paused = false;
    Resume(dst);
  }
}

// Sends the frames `dst` held back; true once none is left.
bool Shard::SendHeld(Link& dst) {
  std::size_t off = 0;
  while (off < dst.held.size()) {
    auto h = HeaderOf(std::span(dst.held).subspan(off));
    const std::size_t n = tunnel::kHeaderSize + h.length;
    const link::SendStatus st = dst.tls->SendEncoded(std::span(dst.held).subspan(off, n));
    if (st == link::SendStatus::kBackpressure) break;
    if (st == link::SendStatus::kOk) {
      m_.bytes_out += n;
      if (h.type != FrameType::kSessionCredit) {  // the relay's own grants are not forwarded frames
        ++m_.frames_forwarded;
        Delivered(dst, h, n);
      }
    }
    off += n;
  }
  dst.held.erase(dst.held.begin(), dst.held.begin() + static_cast<std::ptrdiff_t>(off));
  MarkDirty(dst);
  if (!dst.held.empty()) return false;
  std::vector<std::uint8_t>().swap(dst.held);
  return true;
}

// ---- frames -----------------------------------------------------------------------------------------------

void Shard::Violation(Link& l, DropReason r) {
  Drop(r);
  if (++l.violations >= relay_->options_.max_violations && l.tls) {
    l.tls->Close(ErrorCode::kProtocolError, "too many frames the relay cannot route");
  }
}

void Shard::OnFrame(Link& l, const link::Frame& f) {
  m_.bytes_in += f.bytes.size();
  const FrameType t = f.header.type;
  const std::uint32_t ch = f.header.channel;
  const SessionTable::Verdict v = sessions_.OnFrame(Ref(l), l.connector, f.header, f.payload, f.bytes.size());
  switch (v.action) {
    case SessionTable::Action::kSessionRequest:
      return HandleSessionRequest(l, f);
    case SessionTable::Action::kRefuse:
      return Violation(l, v.drop);
    case SessionTable::Action::kCloseLink:
      Drop(v.drop);
      l.tls->Close(ErrorCode::kFlowControl, "sent past the session's relay credit");
      return;
    case SessionTable::Action::kForward:
      break;
  }
  const std::uint64_t peer = v.peer;
  if (v.refused_offer) NoteRefusedOffer(l, peer);
  const bool datagram = t == FrameType::kSealedDatagram;
  if (RefShard(peer) == index_) {
    Link* dst = Resolve(peer);
    if (dst == nullptr) {
      Drop(DropReason::kPeerGone);
    } else {
      if (DeliverTo(*dst, f.bytes, datagram) == Deliver::kBlocked) {
        dst->held.insert(dst->held.end(), f.bytes.begin(), f.bytes.end());
        MarkDirty(*dst);
      }
      if (t == FrameType::kSessionClose) RemoveLeg(*dst, ch);
    }
  } else {
    RingRecord rec;
    rec.kind = kRecordFrame;
    rec.channel = ch;
    rec.target = peer;
    rec.source = Ref(l);
    rec.length = static_cast<std::uint32_t>(f.bytes.size());
    CrossSend(RefShard(peer), rec, f.bytes, datagram, &l);
  }
  if (t == FrameType::kSessionClose) RemoveLeg(l, ch);
}

Deliver Shard::DeliverTo(Link& dst, std::span<const std::uint8_t> bytes, bool datagram) {
  if (!dst.up || !dst.tls) {
    Drop(DropReason::kPeerGone);
    return Deliver::kDropped;
  }
  if (!dst.held.empty()) {
    if (datagram) {
      Drop(DropReason::kDatagramQueueFull);
      return Deliver::kDropped;
    }
    return Deliver::kBlocked;
  }
  switch (dst.tls->SendEncoded(bytes)) {
    case link::SendStatus::kOk:
      m_.bytes_out += bytes.size();
      ++m_.frames_forwarded;
      MarkDirty(dst);
      Delivered(dst, HeaderOf(bytes), bytes.size());
      return Deliver::kSent;
    case link::SendStatus::kBackpressure:
      if (datagram) {
        Drop(DropReason::kDatagramQueueFull);
        return Deliver::kDropped;
      }
      return Deliver::kBlocked;
    default:
      Drop(DropReason::kPeerGone);
      return Deliver::kDropped;
  }
}

void Shard::MarkDirty(Link& l) {
  if (l.dirty) return;
  l.dirty = true;
  dirty_.push_back(Ref(l));  // sealed by FlushDirty at the end of this loop iteration (OnBatchEnd)
}
void Shard::OnBatchEnd(runtime::EventLoop& /*loop*/) { FlushDirty(); }
// Seals what this iteration's frames appended to each written link: one TLS flush per link per iteration, however
// many frames it got. Flushing can dirty links again (OnLow -> DrainRing); those are flushed in further passes.
void Shard::FlushDirty() {
  if (flushing_) return;  // nested (OnLow -> DrainRing -> FlushDirty): the outer call's next pass takes it
  flushing_ = true;
  std::vector<std::uint64_t> dirty;
  for (int pass = 0; pass < kMaxFlushPasses && !dirty_.empty(); ++pass) {
    dirty.swap(dirty_);
    for (const std::uint64_t ref : dirty) {
      if (Link* l = Resolve(ref)) {
        l->dirty = false;
        if (l->tls) l->tls->Flush();
        // Frames held back by a kBackpressure refusal wait for OnSendQueueLow; if the link never crossed the
        // loop's high watermark (its backlog was all pending plaintext), no Low comes: retry here.
        if (l->tls && !l->held.empty() && !l->tls->send_high()) OnLow(*l);
      }
    }
    dirty.clear();
    if (dirty_.empty()) dirty_.swap(dirty);  // keep the capacity
  }
  flushing_ = false;
  // Still dirty after the passes: a zero timer ends the next wait at once, so the next iteration flushes them.
  if (!dirty_.empty() && !flush_timer_.valid()) {
    flush_timer_ = loop_->AddTimer(std::chrono::nanoseconds(0), this, kTimerFlush);
  }
}

// A relay-made frame (SESSION_CLOSE for a gone peer) to `target`, anywhere. Never dropped for lack of room.
void Shard::RouteControl(std::uint64_t target, const std::vector<std::uint8_t>& frame) {
  auto h = HeaderOf(frame);
  const std::uint32_t ch = h.channel;
  if (RefShard(target) == index_) {
    Link* dst = Resolve(target);
    if (dst == nullptr) return;
    if (DeliverTo(*dst, frame, false) == Deliver::kBlocked) {
      dst->held.insert(dst->held.end(), frame.begin(), frame.end());
    }
    if (h.type == FrameType::kSessionClose) RemoveLeg(*dst, ch);
    return;
  }
  RingRecord rec;
  rec.kind = kRecordFrame;
  rec.channel = ch;
  rec.target = target;
  rec.length = static_cast<std::uint32_t>(frame.size());
  CrossSend(RefShard(target), rec, frame, false, nullptr);
}

void Shard::RemoveLeg(Link& l, std::uint32_t ch) {
  if (!sessions_.Remove(ch, l.connector, Ref(l))) return;
  std::erase(l.channels, ch);
  if (l.connector) {
    relay_->registry_->Release(Ref(l));
  } else {
    --m_.sessions;
    ++m_.sessions_closed;
    Log(logging::Event(logging::Level::kInfo, "session_down").With("id", ch).With("device", l.subject));
  }
}

// ---- relay credit -----------------------------------------------------------------------------------------

void Shard::Delivered(Link& dst, const tunnel::FrameHeader& h, std::size_t frame_bytes) {
  if (auto due = sessions_.Delivered(Ref(dst), dst.connector, h, frame_bytes)) {
    ReturnCredit(due->to, due->channel, due->amount);
  }
}

void Shard::ReturnCredit(std::uint64_t src, std::uint32_t ch, std::uint32_t amount) {
  if (RefShard(src) == index_) {
    if (Link* l = Resolve(src)) CreditLeg(*l, ch, amount);
    return;
  }
  RingRecord rec;
  rec.kind = kRecordCredit;
  rec.channel = ch;
  rec.target = src;
  rec.source = amount;
  rec.length = 0;
  CrossSend(RefShard(src), rec, {}, false, nullptr);
}

void Shard::CreditLeg(Link& src, std::uint32_t ch, std::uint32_t amount) {
  if (!sessions_.Credited(Ref(src), src.connector, ch, amount)) return;  // the session is gone
  std::array<std::uint8_t, tunnel::kHeaderSize + 4> frame{};
  (void)tunnel::EncodeFrameHeader({tunnel::kFramingVersion, FrameType::kSessionCredit, 0, 4, ch}, frame);
  (void)tunnel::SessionCredit{amount}.Encode(std::span(frame).subspan(tunnel::kHeaderSize));
  if (!src.up || !src.tls) return;
  // Never dropped: a lost grant would stall the session for good. Held behind what src has not taken yet. Not a
  // forwarded frame (DeliverTo would count it as one and look for credit to return on it).
  if (!src.held.empty() || src.tls->SendEncoded(frame) != link::SendStatus::kOk) {
    src.held.insert(src.held.end(), frame.begin(), frame.end());
  } else {
    m_.bytes_out += frame.size();
  }
  MarkDirty(src);
  ++m_.credit_frames;
}

// ---- cross-shard rings ------------------------------------------------------------------------------------

void Shard::CrossSend(std::uint32_t shard, const RingRecord& rec, std::span<const std::uint8_t> bytes,
                      bool datagram, Link* src) {
  SpscRing& ring = RingTo(shard);
  Out& out = out_[shard];
  if (out.stash.empty() && ring.Write(rec, bytes)) {
    ++m_.frames_cross_shard;
    Doorbell(shard);
    return;
  }
  if (datagram) {
    Drop(DropReason::kDatagramQueueFull);
    return;
  }
  const auto* hb = reinterpret_cast<const std::uint8_t*>(&rec);
  out.stash.insert(out.stash.end(), hb, hb + sizeof rec);
  out.stash.insert(out.stash.end(), bytes.begin(), bytes.end());
  if (src != nullptr) {
    Pause(*src);
    out.paused.push_back(Ref(*src));
  }
  ring.want_space.store(true, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  FlushStash(shard);
}

void Shard::FlushStash(std::uint32_t shard) {
  SpscRing& ring = RingTo(shard);
  Out& out = out_[shard];
  std::size_t off = 0;
  while (off < out.stash.size()) {
    RingRecord rec;
    std::memcpy(&rec, out.stash.data() + off, sizeof rec);
    if (!ring.Write(rec, std::span(out.stash).subspan(off + sizeof rec, rec.length))) break;
    ++m_.frames_cross_shard;
    off += sizeof rec + rec.length;
  }
  if (off > 0) {
    out.stash.erase(out.stash.begin(), out.stash.begin() + static_cast<std::ptrdiff_t>(off));
    Doorbell(shard);
  }
  if (!out.stash.empty()) {
    ring.want_space.store(true, std::memory_order_seq_cst);
    return;
  }
  std::vector<std::uint8_t>().swap(out.stash);
  std::vector<std::uint64_t> paused;
  paused.swap(out.paused);
  for (const std::uint64_t p : paused) ResumeRef(p);
}

void Shard::Doorbell(std::uint32_t shard) {
  SpscRing& ring = RingTo(shard);
  if (ring.doorbell.exchange(true, std::memory_order_acq_rel)) return;
  if (!loop_->PostTo(group_->loop(shard), {kDoorbell, -1, index_, 0})) {
    ring.doorbell.store(false, std::memory_order_release);
    if (!doorbell_retry_) {
      doorbell_retry_ = loop_->AddTimer(std::chrono::milliseconds(1), this, kTimerDoorbellRetry).valid();
    }
  }
}

void Shard::DrainRing(std::uint32_t src) {
  SpscRing& ring = *in_[src];
  ring.doorbell.store(false, std::memory_order_release);
  std::uint32_t n = 0;
  RingRecord rec;
  bool more = false;
  while (ring.Peek(rec, scratch_)) {
    if (n++ >= relay_->options_.cross_shard_batch) {
      more = true;
      break;
    }
    if (rec.kind == kRecordAddLeg) {
      ring.Commit();
      AddConnectorLeg(rec.target, rec.channel, rec.source);
      continue;
    }
    if (rec.kind == kRecordCloseLink) {
      ring.Commit();
      CloseReplaced(rec.target);
      continue;
    }
    if (rec.kind == kRecordCredit) {
      ring.Commit();
      if (Link* l = Resolve(rec.target)) CreditLeg(*l, rec.channel, static_cast<std::uint32_t>(rec.source));
      continue;
    }
    const std::span<const std::uint8_t> bytes(scratch_.data(), rec.length);
    auto h = HeaderOf(bytes);
    Link* dst = Resolve(rec.target);
    if (dst == nullptr) {
      ring.Commit();
      if (h.type != FrameType::kSessionClose) Drop(DropReason::kPeerGone);
      continue;
    }
    // A link that cannot take it now holds it (bounded by the session's relay credit): the ring never waits for one
    // link, so one slow device does not stall the sessions of others between the same two shards.
    if (DeliverTo(*dst, bytes, h.type == FrameType::kSealedDatagram) == Deliver::kBlocked) {
      dst->held.insert(dst->held.end(), bytes.begin(), bytes.end());
      MarkDirty(*dst);
    }
    ring.Commit();
    if (h.type == FrameType::kSessionClose) RemoveLeg(*dst, rec.channel);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (ring.want_space.exchange(false, std::memory_order_seq_cst)) {
    if (!loop_->PostTo(group_->loop(src), {kSpace, -1, index_, 0})) ring.want_space.store(true);
  }
  if (more && !ring.doorbell.exchange(true)) {
    if (!loop_->Post({kDoorbell, -1, src, 0})) ring.doorbell.store(false);
  }
}

}  // namespace strait::relay
