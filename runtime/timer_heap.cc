#include "runtime/timer_heap.h"

#include <cassert>
#include <utility>

namespace strait::runtime {

namespace {
constexpr std::uint32_t kNone = 0xffffffffu;
}

TimerHeap::TimerHeap(std::uint32_t capacity) : slots_(capacity), heap_(capacity) {
  for (std::uint32_t i = capacity; i-- > 0;) {
    slots_[i].next_free = free_head_;
    free_head_ = i;
  }
}

TimerId TimerHeap::Add(std::int64_t deadline_ns, TimerHandler* handler, std::uint64_t arg) {
  if (free_head_ == kNone) return TimerId{};
  const std::uint32_t s = free_head_;
  Slot& slot = slots_[s];
  free_head_ = slot.next_free;
  slot.deadline = deadline_ns;
  slot.seq = next_seq_++;
  slot.handler = handler;
  slot.arg = arg;
  slot.heap_index = size_;
  heap_[size_] = s;
  ++size_;
  SiftUp(size_ - 1);
  return TimerId{s, slot.gen};
}

bool TimerHeap::Cancel(TimerId id) {
  if (!id.valid() || id.slot >= slots_.size()) return false;
  Slot& slot = slots_[id.slot];
  if (slot.gen != id.gen || slot.heap_index == kNone) return false;
  RemoveAt(slot.heap_index);
  return true;
}

bool TimerHeap::PopExpired(std::int64_t now_ns, Fired& out) {
  if (size_ == 0) return false;
  const std::uint32_t s = heap_[0];
  if (slots_[s].deadline > now_ns) return false;
  out = Fired{TimerId{s, slots_[s].gen}, slots_[s].handler, slots_[s].arg};
  RemoveAt(0);
  return true;
}

bool TimerHeap::Less(std::uint32_t a, std::uint32_t b) const {
  const Slot& x = slots_[heap_[a]];
  const Slot& y = slots_[heap_[b]];
  return x.deadline != y.deadline ? x.deadline < y.deadline : x.seq < y.seq;
}

void TimerHeap::Swap(std::uint32_t i, std::uint32_t j) {
  std::swap(heap_[i], heap_[j]);
  slots_[heap_[i]].heap_index = i;
  slots_[heap_[j]].heap_index = j;
}

void TimerHeap::SiftUp(std::uint32_t i) {
  while (i > 0) {
    const std::uint32_t parent = (i - 1) / 2;
    if (!Less(i, parent)) break;
    Swap(i, parent);
    i = parent;
  }
}

void TimerHeap::SiftDown(std::uint32_t i) {
  for (;;) {
    const std::uint32_t l = 2 * i + 1;
    const std::uint32_t r = l + 1;
    std::uint32_t m = i;
    if (l < size_ && Less(l, m)) m = l;
    if (r < size_ && Less(r, m)) m = r;
    if (m == i) return;
    Swap(i, m);
    i = m;
  }
}

void TimerHeap::RemoveAt(std::uint32_t i) {
  assert(i < size_);
  const std::uint32_t s = heap_[i];
  --size_;
  if (i != size_) {
    heap_[i] = heap_[size_];
    slots_[heap_[i]].heap_index = i;
    SiftDown(i);
    SiftUp(i);
  }
  Slot& slot = slots_[s];
  slot.heap_index = kNone;
  slot.handler = nullptr;
  ++slot.gen;
  slot.next_free = free_head_;
  free_head_ = s;
}

}  // namespace strait::runtime
