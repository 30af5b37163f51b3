#include "runtime/buffer_pool.h"

#include <sys/mman.h>

#include <cerrno>

namespace strait::runtime {

SetupResult<std::unique_ptr<BufferPool>> BufferPool::Create(Kind kind, std::uint32_t pool_index,
                                                            std::uint32_t count, std::uint32_t buffer_size,
                                                            std::uint32_t headroom) {
  if (count == 0 || count > (1u << 16) || headroom >= buffer_size || pool_index > 1) {
    return SetupError{EINVAL, "buffer pool: need 0 < count <= 65536 and headroom < buffer size"};
  }
  if (kind == Kind::kProvided && (count & (count - 1)) != 0) {
    return SetupError{EINVAL, "buffer pool: a provided-ring pool needs a power-of-two count"};
  }
  std::unique_ptr<BufferPool> p(new BufferPool());
  p->kind_ = kind;
  p->index_ = pool_index;
  p->count_ = count;
  p->size_ = buffer_size;
  p->headroom_ = headroom;
  p->slab_bytes_ = static_cast<std::size_t>(count) * buffer_size;
  void* mem = mmap(nullptr, p->slab_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return SetupError{errno, "buffer pool: mmap of the slab failed"};
  p->slab_ = static_cast<std::uint8_t*>(mem);
  p->meta_.resize(count);
  if (kind == Kind::kPlain) {
    for (std::uint32_t id = count; id-- > 0;) {
      p->meta_[id].next = p->free_head_;
      p->free_head_ = id;
    }
  }
  p->available_ = count;  // kProvided: all of them go to the kernel ring at AttachRing
  return p;
}

BufferPool::~BufferPool() {
  ring_.reset();  // unregister before the memory goes
  if (slab_ != nullptr) munmap(slab_, slab_bytes_);
}

SetupResult<bool> BufferPool::AttachRing(io_uring* ring, std::uint16_t group_id) {
  if (kind_ != Kind::kProvided) return SetupError{EINVAL, "AttachRing on a plain pool"};
  auto r = BufferRing::Create(ring, group_id, count_);
  if (!r) return r.error();
  ring_ = std::move(r.value());
  for (std::uint32_t id = 0; id < count_; ++id) {
    ring_->Stage(base(id) + headroom_, size_ - headroom_, static_cast<std::uint16_t>(id));
  }
  ring_->Publish();
  available_ = count_;
  return true;
}

Buffer BufferPool::Allocate() {
  assert(kind_ == Kind::kPlain);
  if (free_head_ == kNilBufRef) {
    ++exhausted_;
    return Buffer();
  }
  const std::uint32_t id = free_head_;
  free_head_ = meta_[id].next;
  --available_;
  Meta& m = meta_[id];
  m.next = kNilBufRef;
  m.off = headroom_;
  m.len = 0;
  m.in_pool = false;
  m.release_pending = false;
  return Buffer(this, id);
}

Buffer BufferPool::AdoptReceived(std::uint32_t id, std::uint32_t len) {
  assert(id < count_);
  Meta& m = meta_[id];
  if (kind_ == Kind::kProvided) {
    assert(m.in_pool);
    m.in_pool = false;
    --available_;
  }
  m.off = headroom_;
  m.len = len;
  m.next = kNilBufRef;
  m.release_pending = false;
  return Buffer(this, id);
}

void BufferPool::Unpin(std::uint32_t id) {
  Meta& m = meta_[id];
  assert(m.pins > 0);
  if (--m.pins == 0 && m.release_pending) Recycle(id);
}

void BufferPool::Release(std::uint32_t id) {
  Meta& m = meta_[id];
  if (m.pins > 0) {
    m.release_pending = true;
    return;
  }
  Recycle(id);
}

void BufferPool::Recycle(std::uint32_t id) {
  Meta& m = meta_[id];
  assert(!m.in_pool);
  m.in_pool = true;
  m.release_pending = false;
  ++available_;
  if (kind_ == Kind::kProvided) {
    if (ring_) ring_->Stage(base(id) + headroom_, size_ - headroom_, static_cast<std::uint16_t>(id));
    return;
  }
  m.next = free_head_;
  free_head_ = id;
}

}  // namespace strait::runtime
