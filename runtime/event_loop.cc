#include "runtime/event_loop.h"

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <ctime>

#include "runtime/event_loop_internal.h"
#include "runtime/user_data.h"

namespace strait::runtime {

const char* ToString(CloseReason r) {
  switch (r) {
    case CloseReason::kLocal: return "local";
    case CloseReason::kPeerReset: return "peer-reset";
    case CloseReason::kError: return "error";
    case CloseReason::kConnectFailed: return "connect-failed";
    case CloseReason::kTimeout: return "timeout";
    case CloseReason::kShutdown: return "shutdown";
  }
  return "?";
}

EventLoop::EventLoop(const LoopOptions& options)
    : options_(options),
      timers_(options.max_timers),
      free_conn_head_(kNone),
      starved_head_(kNone),
      starved_tail_(kNone),
      mailbox_(options.mailbox_capacity) {}

SetupResult<std::unique_ptr<EventLoop>> EventLoop::Create(const LoopOptions& options) {
  if (options.send_low_watermark > options.send_high_watermark ||
      options.send_high_watermark > options.send_queue_limit || options.max_connections == 0 ||
      options.max_connections >= kNone || options.send_max_iov == 0 || options.send_max_iov > 1024) {
    return SetupError{EINVAL,
                      "loop options: need low <= high <= send_queue_limit, 0 < max_connections and "
                      "1 <= send_max_iov <= 1024"};
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(options));
  auto ok = loop->Init();
  if (!ok) return ok.error();
  return loop;
}

SetupResult<bool> EventLoop::Init() {
  auto ring = Ring::Create(options_.ring);
  if (!ring) return ring.error();
  ring_ = std::move(ring.value());
  const Features& f = ring_->features();

  auto rp = BufferPool::Create(BufferPool::Kind::kProvided, 0, options_.recv_buffer_count, options_.buffer_size,
                               options_.buffer_headroom);
  if (!rp) return rp.error();
  recv_pool_ = std::move(rp.value());
  auto pp = BufferPool::Create(BufferPool::Kind::kPlain, 1, options_.plain_buffer_count, options_.buffer_size,
                               options_.buffer_headroom);
  if (!pp) return pp.error();
  plain_pool_ = std::move(pp.value());
  if (f.buf_ring) {
    auto attached = recv_pool_->AttachRing(ring_->raw(), options_.buffer_group_id);
    if (!attached) return attached.error();
  }
  use_multishot_recv_ = f.multishot_recv && f.buf_ring;
  use_multishot_accept_ = f.multishot_accept;
  use_send_zc_ = f.send_zc && options_.send_zc_threshold > 0;
  use_msg_ring_ = f.msg_ring;
  cqe_skip_ = (ring_->raw()->features & IORING_FEAT_CQE_SKIP) != 0;
  if (!f.close) return SetupError{ENOSYS, "kernel lacks IORING_OP_CLOSE"};

  conns_.resize(options_.max_connections);
  for (std::uint32_t i = options_.max_connections; i-- > 0;) {
    conns_[i].next_free = free_conn_head_;
    free_conn_head_ = i;
  }
  listeners_.resize(options_.max_listeners);
  watches_.resize(options_.max_watches);
  if (options_.send_max_iov > 1) {
    // Default-initialised (not zeroed): large arrays come from untouched mmap pages, so idle slots cost no RSS.
    send_iov_.reset(new iovec[static_cast<std::size_t>(options_.max_connections) * options_.send_max_iov]);
    send_msg_.reset(new msghdr[options_.max_connections]);
  }
  peers_.reserve(options_.max_peer_loops);
  kicks_.reserve(options_.max_connections);

  wake_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking on purpose: io_uring polls it; O_NONBLOCK would give EAGAIN
  if (wake_fd_ < 0) return SetupError{errno, "eventfd failed"};
  return true;
}

EventLoop::~EventLoop() {
  stopping_ = true;
  accepting_messages_.store(false);
  DrainMailbox();  // closes fds of undelivered messages
  for (Conn& c : conns_) {
    if (c.state != State::kFree && c.fd >= 0) close(c.fd);
  }
  for (Listener& l : listeners_) {
    if (l.in_use && l.fd >= 0) close(l.fd);
  }
  // The pools unregister their ring while the io_uring is alive; then the ring goes (cancelling what is left).
  recv_pool_.reset();
  plain_pool_.reset();
  ring_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

std::int64_t EventLoop::NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// ---------------------------------------------------------------------------------------------------------------
// Run loop

void EventLoop::Run() {
  assert(!ran_);
  ran_ = true;
  ArmWake();
  watchdog_.loop = this;
  if (options_.watchdog_interval.count() > 0) (void)AddTimer(options_.watchdog_interval, &watchdog_);
  DrainMailbox();  // messages posted before Run started
  while (!stop_requested_.load(std::memory_order_acquire)) {
    RunBatchEnd();
    RearmStarved();
    recv_pool_->Publish();
    __kernel_timespec ts{};
    __kernel_timespec* tsp = nullptr;
    if (!timers_.empty()) {
      const std::int64_t delta = std::max<std::int64_t>(0, timers_.next_deadline() - NowNs());
      ts.tv_sec = delta / 1'000'000'000;
      ts.tv_nsec = delta % 1'000'000'000;
      tsp = &ts;
    }
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_->raw(), &cqe, 1, tsp, nullptr);  // -ETIME / -EINTR are normal
    ProcessBatch();
    RunTimers();
  }
  Shutdown();
}

void EventLoop::AddBatchHandler(BatchHandler* handler) { batch_handlers_.push_back(handler); }

void EventLoop::RemoveBatchHandler(BatchHandler* handler) {
  // Null the entry instead of erasing, so a removal from inside OnBatchEnd does not disturb the iteration.
  std::replace(batch_handlers_.begin(), batch_handlers_.end(), handler, static_cast<BatchHandler*>(nullptr));
}

void EventLoop::RunBatchEnd() {
  // Indexing, not iterators: a handler may add another handler.
  for (std::size_t i = 0; i < batch_handlers_.size(); ++i) {
    if (batch_handlers_[i] != nullptr) batch_handlers_[i]->OnBatchEnd(*this);
  }
  std::erase(batch_handlers_, nullptr);
  // Kicking cannot schedule more kicks (KickSend marks the send in flight), so one pass empties the list.
  for (const ConnId id : kicks_) {
    Conn* c = Lookup(id);
    if (c == nullptr || !c->kick_scheduled) continue;
    c->kick_scheduled = false;
    KickSend(*c);
  }
  kicks_.clear();
}

void EventLoop::RequestStop() {
  stop_requested_.store(true, std::memory_order_release);
  WakeByEventfd();
}

void EventLoop::WakeByEventfd() {
  const std::uint64_t one = 1;
  // A failed write can only mean the counter is saturated, i.e. the loop is already being woken.
  [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::Shutdown() {
  stopping_ = true;
  accepting_messages_.store(false);
  DrainMailbox();
  for (std::uint32_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i].in_use) CloseListener(ListenerId{i, listeners_[i].gen});
  }
  for (Conn& c : conns_) {
    if (c.state == State::kConnecting || c.state == State::kOpen || c.state == State::kDraining) {
      StartClose(c, CloseReason::kShutdown, 0);
    }
  }
  auto busy = [this] {
    if (open_connections_ > 0) return true;
    return std::any_of(listeners_.begin(), listeners_.end(), [](const Listener& l) { return l.in_use; });
  };
  const std::int64_t deadline =
      NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(options_.shutdown_timeout).count();
  while (busy()) {
    const std::int64_t left = deadline - NowNs();
    if (left <= 0) break;
    RunBatchEnd();
    recv_pool_->Publish();
    __kernel_timespec ts{left / 1'000'000'000, left % 1'000'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_->raw(), &cqe, 1, &ts, nullptr);
    ProcessBatch();
  }
  // Whatever did not finish in time is closed synchronously; the kernel cancels its requests at ring exit.
  for (Conn& c : conns_) {
    if (c.state != State::kFree) {
      if (c.state != State::kCloseSubmitted) close(c.fd);
      c.fd = -1;
      c.inflight = 0;
      c.send_head = c.send_tail = kNilBufRef;  // the kernel may still reference these; leak them to ring exit
      c.held_head = c.held_tail = kNilBufRef;
      c.recv_buf = kNilBufRef;
      FinishClose(c);
    }
  }
  for (Listener& l : listeners_) {
    if (l.in_use) {
      close(l.fd);
      l = Listener{};
    }
  }
  DrainMailbox();
}

void EventLoop::ProcessBatch() {
  io_uring* ring = ring_->raw();
  unsigned head = 0;
  unsigned n = 0;
  io_uring_cqe* cqe = nullptr;
  io_uring_for_each_cqe(ring, head, cqe) {
    ++n;
    const UserData ud = UnpackUserData(cqe->user_data);
    switch (ud.op) {
      case Op::kAccept:
        OnAcceptCqe(cqe, ud.slot);
        break;
      case Op::kRecv:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) OnRecvCqe(cqe, *c);
        break;
      case Op::kSend:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) OnSendCqe(cqe, *c);
        break;
      case Op::kSendZc:
        OnSendZcCqe(cqe, ud.slot, ZcRef(ud.aux));
        break;
      case Op::kConnect:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) OnConnectCqe(cqe, *c);
        break;
      case Op::kShutdown:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) OnShutdownCqe(cqe, *c);
        break;
      case Op::kClose:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) OnCloseCqe(*c);
        break;
      case Op::kCancel:
        if (Conn* c = ConnForCqe(ud.slot, ud.aux)) {
          --c->inflight;
          MaybeFinishClose(*c);
        }
        break;
      case Op::kListenerClose:
        if (ud.slot < listeners_.size() && listeners_[ud.slot].in_use &&
            GenerationTag(listeners_[ud.slot].gen) == ud.aux) {
          --listeners_[ud.slot].inflight;
          MaybeFinishListener(ud.slot);
        } else {
          ++stats_.stale_cqes;
        }
        break;
      case Op::kWake:
        wake_armed_ = false;
        DrainMailbox();
        if (!stopping_) ArmWake();
        break;
      case Op::kMsgRing:
        DrainMailbox();
        break;
      case Op::kWatch:
        OnWatchCqe(cqe, ud.slot, ud.aux);
        break;
      case Op::kMsgRingSent:
        // Only failures arrive when CQE_SKIP works; a failed doorbell falls back to the target's eventfd.
        if (cqe->res < 0 && ud.slot < peers_.size()) {
          ++stats_.msg_ring_failures;
          peers_[ud.slot]->WakeByEventfd();
        }
        break;
      case Op::kNone:
        break;
    }
    if (n >= options_.max_cqes_per_batch) break;
  }
  io_uring_cq_advance(ring, n);
  if (n > 0) {
    ++stats_.batches;
    stats_.cqes += n;
  }
}

