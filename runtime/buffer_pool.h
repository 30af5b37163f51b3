// BufferPool and Buffer: the runtime's one buffer model (style.md item 9).
//
// A pool is one mmap'd slab of `count` fixed-size buffers, preallocated when the loop starts; nothing is allocated
// per operation. A loop has two pools:
//   - the recv pool (kind kProvided): every free buffer sits in the kernel's provided buffer ring; multishot recv
//     picks one per completion; releasing a buffer stages it back into the ring (published once per batch);
//   - the plain pool (kind kPlain): a free list, for Send(span) copies and for the single-shot recv fallback.
//
// Each buffer's regions (offsets from the start of its slot in the slab):
//
//   0          headroom             off            off+len                        size
//   +-----------+-------------------+--------------+-------------------------------+
//   | headroom  | (consumed bytes)  |  data (len)  |           tailroom            |
//   +-----------+-------------------+--------------+-------------------------------+
//               ^ the kernel writes received bytes here; headroom stays free so a protocol layer can Prepend()
//                 a header (e.g. seal a frame in place) without a copy.
//
// Ownership: a Buffer handle is move-only and owns exactly one pool buffer; dropping it returns the buffer to its
// pool. Giving it to EventLoop::Send moves ownership into the connection's send queue until the bytes are sent
// (for zero-copy sends, until the kernel's notification). Buffers never cross threads: a pool, its buffers and
// every Buffer handle belong to one loop thread.
#pragma once

#include <cassert>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/buffer_ring.h"
#include "runtime/setup_error.h"

namespace strait::runtime {

// A pool-tagged buffer index: bit 31 = pool index (0 recv pool, 1 plain pool), bits 0..30 = buffer id.
using BufRef = std::uint32_t;
inline constexpr BufRef kNilBufRef = 0xffffffffu;
inline constexpr std::uint32_t kBufRefPoolShift = 31;

class BufferPool;

class Buffer {
 public:
  Buffer() = default;
  Buffer(BufferPool* pool, std::uint32_t id) : pool_(pool), id_(id) {}
  Buffer(Buffer&& o) noexcept : pool_(o.pool_), id_(o.id_) { o.pool_ = nullptr; }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  explicit operator bool() const { return pool_ != nullptr; }
  void reset();  // returns the buffer to its pool now

  std::span<const std::uint8_t> data() const;
  std::span<std::uint8_t> mutable_data();
  std::size_t size() const;
  std::span<std::uint8_t> tailroom();  // writable bytes after data; Commit(n) after writing them
  std::span<std::uint8_t> headroom();  // writable bytes before data; Prepend(n) after writing the last n of them
  void Commit(std::size_t n);
  void Prepend(std::size_t n);
  void Consume(std::size_t n);  // drops n bytes from the front of data

  // For the event loop: gives up ownership without releasing. The caller becomes responsible for the BufRef.
  BufRef Detach();
  BufferPool* pool() const { return pool_; }
  std::uint32_t id() const { return id_; }

 private:
  BufferPool* pool_ = nullptr;
  std::uint32_t id_ = 0;
};

class BufferPool {
 public:
  enum class Kind : std::uint8_t { kProvided, kPlain };

  // Allocates the slab. buffer_size includes headroom; count > 0 (power of two for kProvided).
  static SetupResult<std::unique_ptr<BufferPool>> Create(Kind kind, std::uint32_t pool_index, std::uint32_t count,
                                                         std::uint32_t buffer_size, std::uint32_t headroom);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // kProvided: registers the kernel ring under group_id and hands it every buffer. Loop thread only.
  SetupResult<bool> AttachRing(io_uring* ring, std::uint16_t group_id);

  // kPlain: takes a free buffer (empty data, offset = headroom). Returns an empty handle when exhausted.
  Buffer Allocate();
  // kProvided: the kernel filled buffer `id` with `len` bytes (a recv CQE). kPlain: a single-shot recv filled it.
  Buffer AdoptReceived(std::uint32_t id, std::uint32_t len);

  // Publishes buffers released since the last call to the kernel ring (no-op for kPlain). Once per batch.
  void Publish() {
    if (ring_) ring_->Publish();
  }

