// ByteSink: where a producer (TlsSession's record layer) writes bytes, with the memory handed out by the consumer, so
// nothing is staged on the way: decrypted records land in the caller's receive buffer, sealed records in the
// caller's send buffers. Reserve/Commit instead of "append(span)" is what saves the copy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace strait::crypto {

class ByteSink {
 public:
  // Writable space for at least 1 and ideally `want` bytes (want >= 1). An empty span means the sink is out of
  // memory; the producer then fails its call.
  virtual std::span<std::uint8_t> Reserve(std::size_t want) = 0;
  // The first n bytes of the span the last Reserve returned now hold data (n <= its size; 0 is allowed).
  virtual void Commit(std::size_t n) = 0;

 protected:
  ~ByteSink() = default;
};

// Appends to a std::vector. Reserve resizes, which zero-fills the new space first: for tests and cold paths.
class VectorSink final : public ByteSink {
 public:
  explicit VectorSink(std::vector<std::uint8_t>& v) : v_(&v) {}
  std::span<std::uint8_t> Reserve(std::size_t want) override {
    base_ = v_->size();
    v_->resize(base_ + want);
    return std::span(*v_).subspan(base_);
  }
  void Commit(std::size_t n) override { v_->resize(base_ + n); }

 private:
  std::vector<std::uint8_t>* v_;
  std::size_t base_ = 0;
};

// A growable byte array that does not zero-fill: the loop-wide receive scratch. Capacity only grows; clear() keeps
// it. Not copyable.
class GrowableBytes final : public ByteSink {
 public:
  GrowableBytes() = default;
  GrowableBytes(const GrowableBytes&) = delete;
  GrowableBytes& operator=(const GrowableBytes&) = delete;

  std::span<std::uint8_t> Reserve(std::size_t want) override {
    if (capacity_ - size_ < want) Grow(size_ + want);
    return {data_.get() + size_, capacity_ - size_};
  }
  void Commit(std::size_t n) override { size_ += n; }

  void Append(std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return;
    std::memcpy(Reserve(bytes.size()).data(), bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  // Drops the first n bytes (moves the rest to the front).
  void Consume(std::size_t n) {
    n = std::min(n, size_);
    if (n < size_) std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }
  void clear() { size_ = 0; }
  // Frees the storage.
  void Release() {
    data_.reset();
    size_ = capacity_ = 0;
  }

  std::span<const std::uint8_t> view() const { return {data_.get(), size_}; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return capacity_; }

 private:
  void Grow(std::size_t needed) {
    std::size_t cap = std::max<std::size_t>(capacity_ * 2, 4096);
    while (cap < needed) cap *= 2;
    std::unique_ptr<std::uint8_t[]> d(new std::uint8_t[cap]);  // default-initialised: no zero fill
    if (size_ != 0) std::memcpy(d.get(), data_.get(), size_);
    data_ = std::move(d);
    capacity_ = cap;
  }

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace strait::crypto