void EventLoop::RunTimers() {
  if (timers_.empty()) return;
  const std::int64_t now = NowNs();
  // Only timers present at entry: a handler that re-adds a zero-delay timer cannot starve the loop.
  std::uint32_t budget = timers_.size();
  TimerHeap::Fired f{};
  while (budget-- > 0 && timers_.PopExpired(now, f)) {
    ++stats_.timers_fired;
    f.handler->OnTimer(*this, f.id, f.arg);
  }
}

TimerId EventLoop::AddTimer(std::chrono::nanoseconds delay, TimerHandler* handler, std::uint64_t arg) {
  return timers_.Add(NowNs() + std::max<std::int64_t>(0, delay.count()), handler, arg);
}

void EventLoop::OnTimer(EventLoop& /*loop*/, TimerId /*id*/, std::uint64_t arg) {
  const auto slot = static_cast<std::uint32_t>(arg & 0xffffffffu);
  const auto gen = static_cast<std::uint32_t>((arg >> 32) & 0x7fffffffu);
  if ((arg & kListenerTimerBit) != 0) {
    if (slot < listeners_.size() && listeners_[slot].in_use && (listeners_[slot].gen & 0x7fffffffu) == gen) {
      listeners_[slot].retry = TimerId{};
      ArmAccept(slot);
    }
    return;
  }
  Conn* c = Lookup(ConnId{slot, gen});
  if (c != nullptr && c->state == State::kDraining) {
    c->close_timer = TimerId{};
    StartClose(*c, CloseReason::kTimeout, 0);
  }
}