  // Buffers the pool can hand out now: in the kernel ring (kProvided) or on the free list (kPlain).
  std::uint32_t available() const { return available_; }
  std::uint32_t count() const { return count_; }
  std::uint32_t capacity() const { return size_ - headroom_; }  // data bytes per buffer
  std::uint32_t index() const { return index_; }
  Kind kind() const { return kind_; }
  std::uint16_t group_id() const { return ring_ ? ring_->group_id() : 0; }
  std::uint64_t exhausted_count() const { return exhausted_; }

  // --- metadata for the loop's intrusive queues (loop thread only) -------------------------------------------
  BufRef Ref(std::uint32_t id) const { return (index_ << kBufRefPoolShift) | id; }
  std::uint8_t* base(std::uint32_t id) const { return slab_ + static_cast<std::size_t>(id) * size_; }
  std::uint32_t& next(std::uint32_t id) { return meta_[id].next; }
  std::uint32_t offset(std::uint32_t id) const { return meta_[id].off; }
  std::uint32_t length(std::uint32_t id) const { return meta_[id].len; }
  std::uint32_t buffer_size() const { return size_; }
  std::uint32_t headroom_size() const { return headroom_; }
  void SetRange(std::uint32_t id, std::uint32_t off, std::uint32_t len) {
    meta_[id].off = off;
    meta_[id].len = len;
  }
  // Pins keep a buffer's memory alive while the kernel may still read it (zero-copy send notifications).
  void Pin(std::uint32_t id) { ++meta_[id].pins; }
  void Unpin(std::uint32_t id);
  // Returns the buffer to the pool, or, if pinned, when the last pin goes.
  void Release(std::uint32_t id);

 private:
  struct Meta {
    std::uint32_t off = 0;
    std::uint32_t len = 0;
    std::uint32_t next = kNilBufRef;  // free list (kPlain) or a connection's queue link
    std::uint16_t pins = 0;
    bool release_pending = false;
    bool in_pool = true;  // on the free list or in the kernel ring
  };
  BufferPool() = default;
  void Recycle(std::uint32_t id);

  Kind kind_ = Kind::kPlain;
  std::uint32_t index_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t headroom_ = 0;
  std::uint8_t* slab_ = nullptr;
  std::size_t slab_bytes_ = 0;
  std::vector<Meta> meta_;
  std::uint32_t free_head_ = kNilBufRef;  // kPlain free list
  std::uint32_t available_ = 0;
  std::uint64_t exhausted_ = 0;
  std::unique_ptr<BufferRing> ring_;
};

inline Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = o.pool_;
    id_ = o.id_;
    o.pool_ = nullptr;
  }
  return *this;
}
inline void Buffer::reset() {
  if (pool_ != nullptr) {
    pool_->Release(id_);
    pool_ = nullptr;
  }
}
inline std::span<const std::uint8_t> Buffer::data() const {
  assert(pool_);
  return {pool_->base(id_) + pool_->offset(id_), pool_->length(id_)};
}
inline std::span<std::uint8_t> Buffer::mutable_data() {
  assert(pool_);
  return {pool_->base(id_) + pool_->offset(id_), pool_->length(id_)};
}
inline std::size_t Buffer::size() const { return pool_ ? pool_->length(id_) : 0; }
inline std::span<std::uint8_t> Buffer::tailroom() {
  assert(pool_);
  const std::uint32_t end = pool_->offset(id_) + pool_->length(id_);
  return {pool_->base(id_) + end, pool_->buffer_size() - end};
}
inline std::span<std::uint8_t> Buffer::headroom() {
  assert(pool_);
  return {pool_->base(id_), pool_->offset(id_)};
}
inline void Buffer::Commit(std::size_t n) {
  assert(n <= tailroom().size());
  pool_->SetRange(id_, pool_->offset(id_), pool_->length(id_) + static_cast<std::uint32_t>(n));
}
inline void Buffer::Prepend(std::size_t n) {
  assert(n <= pool_->offset(id_));
  pool_->SetRange(id_, pool_->offset(id_) - static_cast<std::uint32_t>(n),
                  pool_->length(id_) + static_cast<std::uint32_t>(n));
}
inline void Buffer::Consume(std::size_t n) {
  assert(n <= size());
  pool_->SetRange(id_, pool_->offset(id_) + static_cast<std::uint32_t>(n),
                  pool_->length(id_) - static_cast<std::uint32_t>(n));
}
inline BufRef Buffer::Detach() {
  assert(pool_);
  const BufRef r = pool_->Ref(id_);
  pool_ = nullptr;
  return r;
}

}  // namespace strait::runtime
