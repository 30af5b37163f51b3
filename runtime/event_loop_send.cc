// EventLoop: the send path, shutdown and close. The loop's other parts are in event_loop.cc; shared internals in event_loop_internal.h.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

#include "runtime/event_loop_internal.h"

namespace strait::runtime {

// Send

void EventLoop::QueuePush(std::uint32_t& head, std::uint32_t& tail, BufRef ref) {
  PoolOf(ref).next(IdOf(ref)) = kNilBufRef;
  if (tail == kNilBufRef) {
    head = ref;
  } else {
    PoolOf(tail).next(IdOf(tail)) = ref;
  }
  tail = ref;
}

void EventLoop::ReleaseQueue(std::uint32_t& head, std::uint32_t& tail) {
  while (head != kNilBufRef) {
    const BufRef ref = head;
    BufferPool& pool = PoolOf(ref);
    head = pool.next(IdOf(ref));
    pool.Release(IdOf(ref));
  }
  tail = kNilBufRef;
}

SendResult EventLoop::Send(ConnId id, Buffer&& data) {
  Conn* c = Lookup(id);
  if (c == nullptr || (c->state != State::kOpen && c->state != State::kConnecting) || c->shutdown_requested) {
    return SendResult::kClosed;
  }
  assert(!data || data.pool() == recv_pool_.get() || data.pool() == plain_pool_.get());
  const std::size_t size = data.size();
  if (size == 0) {
    data.reset();
    return SendResult::kQueued;
  }
  if (c->send_bytes + size > options_.send_queue_limit) {
    ++stats_.send_queue_full;
    return SendResult::kQueueFull;
  }
  QueuePush(c->send_head, c->send_tail, data.Detach());
  c->send_bytes += static_cast<std::uint32_t>(size);
  if (c->state == State::kOpen) ScheduleKick(*c);
  if (!c->above_high && c->send_bytes >= options_.send_high_watermark) {
    c->above_high = true;
    c->handler->OnSendQueueHigh(*this, id);
  }
  return SendResult::kQueued;
}

SendResult EventLoop::Send(ConnId id, std::span<const std::uint8_t> bytes) {
  Conn* c = Lookup(id);
  if (c == nullptr || (c->state != State::kOpen && c->state != State::kConnecting) || c->shutdown_requested) {
    return SendResult::kClosed;
  }
  if (c->send_bytes + bytes.size() > options_.send_queue_limit) {
    ++stats_.send_queue_full;
    return SendResult::kQueueFull;
  }
  const std::size_t cap = plain_pool_->capacity();
  const std::size_t needed = (bytes.size() + cap - 1) / cap;
  if (needed > plain_pool_->available()) return SendResult::kNoBuffer;
  while (!bytes.empty()) {
    Buffer b = plain_pool_->Allocate();
    const std::size_t n = std::min(cap, bytes.size());
    std::copy_n(bytes.data(), n, b.tailroom().data());
    b.Commit(n);
    bytes = bytes.subspan(n);
    const SendResult r = Send(id, std::move(b));
    assert(r == SendResult::kQueued);
    (void)r;
  }
  return SendResult::kQueued;
}

void EventLoop::ScheduleKick(Conn& c) {
  // A send in flight kicks again from its completion; an empty queue has nothing to kick.
  if (c.kick_scheduled || c.send_inflight || c.send_head == kNilBufRef) return;
  c.kick_scheduled = true;
  kicks_.push_back(IdOf(c));
}

void EventLoop::KickSend(Conn& c) {
  if (c.send_inflight || c.send_head == kNilBufRef) return;
  if (c.state != State::kOpen && c.state != State::kDraining) return;
  const BufRef ref = c.send_head;
  BufferPool& pool = PoolOf(ref);
  const std::uint32_t bid = IdOf(ref);
  const std::uint8_t* ptr = pool.base(bid) + pool.offset(bid);
  const std::uint32_t len = pool.length(bid);
  io_uring_sqe* sqe = ring_->GetSqe();
  const std::uint32_t s = IdOf(c).slot;
  c.send_inflight_bufs = 1;
  if (use_send_zc_ && len >= options_.send_zc_threshold) {
    io_uring_prep_send_zc(sqe, c.fd, ptr, len, MSG_NOSIGNAL, 0);
    io_uring_sqe_set_data64(sqe, PackUserData(Op::kSendZc, s, ZcAux(ref)));
    pool.Pin(bid);  // until the notification: the kernel reads the pages after the result CQE
    ++stats_.sends_zc;
  } else if (send_iov_ && pool.next(bid) != kNilBufRef) {
    // Coalesce: one SENDMSG over the first send_max_iov queued buffers, in queue order. The iovec and msghdr live
    // in this slot's storage until the CQE (only one send per connection is in flight).
    const std::uint32_t max_iov = options_.send_max_iov;
    iovec* iov = &send_iov_[static_cast<std::size_t>(s) * max_iov];
    std::uint32_t n = 0;
    for (BufRef r = ref; r != kNilBufRef && n < max_iov; r = PoolOf(r).next(IdOf(r))) {
      BufferPool& p = PoolOf(r);
      const std::uint32_t b = IdOf(r);
      iov[n].iov_base = p.base(b) + p.offset(b);
      iov[n].iov_len = p.length(b);
      ++n;
    }
    msghdr& m = send_msg_[s];
    m = msghdr{};
    m.msg_iov = iov;
    m.msg_iovlen = n;
    io_uring_prep_sendmsg(sqe, c.fd, &m, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, PackUserData(Op::kSend, s, GenerationTag(c.gen)));
    c.send_inflight_bufs = n;
    ++stats_.sends_coalesced;
  } else {
    io_uring_prep_send(sqe, c.fd, ptr, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, PackUserData(Op::kSend, s, GenerationTag(c.gen)));
  }
  ++stats_.sends;
  stats_.send_buffers += c.send_inflight_bufs;
  c.send_inflight = true;
  ++c.inflight;
}

void EventLoop::OnSendCqe(const io_uring_cqe* cqe, Conn& c) {
  --c.inflight;
  c.send_inflight = false;
  OnSendResult(c, cqe->res);
}

void EventLoop::OnSendZcCqe(const io_uring_cqe* cqe, std::uint32_t slot, BufRef ref) {
  // No generation check: the slot cannot be reused while this op counts in its in-flight total.
  assert(slot < conns_.size() && conns_[slot].state != State::kFree);
  Conn& c = conns_[slot];
  BufferPool& pool = PoolOf(ref);
  if ((cqe->flags & IORING_CQE_F_NOTIF) != 0) {
    pool.Unpin(IdOf(ref));
    --c.inflight;
    MaybeFinishClose(c);
    return;
  }
  c.send_inflight = false;
  if ((cqe->flags & IORING_CQE_F_MORE) == 0) {  // no notification will follow
    pool.Unpin(IdOf(ref));
    --c.inflight;
  }
  OnSendResult(c, cqe->res);
}

void EventLoop::OnSendResult(Conn& c, int res) {
  if (c.state == State::kClosing || c.state == State::kCloseSubmitted) {
    ReleaseQueue(c.send_head, c.send_tail);  // the head was kept while the kernel could read it
    MaybeFinishClose(c);
    return;
  }
  if (res < 0) {
    if (res != -ECANCELED) StartClose(c, ReasonForErrno(-res), -res);
    ReleaseQueue(c.send_head, c.send_tail);
    MaybeFinishClose(c);
    return;
  }
  stats_.send_bytes += static_cast<std::uint64_t>(res);
  auto sent = static_cast<std::uint32_t>(res);
  c.moved += sent;
  c.send_bytes -= std::min(sent, c.send_bytes);
  // Release the buffers the send covered completely, in order; a partly sent one keeps its unsent tail at the head.
  for (std::uint32_t i = 0; i < c.send_inflight_bufs && c.send_head != kNilBufRef; ++i) {
    const BufRef ref = c.send_head;
    BufferPool& pool = PoolOf(ref);
    const std::uint32_t bid = IdOf(ref);
    const std::uint32_t len = pool.length(bid);
    if (sent < len) {
      pool.SetRange(bid, pool.offset(bid) + sent, len - sent);  // partial: send the rest next
      ++stats_.sends_partial;
      break;
    }
    sent -= len;
    c.send_head = pool.next(bid);
    if (c.send_head == kNilBufRef) c.send_tail = kNilBufRef;
    pool.Release(bid);
  }
  c.send_inflight_bufs = 0;
  if (c.above_high && c.send_bytes <= options_.send_low_watermark) {
    c.above_high = false;
    c.handler->OnSendQueueLow(*this, IdOf(c));
  }
  AfterSendProgress(c);
}

void EventLoop::AfterSendProgress(Conn& c) {
  if (c.state != State::kOpen && c.state != State::kDraining) return;
  ScheduleKick(c);
  if (c.send_head == kNilBufRef && !c.send_inflight && c.shutdown_requested && !c.shutdown_inflight &&
      !c.shutdown_done) {
    SubmitShutdown(c);
  }
}

void EventLoop::ShutdownWrite(ConnId id) {
  Conn* c = Lookup(id);
  if (c == nullptr || c->shutdown_requested) return;
  if (c->state != State::kOpen && c->state != State::kConnecting) return;
  c->shutdown_requested = true;
  AfterSendProgress(*c);
}

void EventLoop::SubmitShutdown(Conn& c) {
  c.shutdown_inflight = true;
  if (!ring_->features().shutdown) {
    ::shutdown(c.fd, SHUT_WR);
    c.shutdown_inflight = false;
    c.shutdown_done = true;
    if (c.state == State::kDraining) StartClose(c, CloseReason::kLocal, 0);
    return;
  }
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_shutdown(sqe, c.fd, SHUT_WR);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kShutdown, IdOf(c).slot, GenerationTag(c.gen)));
  ++c.inflight;
}

