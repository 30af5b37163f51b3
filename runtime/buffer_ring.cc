#include "runtime/buffer_ring.h"

#include <sys/mman.h>

#include <cerrno>

namespace strait::runtime {

SetupResult<std::unique_ptr<BufferRing>> BufferRing::Create(io_uring* ring, std::uint16_t group_id,
                                                            std::uint32_t entries) {
  if (entries == 0 || entries > 32768 || (entries & (entries - 1)) != 0) {
    return SetupError{EINVAL, "buffer ring entries must be a power of two in [1, 32768]"};
  }
  std::unique_ptr<BufferRing> r(new BufferRing());
  r->ring_ = ring;
  r->group_id_ = group_id;
  r->entries_ = entries;
  r->mask_ = io_uring_buf_ring_mask(entries);
  r->map_size_ = entries * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, r->map_size_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return SetupError{errno, "mmap of the buffer ring failed"};
  r->br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(r->br_);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = entries;
  reg.bgid = group_id;
  const int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc != 0) {
    munmap(mem, r->map_size_);
    r->br_ = nullptr;
    return SetupError{-rc, "io_uring_register_buf_ring failed"};
  }
  return r;
}

BufferRing::~BufferRing() {
  if (br_ == nullptr) return;
  io_uring_unregister_buf_ring(ring_, group_id_);
  munmap(br_, map_size_);
}

}  // namespace strait::runtime
