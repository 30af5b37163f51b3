#include "tunnel/connector/cidr_table.h"

#include <algorithm>
#include <charconv>

namespace strait::connector {
namespace {

uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Keeps the top `bits` bits of a 64-bit half (0..64).
uint64_t KeepTop(uint64_t v, int bits) {
  if (bits <= 0) return 0;
  if (bits >= 64) return v;
  return v & ~(~uint64_t{0} >> bits);
}

}  // namespace

CidrTable::Key CidrTable::MakeKey(const IpAddress& a, uint8_t prefix) {
  Key k;
  k.family = a.family;
  k.prefix = prefix;
  if (a.family == IpAddress::Family::kV4) {
    uint64_t v4 = (uint64_t{a.bytes[0]} << 24) | (uint64_t{a.bytes[1]} << 16) | (uint64_t{a.bytes[2]} << 8) |
                  uint64_t{a.bytes[3]};
    k.hi = KeepTop(v4 << 32, prefix);
  } else {
    k.hi = KeepTop(Load64(a.bytes.data()), prefix);
    k.lo = KeepTop(Load64(a.bytes.data() + 8), prefix - 64);
  }
  return k;
}

size_t CidrTable::KeyHash::operator()(const Key& k) const {
  // splitmix64 finaliser over the fields.
  auto mix = [](uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
  };
  uint64_t tag = (uint64_t{k.prefix} << 1) | (k.family == IpAddress::Family::kV6 ? 1 : 0);
  return static_cast<size_t>(mix(k.hi ^ mix(k.lo ^ mix(tag))));
}

void CidrTable::Add(const Cidr& cidr, uint32_t rule) {
  buckets_[MakeKey(cidr.network, cidr.prefix)].push_back(rule);
  std::vector<uint8_t>& lengths = cidr.network.family == IpAddress::Family::kV4 ? v4_lengths_ : v6_lengths_;
  if (std::find(lengths.begin(), lengths.end(), cidr.prefix) == lengths.end()) {
    lengths.push_back(cidr.prefix);
    std::sort(lengths.begin(), lengths.end(), std::greater<>());
  }
}

Result<Cidr, std::string> Cidr::Parse(std::string_view text) {
  std::string_view addr_text = text;
  std::optional<int> prefix;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    addr_text = text.substr(0, slash);
    std::string_view len_text = text.substr(slash + 1);
    int len = -1;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || len_text.size() > 3 || ec != std::errc() || end != len_text.data() + len_text.size()) {
      return Fail(std::string("prefix length is not a number"));
    }
    prefix = len;
  }
  std::optional<IpAddress> a = IpAddress::Parse(addr_text);
  if (!a) return Fail(std::string("not an IPv4 or IPv6 address"));
  Cidr c;
  c.network = *a;
  int len = prefix.value_or(a->bits());
  if (len < 0 || len > a->bits()) {
    return Fail("prefix length " + std::to_string(len) + " above " + std::to_string(a->bits()));
  }
  c.prefix = static_cast<uint8_t>(len);
  // Host bits must be zero: compare the address with its own masked form.
  Cidr masked = c;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(len - 8 * i, 0, 8);
    masked.network.bytes[static_cast<size_t>(i)] &= static_cast<uint8_t>(0xFF00 >> keep);
  }
  if (!(masked.network == c.network)) {
    return Fail("host bits set (did you mean " + masked.ToString() + "?)");
  }
  if (a->family == IpAddress::Family::kV6 && len >= 96 && !(a->Unmapped() == *a)) {
    return Fail(std::string("IPv4-mapped range: write it as an IPv4 CIDR"));
  }
  return c;
}

bool Cidr::Contains(const IpAddress& a) const {
  if (a.family != network.family) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    size_t byte = static_cast<size_t>(bit / 8);
    uint8_t mask = static_cast<uint8_t>(0x80 >> (bit % 8));
    if ((a.bytes[byte] & mask) != (network.bytes[byte] & mask)) return false;
  }
  return true;
}

std::string Cidr::ToString() const { return network.ToString() + "/" + std::to_string(prefix); }

}  // namespace strait::connector
