// SpscRing: a bounded single-producer single-consumer ring of records (a fixed header + frame bytes), one per
// ordered pair of relay shards. The producer is the source shard's thread, the consumer the target shard's. No
// allocation after construction, no locks: two monotonically increasing byte positions (acquire/release).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace strait::relay {

struct RingRecord {
  std::uint8_t kind = 0;      // RecordKind (relay_internal.h)
  std::uint8_t reserved[3] = {};
  std::uint32_t channel = 0;  // session id
  std::uint64_t target = 0;   // packed LinkRef on the consumer's shard
  std::uint64_t source = 0;   // packed LinkRef on the producer's shard
  std::uint32_t length = 0;   // frame bytes following the header
  std::uint32_t reserved2 = 0;
};
static_assert(sizeof(RingRecord) == 32);

class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity) : buf_(new std::uint8_t[capacity]), cap_(capacity) {}

  // [producer] Appends one record; false (nothing written) when it does not fit.
  bool Write(const RingRecord& h, std::span<const std::uint8_t> bytes) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t need = sizeof(RingRecord) + bytes.size();
    if (cap_ - (head - tail) < need) return false;
    CopyIn(head, &h, sizeof h);
    if (!bytes.empty()) CopyIn(head + sizeof h, bytes.data(), bytes.size());
    head_.store(head + need, std::memory_order_release);
    return true;
  }

  // [consumer] Reads the oldest record into `h` and its bytes into `out` (at least length bytes); false when
  // empty. Commit() consumes it; without Commit the next Peek returns it again.
  bool Peek(RingRecord& h, std::span<std::uint8_t> out) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    if (head == tail) return false;
    CopyOut(tail, &h, sizeof h);
    if (h.length > 0) CopyOut(tail + sizeof h, out.data(), h.length);
    peeked_ = sizeof h + h.length;
    return true;
  }
  void Commit() {
    tail_.store(tail_.load(std::memory_order_relaxed) + peeked_, std::memory_order_release);
    peeked_ = 0;
  }

  // [any] Bytes in use (approximate from another thread).
  std::size_t used() const {
    return static_cast<std::size_t>(head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_relaxed));
  }
  std::size_t capacity() const { return cap_; }

  // Doorbell and wake-up flags shared by the two sides.
  std::atomic<bool> doorbell{false};    // producer rang, consumer has not started draining yet
  std::atomic<bool> want_space{false};  // producer is waiting for room (its stash is non-empty)

 private:
  void CopyIn(std::uint64_t pos, const void* src, std::size_t n) {
    const std::size_t off = static_cast<std::size_t>(pos % cap_);
    const std::size_t first = n < cap_ - off ? n : cap_ - off;
    std::memcpy(buf_.get() + off, src, first);
    if (first < n) std::memcpy(buf_.get(), static_cast<const std::uint8_t*>(src) + first, n - first);
  }
  void CopyOut(std::uint64_t pos, void* dst, std::size_t n) const {
    const std::size_t off = static_cast<std::size_t>(pos % cap_);
    const std::size_t first = n < cap_ - off ? n : cap_ - off;
    std::memcpy(dst, buf_.get() + off, first);
    if (first < n) std::memcpy(static_cast<std::uint8_t*>(dst) + first, buf_.get(), n - first);
  }

  std::unique_ptr<std::uint8_t[]> buf_;
  const std::size_t cap_;
  alignas(64) std::atomic<std::uint64_t> head_{0};  // producer
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // consumer
  std::size_t peeked_ = 0;                          // consumer
};

}  // namespace strait::relay