void EventLoop::OnShutdownCqe(const io_uring_cqe* /*cqe*/, Conn& c) {
  --c.inflight;
  c.shutdown_inflight = false;
  c.shutdown_done = true;  // an error (ENOTCONN after a reset) means there is nothing left to shut down either
  if (c.state == State::kDraining) StartClose(c, CloseReason::kLocal, 0);
  MaybeFinishClose(c);
}

// ---------------------------------------------------------------------------------------------------------------
// Close

void EventLoop::Close(ConnId id, CloseMode mode) {
  Conn* c = Lookup(id);
  if (c == nullptr) return;
  if (c->state != State::kOpen && c->state != State::kConnecting && c->state != State::kDraining) return;
  if (mode == CloseMode::kAbort || c->state == State::kConnecting) {
    StartClose(*c, CloseReason::kLocal, 0);
    return;
  }
  if (c->state == State::kDraining) return;
  c->state = State::kDraining;
  Unstarve(*c);
  CancelRecv(*c);
  ReleaseQueue(c->held_head, c->held_tail);
  c->eof_pending = false;
  c->close_timer = AddTimer(options_.graceful_close_timeout, this,
                            (static_cast<std::uint64_t>(c->gen & 0x7fffffffu) << 32) | id.slot);
  if (c->shutdown_done) {
    StartClose(*c, CloseReason::kLocal, 0);
    return;
  }
  c->shutdown_requested = true;
  AfterSendProgress(*c);
}