void EventLoop::WatchdogTick() {
  for (Conn& c : conns_) {
    if (!c.watched || c.state != State::kOpen) continue;
    const bool work = c.send_bytes > 0 || c.starved;
    if (work && c.wd_work && c.moved == c.wd_moved) ++stats_.stalls;
    c.wd_work = work;
    c.wd_moved = c.moved;
  }
  if (!stopping_) (void)AddTimer(options_.watchdog_interval, &watchdog_);
}

void EventLoop::Watch(ConnId id) {
  if (Conn* c = Lookup(id)) c->watched = true;
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

bool EventLoop::Post(const Message& msg) {
  if (!accepting_messages_.load(std::memory_order_acquire) || !mailbox_.TryPush(msg)) {
    post_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  RingDoorbell(nullptr);
  return true;
}

bool EventLoop::PostTo(EventLoop& target, const Message& msg) {
  if (!target.accepting_messages_.load(std::memory_order_acquire) || !target.mailbox_.TryPush(msg)) {
    target.post_failures_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  target.RingDoorbell(this);
  return true;
}

// Called on the target (this) by a sender; `sender` is the sending loop when the caller runs on a loop thread.
void EventLoop::RingDoorbell(EventLoop* sender) {
  // One doorbell in flight is enough: the target clears the flag before it drains, so a message pushed after the
  // drain started either gets drained now or sees the cleared flag and rings again.
  if (doorbell_pending_.exchange(true, std::memory_order_seq_cst)) return;
  if (sender == nullptr || !sender->use_msg_ring_ || sender == this) {
    WakeByEventfd();
    return;
  }
  std::uint32_t peer = kNone;
  for (std::uint32_t i = 0; i < sender->peers_.size(); ++i) {
    if (sender->peers_[i] == this) peer = i;
  }
  if (peer == kNone) {
    if (sender->peers_.size() >= sender->options_.max_peer_loops) {
      WakeByEventfd();
      return;
    }
    peer = static_cast<std::uint32_t>(sender->peers_.size());
    sender->peers_.push_back(this);  // capacity reserved at Create: no allocation
  }
  io_uring_sqe* sqe = sender->ring_->GetSqe();
  io_uring_prep_msg_ring(sqe, ring_->fd(), 0, PackUserData(Op::kMsgRing, 0, 0), 0);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kMsgRingSent, peer, 0));
  if (sender->cqe_skip_) sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void EventLoop::ArmWake() {
  if (wake_armed_) return;
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kWake, 0, 0));
  wake_armed_ = true;
}

