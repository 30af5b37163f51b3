// BufferRing: one kernel "provided buffer ring" (IORING_REGISTER_PBUF_RING) that recv operations pick buffers from.
//
// liburing 2.3 has io_uring_register_buf_ring / io_uring_buf_ring_add / io_uring_buf_ring_advance but not the 2.4
// helper io_uring_setup_buf_ring, so the ring memory is mmap'd here (page aligned, as the kernel requires) and
// registered by hand. The ring only carries descriptors {addr, len, bid}; the buffer memory itself belongs to a
// BufferPool (buffer_pool.h).
//
//   ring memory (entries x 16 bytes, shared with the kernel)
//   +------+------+------+-----+------+
//   | buf0 | buf1 | buf2 | ... | bufN |   tail (in the last 2 bytes of buf0's reserved field) is ours to advance;
//   +------+------+------+-----+------+   the kernel consumes from its private head.
//
// Threading: loop thread only (the thread that owns the io_uring).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "runtime/setup_error.h"

namespace strait::runtime {

class BufferRing {
 public:
  // entries must be a power of two, at most 32768. Registers the ring under group_id.
  static SetupResult<std::unique_ptr<BufferRing>> Create(io_uring* ring, std::uint16_t group_id,
                                                         std::uint32_t entries);
  ~BufferRing();  // unregisters and unmaps; the io_uring must still be alive
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  // Stages one buffer for the kernel. Not visible to the kernel until Publish(). At most entries() buffers may be
  // in the kernel's hands at once: the caller (BufferPool) guarantees it by construction (one bid per buffer).
  void Stage(void* addr, std::uint32_t len, std::uint16_t bid) {
    io_uring_buf_ring_add(br_, addr, len, bid, mask_, static_cast<int>(staged_));
    ++staged_;
  }
  // Makes every staged buffer visible to the kernel with one store-release of the tail. Call once per batch.
  void Publish() {
    if (staged_ == 0) return;
    io_uring_buf_ring_advance(br_, static_cast<int>(staged_));
    staged_ = 0;
  }

  std::uint16_t group_id() const { return group_id_; }
  std::uint32_t entries() const { return entries_; }

 private:
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  std::size_t map_size_ = 0;
  std::uint16_t group_id_ = 0;
  std::uint32_t entries_ = 0;
  int mask_ = 0;
  std::uint32_t staged_ = 0;
};

}  // namespace strait::runtime
