// BoundedMpscQueue<T>: a fixed-capacity multi-producer single-consumer queue (Dmitry Vyukov's bounded queue, with
// the single consumer simplifying the pop side). Used as a loop's mailbox: any thread pushes, the loop thread pops.
//
// Bounded by construction: TryPush fails (returns false) when full and the caller decides what to drop; nothing
// allocates after construction. T must be trivially copyable.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace strait::runtime {

template <class T>
class BoundedMpscQueue {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // capacity is rounded up to a power of two (at least 2).
  explicit BoundedMpscQueue(std::size_t capacity) {
    std::size_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    cells_ = std::make_unique<Cell[]>(c);
    for (std::size_t i = 0; i < c; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }

  // Any thread. Returns false when the queue is full.
  bool TryPush(const T& value) {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const std::size_t seq = cell.seq.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // Consumer thread only. Returns false when empty (or when the next producer has not finished writing).
  bool TryPop(T& out) {
    Cell& cell = cells_[head_ & mask_];
    const std::size_t seq = cell.seq.load(std::memory_order_acquire);
    if (static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(head_ + 1) < 0) return false;
    out = cell.value;
    cell.seq.store(head_ + mask_ + 1, std::memory_order_release);
    ++head_;
    return true;
  }

  std::size_t capacity() const { return mask_ + 1; }

 private:
  struct Cell {
    std::atomic<std::size_t> seq{0};
    T value{};
  };
  std::unique_ptr<Cell[]> cells_;
  std::size_t mask_ = 0;
  alignas(64) std::atomic<std::size_t> tail_{0};  // producers
  alignas(64) std::size_t head_ = 0;              // consumer only
};

}  // namespace strait::runtime