void EventLoop::DrainMailbox() {
  doorbell_pending_.store(false, std::memory_order_seq_cst);
  Message m;
  while (mailbox_.TryPop(m)) {
    ++stats_.messages;
    if (stopping_ || message_handler_ == nullptr) {
      if (m.fd >= 0) close(m.fd);
      continue;
    }
    message_handler_->OnMessage(*this, m);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Connections: lookup and slots

EventLoop::Conn* EventLoop::ConnForCqe(std::uint32_t slot, std::uint32_t aux) {
  if (slot < conns_.size()) {
    Conn& c = conns_[slot];
    if (c.state != State::kFree && GenerationTag(c.gen) == aux) return &c;
  }
  ++stats_.stale_cqes;
  return nullptr;
}

EventLoop::Conn* EventLoop::Lookup(ConnId id) {
  if (id.slot >= conns_.size()) return nullptr;
  Conn& c = conns_[id.slot];
  return (c.state != State::kFree && c.gen == id.gen) ? &c : nullptr;
}

const EventLoop::Conn* EventLoop::Lookup(ConnId id) const {
  if (id.slot >= conns_.size()) return nullptr;
  const Conn& c = conns_[id.slot];
  return (c.state != State::kFree && c.gen == id.gen) ? &c : nullptr;
}

ConnId EventLoop::IdOf(const Conn& c) const {
  return ConnId{static_cast<std::uint32_t>(&c - conns_.data()), c.gen};
}

std::uint32_t EventLoop::AllocSlot() {
  if (free_conn_head_ == kNone) return kNone;
  const std::uint32_t s = free_conn_head_;
  Conn& c = conns_[s];
  free_conn_head_ = c.next_free;
  const std::uint32_t gen = c.gen;
  c = Conn{};
  c.gen = gen;
  return s;
}

ConnId EventLoop::Adopt(int fd, ConnectionHandler* handler, std::uint64_t tag, RecvMode mode) {
  if (stopping_) return ConnId{};
  const std::uint32_t s = AllocSlot();
  if (s == kNone) {
    ++stats_.adopt_rejected;
    return ConnId{};
  }
  Conn& c = conns_[s];
  c.fd = fd;
  c.handler = handler;
  c.tag = tag;
  c.no_hold = mode == RecvMode::kNoHold;
  c.state = State::kOpen;
  ++open_connections_;
  ++stats_.adopted;
  ArmRecv(c);
  return IdOf(c);
}

ConnId EventLoop::Connect(const SocketAddress& addr, ConnectionHandler* handler, std::uint64_t tag, int* err,
                          const SocketAddress* source) {
  if (stopping_) {
    if (err) *err = ESHUTDOWN;
    return ConnId{};
  }
  if (free_conn_head_ == kNone) {
    ++stats_.adopt_rejected;
    if (err) *err = ENOSPC;
    return ConnId{};
  }
  const int fd = socket(addr.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (err) *err = errno;
    return ConnId{};
  }
  if (source != nullptr) {
    const int one = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, source->get(), source->len) != 0) {
      if (err) *err = errno;
      close(fd);
      return ConnId{};
    }
  }
  const std::uint32_t s = AllocSlot();
  Conn& c = conns_[s];
  c.fd = fd;
  c.handler = handler;
  c.tag = tag;
  c.addr = addr;
  c.state = State::kConnecting;
  ++open_connections_;
  ++stats_.connects;
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_connect(sqe, fd, c.addr.get(), c.addr.len);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kConnect, s, GenerationTag(c.gen)));
  ++c.inflight;
  return IdOf(c);
}

