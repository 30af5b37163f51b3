// EventLoop: listeners and multishot accept. The loop's other parts are in event_loop.cc; shared internals in event_loop_internal.h.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>

#include "runtime/event_loop_internal.h"

namespace strait::runtime {

// Listeners

SetupResult<ListenerId> EventLoop::Listen(int listen_fd, AcceptHandler* handler) {
  if (stopping_) return SetupError{ESHUTDOWN, "loop is stopping"};
  for (std::uint32_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = listeners_[i];
    if (l.in_use) continue;
    const std::uint32_t gen = l.gen;
    l = Listener{};
    l.gen = gen;
    l.fd = listen_fd;
    l.handler = handler;
    l.in_use = true;
    ArmAccept(i);
    return ListenerId{i, l.gen};
  }
  return SetupError{ENOSPC, "all listener slots in use (LoopOptions::max_listeners)"};
}

void EventLoop::ArmAccept(std::uint32_t index) {
  Listener& l = listeners_[index];
  if (l.armed || l.closing || !l.in_use) return;
  io_uring_sqe* sqe = ring_->GetSqe();
  if (use_multishot_accept_) {
    io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kAccept, index, GenerationTag(l.gen)));
  l.armed = true;
  ++l.inflight;
}

void EventLoop::OnAcceptCqe(const io_uring_cqe* cqe, std::uint32_t index) {
  const UserData ud = UnpackUserData(cqe->user_data);
  if (index >= listeners_.size() || !listeners_[index].in_use || GenerationTag(listeners_[index].gen) != ud.aux) {
    ++stats_.stale_cqes;
    if (cqe->res >= 0) close(cqe->res);
    return;
  }
  Listener& l = listeners_[index];
  if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
    l.armed = false;
    --l.inflight;
  }
  const ListenerId id{index, l.gen};
  if (cqe->res >= 0) {
    if (l.closing || stopping_) {
      close(cqe->res);
    } else {
      ++stats_.accepted;
      l.handler->OnAccept(*this, id, cqe->res);
    }
  } else if (cqe->res != -ECANCELED) {
    ++stats_.accept_errors;
    l.handler->OnAcceptError(*this, id, -cqe->res);
    // Back off instead of spinning on EMFILE/ENFILE/ENOMEM: the condition rarely clears within microseconds.
    if (!l.armed && !l.closing && !l.retry.valid()) {
      l.retry = AddTimer(options_.accept_retry_delay, this,
                         kListenerTimerBit | (static_cast<std::uint64_t>(l.gen & 0x7fffffffu) << 32) | index);
      if (l.retry.valid()) return;
    }
  }
  if (l.in_use && !l.armed && !l.closing && !l.retry.valid()) ArmAccept(index);
  MaybeFinishListener(index);
}

void EventLoop::CloseListener(ListenerId id) {
  if (id.index >= listeners_.size()) return;
  Listener& l = listeners_[id.index];
  if (!l.in_use || l.gen != id.gen || l.closing) return;
  l.closing = true;
  if (l.retry.valid()) {
    timers_.Cancel(l.retry);
    l.retry = TimerId{};
  }
  if (l.armed) {
    io_uring_sqe* sqe = ring_->GetSqe();
    io_uring_prep_cancel64(sqe, PackUserData(Op::kAccept, id.index, GenerationTag(l.gen)), 0);
    io_uring_sqe_set_data64(sqe, PackUserData(Op::kListenerClose, id.index, GenerationTag(l.gen)));
    ++l.inflight;
  }
  MaybeFinishListener(id.index);
}

void EventLoop::MaybeFinishListener(std::uint32_t index) {
  Listener& l = listeners_[index];
  if (!l.in_use || !l.closing || l.inflight > 0) return;
  close(l.fd);
  const std::uint32_t gen = l.gen + 1;
  l = Listener{};
  l.gen = gen;
}

}  // namespace strait::runtime
