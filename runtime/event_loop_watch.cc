// EventLoop readiness watches (WatchReadable / Unwatch): a one-shot IORING_OP_POLL_ADD per watch, re-armed after
// each OnReadable, so a handler that reads a batch and leaves the rest is called again at once (level-triggered).
// A slot is reused only once no poll of it is in flight; CQEs of an ended watch carry its old generation and are
// dropped (stale_cqes).
#include <poll.h>

#include "runtime/event_loop.h"
#include "runtime/event_loop_internal.h"

namespace strait::runtime {

WatchId EventLoop::WatchReadable(int fd, ReadableHandler* handler) {
  if (stopping_ || fd < 0 || handler == nullptr) return {};
  for (std::uint32_t i = 0; i < watches_.size(); ++i) {
    ReadWatch& w = watches_[i];
    if (w.in_use || w.armed) continue;
    w.fd = fd;
    w.handler = handler;
    w.in_use = true;
    ArmWatch(i);
    return WatchId{i, w.gen};
  }
  return {};
}

void EventLoop::Unwatch(WatchId id) {
  if (!id.valid() || id.slot >= watches_.size()) return;
  ReadWatch& w = watches_[id.slot];
  if (!w.in_use || w.gen != id.gen) return;
  w.in_use = false;
  w.handler = nullptr;
  if (w.armed) {
    // Cancel the poll (it holds a reference to the file); its CQE, -ECANCELED, frees the slot.
    io_uring_sqe* sqe = ring_->GetSqe();
    io_uring_prep_poll_remove(sqe, PackUserData(Op::kWatch, id.slot, GenerationTag(w.gen)));
    io_uring_sqe_set_data64(sqe, PackUserData(Op::kNone, 0, 0));
  }
  ++w.gen;
}

void EventLoop::ArmWatch(std::uint32_t slot) {
  ReadWatch& w = watches_[slot];
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_poll_add(sqe, w.fd, POLLIN);
  io_uring_sqe_set_data64(sqe, PackUserData(Op::kWatch, slot, GenerationTag(w.gen)));
  w.armed = true;
}

void EventLoop::OnWatchCqe(const io_uring_cqe* cqe, std::uint32_t slot, std::uint32_t aux) {
  if (slot >= watches_.size()) return;
  ReadWatch& w = watches_[slot];
  w.armed = false;
  if (!w.in_use || GenerationTag(w.gen) != aux) {
    ++stats_.stale_cqes;
    return;
  }
  const WatchId id{slot, w.gen};
  if (cqe->res < 0) {
    w.in_use = false;
    ++w.gen;
    ReadableHandler* h = w.handler;
    w.handler = nullptr;
    h->OnWatchError(*this, id, -cqe->res);
    return;
  }
  w.handler->OnReadable(*this, id);
  // The handler may have ended the watch (and a new one may use the slot only once nothing is armed: not yet).
  if (w.in_use && w.gen == id.gen && !w.armed && !stopping_) ArmWatch(slot);
}

}  // namespace strait::runtime