void EventLoop::OnConnectCqe(const io_uring_cqe* cqe, Conn& c) {
  --c.inflight;
  if (c.state != State::kConnecting) {
    MaybeFinishClose(c);
    return;
  }
  if (cqe->res < 0) {
    StartClose(c, CloseReason::kConnectFailed, -cqe->res);
    return;
  }
  c.state = State::kOpen;
  c.handler->OnConnected(*this, IdOf(c));
  if (c.state != State::kOpen) return;
  ArmRecv(c);
  AfterSendProgress(c);
}

bool EventLoop::IsOpen(ConnId id) const {
  const Conn* c = Lookup(id);
  return c != nullptr &&
         (c->state == State::kConnecting || c->state == State::kOpen || c->state == State::kDraining);
}
std::uint32_t EventLoop::SendQueueBytes(ConnId id) const {
  const Conn* c = Lookup(id);
  return c ? c->send_bytes : 0;
}
bool EventLoop::RecvPaused(ConnId id) const {
  const Conn* c = Lookup(id);
  return c != nullptr && c->paused;
}
std::uint64_t EventLoop::Tag(ConnId id) const {
  const Conn* c = Lookup(id);
  return c ? c->tag : 0;
}
void EventLoop::SetTag(ConnId id, std::uint64_t tag) {
  if (Conn* c = Lookup(id)) c->tag = tag;
}
int EventLoop::Fd(ConnId id) const {
  const Conn* c = Lookup(id);
  return c ? c->fd : -1;
}

// ---------------------------------------------------------------------------------------------------------------
// Receive

void EventLoop::ArmRecv(Conn& c) {
  if (c.recv_armed || c.paused || c.read_eof || c.starved || c.state != State::kOpen) return;
  io_uring_sqe* sqe = nullptr;
  if (use_multishot_recv_) {
    if (recv_pool_->available() == 0) {
      MarkStarved(c);
      return;
    }
    sqe = ring_->GetSqe();
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = recv_pool_->group_id();
    c.recv_multishot = true;
  } else {
    Buffer b = plain_pool_->Allocate();
    if (!b) {
      MarkStarved(c);
      return;
    }
    const std::span<std::uint8_t> room = b.tailroom();
    sqe = ring_->GetSqe();
    io_uring_prep_recv(sqe, c.fd, room.data(), room.size(), 0);
    c.recv_buf = b.Detach();
    c.recv_multishot = false;
  }
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kRecv, IdOf(c).slot, GenerationTag(c.gen)));
  c.recv_armed = true;
  ++c.inflight;
}

void EventLoop::OnRecvCqe(const io_uring_cqe* cqe, Conn& c) {
  const int res = cqe->res;
  ++stats_.recv_completions;
  Buffer buf;
  if (c.recv_multishot) {
    if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      buf = recv_pool_->AdoptReceived(cqe->flags >> IORING_CQE_BUFFER_SHIFT,
                                      static_cast<std::uint32_t>(std::max(res, 0)));
    }
  } else if (c.recv_buf != kNilBufRef) {
    buf = PoolOf(c.recv_buf).AdoptReceived(IdOf(c.recv_buf), static_cast<std::uint32_t>(std::max(res, 0)));
    c.recv_buf = kNilBufRef;
  }
  if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
    c.recv_armed = false;
    --c.inflight;
  }
  const ConnId id = IdOf(c);
  if (res > 0) {
    stats_.recv_bytes += static_cast<std::uint64_t>(res);
    c.moved += static_cast<std::uint32_t>(res);
    if (c.state == State::kOpen && buf) {
      if ((c.paused && !c.no_hold) || c.held_head != kNilBufRef) {
        QueuePush(c.held_head, c.held_tail, buf.Detach());
      } else {
        c.handler->OnData(*this, id, std::move(buf));
      }
    }
  } else if (res == 0) {
    c.read_eof = true;
    if (c.state == State::kOpen) {
      if (c.paused || c.held_head != kNilBufRef) {
        c.eof_pending = true;
      } else {
        c.handler->OnReadClosed(*this, id);
      }
    }
  } else if (res == -ENOBUFS) {
    ++stats_.recv_enobufs;
    if (c.state == State::kOpen && !c.paused) MarkStarved(c);
  } else if (res != -ECANCELED) {
    if (c.state == State::kOpen || c.state == State::kDraining) StartClose(c, ReasonForErrno(-res), -res);
  }
  // Multishot ends on ENOBUFS, CQ overflow and errors; single-shot ends every time. Re-arm unless paused/closing.
  if (c.state == State::kOpen && !c.recv_armed && !c.paused && !c.read_eof && !c.starved) {
    if (c.recv_multishot) ++stats_.recv_rearms;
    ArmRecv(c);
  }
  MaybeFinishClose(c);
}

