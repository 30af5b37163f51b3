// TimerHeap: a fixed-capacity binary min-heap of deadlines, the loop's timer store. The loop waits on the io_uring
// with a timeout equal to the earliest deadline (IORING_ENTER_EXT_ARG; liburing falls back to a timeout SQE on
// kernels without it), so all timers share one kernel timeout per wait instead of one SQE each.
//
// Order: by deadline, ties by insertion order, so timers with equal deadlines fire in the order they were added.
// Cancel is O(log n) through a per-slot heap index; stale TimerIds are rejected by generation.
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <vector>

namespace strait::runtime {

class EventLoop;

struct TimerId {
  std::uint32_t slot = 0xffffffffu;
  std::uint32_t gen = 0;
  bool valid() const { return slot != 0xffffffffu; }
};

// Implemented by whoever schedules a timer; must outlive the timer (or cancel it first).
class TimerHandler {
 public:
  virtual ~TimerHandler() = default;
  // Called on the loop thread once the deadline has passed. The TimerId is no longer valid when this runs.
  virtual void OnTimer(EventLoop& loop, TimerId id, std::uint64_t arg) = 0;
};

class TimerHeap {
 public:
  explicit TimerHeap(std::uint32_t capacity);

  // Returns an invalid TimerId when all `capacity` timers are in use.
  TimerId Add(std::int64_t deadline_ns, TimerHandler* handler, std::uint64_t arg);
  // Returns false when the timer already fired, was cancelled, or never existed.
  bool Cancel(TimerId id);

  bool empty() const { return size_ == 0; }
  std::uint32_t size() const { return size_; }
  std::int64_t next_deadline() const { return slots_[heap_[0]].deadline; }  // requires !empty()

  struct Fired {
    TimerId id;
    TimerHandler* handler;
    std::uint64_t arg;
  };
  // Removes the earliest timer if its deadline is <= now_ns.
  bool PopExpired(std::int64_t now_ns, Fired& out);

 private:
  struct Slot {
    std::int64_t deadline = 0;
    std::uint64_t seq = 0;
    TimerHandler* handler = nullptr;
    std::uint64_t arg = 0;
    std::uint32_t gen = 0;
    std::uint32_t heap_index = 0xffffffffu;  // 0xffffffff: free
    std::uint32_t next_free = 0xffffffffu;
  };
  bool Less(std::uint32_t a, std::uint32_t b) const;
  void Swap(std::uint32_t i, std::uint32_t j);
  void SiftUp(std::uint32_t i);
  void SiftDown(std::uint32_t i);
  void RemoveAt(std::uint32_t i);

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> heap_;  // slot indices
  std::uint32_t size_ = 0;
  std::uint32_t free_head_ = 0xffffffffu;
  std::uint64_t next_seq_ = 0;
};

}  // namespace strait::runtime
