// Bounds-checked cursors over byte spans (BoringSSL's CBS/CBB idea). Every parser in Strait reads through
// ByteReader and every encoder writes through ByteWriter; nothing does raw offset arithmetic on wire bytes.
//
// ByteReader: each Read* returns false, and leaves the reader unchanged, if the span holds too few bytes.
// ByteWriter: writes into a caller-owned span; on overflow it sets a sticky failure flag and writes nothing
// further, so an encoder checks ok() once at the end. Neither allocates. All integers are big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace strait {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> in) : p_(in) {}

  size_t remaining() const { return p_.size(); }
  bool empty() const { return p_.empty(); }
  std::span<const uint8_t> rest() const { return p_; }

  bool ReadU8(uint8_t* out) {
    if (p_.empty()) return false;
    *out = p_[0];
    p_ = p_.subspan(1);
    return true;
  }
  bool ReadU16(uint16_t* out) { return ReadBE(out); }
  bool ReadU32(uint32_t* out) { return ReadBE(out); }
  bool ReadU64(uint64_t* out) { return ReadBE(out); }

  // Views `n` bytes without copying; the view lives as long as the underlying buffer.
  bool ReadBytes(size_t n, std::span<const uint8_t>* out) {
    if (p_.size() < n) return false;
    *out = p_.first(n);
    p_ = p_.subspan(n);
    return true;
  }
  // Copies exactly out.size() bytes.
  bool CopyBytes(std::span<uint8_t> out) {
    if (p_.size() < out.size()) return false;
    if (!out.empty()) std::memcpy(out.data(), p_.data(), out.size());
    p_ = p_.subspan(out.size());
    return true;
  }
  // A u8- or u16-length-prefixed byte string. On failure nothing is consumed.
  bool ReadPrefixed8(std::span<const uint8_t>* out) { return ReadPrefixed<uint8_t>(out); }
  bool ReadPrefixed16(std::span<const uint8_t>* out) { return ReadPrefixed<uint16_t>(out); }
  bool Skip(size_t n) {
    if (p_.size() < n) return false;
    p_ = p_.subspan(n);
    return true;
  }

 private:
  template <class T>
  bool ReadBE(T* out) {
    if (p_.size() < sizeof(T)) return false;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p_[i]);
    *out = v;
    p_ = p_.subspan(sizeof(T));
    return true;
  }
  template <class L>
  bool ReadPrefixed(std::span<const uint8_t>* out) {
    ByteReader probe = *this;
    L len = 0;
    if (!probe.ReadBE(&len) || !probe.ReadBytes(len, out)) return false;
    *this = probe;
    return true;
  }

  std::span<const uint8_t> p_;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::span<uint8_t> out) : out_(out) {}

  bool ok() const { return ok_; }
  size_t written() const { return n_; }
  std::span<uint8_t> data() const { return out_.first(n_); }

  void U8(uint8_t v) { Put(&v, 1); }
  void U16(uint16_t v) { PutBE(v); }
  void U32(uint32_t v) { PutBE(v); }
  void U64(uint64_t v) { PutBE(v); }
  void Bytes(std::span<const uint8_t> b) { Put(b.data(), b.size()); }
  void Bytes(std::string_view s) { Put(s.data(), s.size()); }
  // Length-prefixed; fails (sticky) if the string does not fit the prefix.
  void Prefixed8(std::span<const uint8_t> b) { Prefixed<uint8_t>(b); }
  void Prefixed16(std::span<const uint8_t> b) { Prefixed<uint16_t>(b); }
  // Reserves n bytes to be filled later (e.g. a length or a signature); returns an empty span on failure.
  std::span<uint8_t> Reserve(size_t n) {
    if (!ok_ || out_.size() - n_ < n) { ok_ = false; return {}; }
    auto s = out_.subspan(n_, n);
    n_ += n;
    return s;
  }

 private:
  void Put(const void* p, size_t n) {
    if (!ok_ || out_.size() - n_ < n) { ok_ = false; return; }
    if (n) std::memcpy(out_.data() + n_, p, n);
    n_ += n;
  }
  template <class T>
  void PutBE(T v) {
    uint8_t b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
    Put(b, sizeof(T));
  }
  template <class L>
  void Prefixed(std::span<const uint8_t> b) {
    if (b.size() > static_cast<size_t>(static_cast<L>(~L{0}))) { ok_ = false; return; }
    PutBE(static_cast<L>(b.size()));
    Bytes(b);
  }

  std::span<uint8_t> out_;
  size_t n_ = 0;
  bool ok_ = true;
};

}  // namespace strait