void EventLoop::MarkStarved(Conn& c) {
  if (c.starved) return;
  c.starved = true;
  const std::uint32_t s = IdOf(c).slot;
  c.starved_prev = starved_tail_;
  c.starved_next = kNone;
  if (starved_tail_ != kNone) {
    conns_[starved_tail_].starved_next = s;
  } else {
    starved_head_ = s;
  }
  starved_tail_ = s;
}

void EventLoop::Unstarve(Conn& c) {
  if (!c.starved) return;
  c.starved = false;
  if (c.starved_prev != kNone) {
    conns_[c.starved_prev].starved_next = c.starved_next;
  } else {
    starved_head_ = c.starved_next;
  }
  if (c.starved_next != kNone) {
    conns_[c.starved_next].starved_prev = c.starved_prev;
  } else {
    starved_tail_ = c.starved_prev;
  }
  c.starved_prev = c.starved_next = kNone;
}

void EventLoop::RearmStarved() {
  const std::uint32_t min_free = std::max<std::uint32_t>(
      1, std::min(options_.recv_rearm_min_buffers, recv_pool_->count()));
  while (starved_head_ != kNone) {
    if (use_multishot_recv_ ? recv_pool_->available() < min_free : plain_pool_->available() == 0) return;
    Conn& c = conns_[starved_head_];
    Unstarve(c);
    ++stats_.recv_rearms;
    ArmRecv(c);
    if (c.starved) return;  // ran dry again
  }
}

void EventLoop::CancelRecv(Conn& c) {
  if (!c.recv_armed) return;
  const std::uint32_t s = IdOf(c).slot;
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_cancel64(sqe, PackUserData(Op::kRecv, s, GenerationTag(c.gen)), 0);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kCancel, s, GenerationTag(c.gen)));
  ++c.inflight;
}

void EventLoop::SetRecvMode(ConnId id, RecvMode mode) {
  if (Conn* c = Lookup(id)) c->no_hold = mode == RecvMode::kNoHold;
}

void EventLoop::PauseRecv(ConnId id) {
  Conn* c = Lookup(id);
  if (c == nullptr || c->paused || (c->state != State::kOpen && c->state != State::kConnecting)) return;
  c->paused = true;
  ++stats_.recv_pauses;
  Unstarve(*c);
  CancelRecv(*c);
}

void EventLoop::ResumeRecv(ConnId id) {
  Conn* c = Lookup(id);
  if (c == nullptr || !c->paused) return;
  c->paused = false;
  ++stats_.recv_resumes;
  DeliverHeld(*c);
  if (c->state == State::kOpen && !c->paused) ArmRecv(*c);  // no-op while the cancelled recv is still armed
}

void EventLoop::DeliverHeld(Conn& c) {
  const ConnId id = IdOf(c);
  while (c.held_head != kNilBufRef && !c.paused && c.state == State::kOpen) {
    const BufRef ref = c.held_head;
    BufferPool& pool = PoolOf(ref);
    c.held_head = pool.next(IdOf(ref));
    if (c.held_head == kNilBufRef) c.held_tail = kNilBufRef;
    c.handler->OnData(*this, id, Buffer(&pool, IdOf(ref)));
  }
  if (c.held_head == kNilBufRef && c.eof_pending && !c.paused && c.state == State::kOpen) {
    c.eof_pending = false;
    c.handler->OnReadClosed(*this, id);
  }
}

}  // namespace strait::runtime