void EventLoop::StartClose(Conn& c, CloseReason reason, int err) {
  if (c.state == State::kFree || c.state == State::kClosing || c.state == State::kCloseSubmitted) return;
  c.state = State::kClosing;
  c.close_reason = reason;
  c.close_err = err;
  if (c.close_timer.valid()) {
    timers_.Cancel(c.close_timer);
    c.close_timer = TimerId{};
  }
  Unstarve(c);
  ReleaseQueue(c.held_head, c.held_tail);
  // Queued bytes are dropped, except the buffers the kernel may be reading right now (the first send_inflight_bufs
  // of the queue; released at the send's CQE).
  if (c.send_inflight && c.send_head != kNilBufRef) {
    BufRef last = c.send_head;
    for (std::uint32_t i = 1; i < c.send_inflight_bufs && PoolOf(last).next(IdOf(last)) != kNilBufRef; ++i) {
      last = PoolOf(last).next(IdOf(last));
    }
    BufferPool& pool = PoolOf(last);
    std::uint32_t rest = pool.next(IdOf(last));
    std::uint32_t rest_tail = c.send_tail;
    pool.next(IdOf(last)) = kNilBufRef;
    c.send_tail = last;
    if (rest != kNilBufRef) ReleaseQueue(rest, rest_tail);
  } else {
    ReleaseQueue(c.send_head, c.send_tail);
  }
  c.send_bytes = 0;
  if (c.inflight > 0) {
    const std::uint32_t s = IdOf(c).slot;
    const std::uint32_t g = GenerationTag(c.gen);
    io_uring_sqe* sqe = ring_->GetSqe();
    if (ring_->features().cancel_fd) {
      io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, PackUserData(Op::kCancel, s, g));
      ++c.inflight;
    } else {
      // Old kernels: cancel by key, one op kind at a time (sends in flight finish on their own).
      const Op ops[] = {Op::kRecv, Op::kConnect, Op::kSend, Op::kShutdown};
      bool first = true;
      for (Op op : ops) {
        if (!first) sqe = ring_->GetSqe();
        first = false;
        io_uring_prep_cancel64(sqe, PackUserData(op, s, g), 0);
        io_uring_sqe_set_data64(sqe, PackUserData(Op::kCancel, s, g));
        ++c.inflight;
      }
    }
  }
  MaybeFinishClose(c);
}

void EventLoop::MaybeFinishClose(Conn& c) {
  if (c.state != State::kClosing || c.inflight > 0) return;
  assert(c.send_head == kNilBufRef && c.held_head == kNilBufRef && c.recv_buf == kNilBufRef);
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_close(sqe, c.fd);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kClose, IdOf(c).slot, GenerationTag(c.gen)));
  ++c.inflight;
  c.state = State::kCloseSubmitted;
}

void EventLoop::OnCloseCqe(Conn& c) {
  --c.inflight;
  FinishClose(c);
}

void EventLoop::FinishClose(Conn& c) {
  ConnectionHandler* handler = c.handler;
  const ConnId id = IdOf(c);
  const CloseReason reason = c.close_reason;
  const int err = c.close_err;
  Unstarve(c);
  c.state = State::kFree;
  c.fd = -1;
  c.handler = nullptr;
  ++c.gen;
  c.next_free = free_conn_head_;
  free_conn_head_ = id.slot;
  --open_connections_;
  ++stats_.closed;
  handler->OnClose(*this, id, reason, err);
}

}  // namespace strait::runtime
