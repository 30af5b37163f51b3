#include "tunnel/device/target.h"

#include <algorithm>

namespace strait::device {

Target Target::Ipv4(std::array<uint8_t, kIpv4Size> addr, uint16_t port) {
  Target t;
  t.type = AddressType::kIpv4;
  std::copy(addr.begin(), addr.end(), t.ip.begin());
  t.port = port;
  return t;
}

Target Target::Ipv6(std::array<uint8_t, kIpv6Size> addr, uint16_t port) {
  Target t;
  t.type = AddressType::kIpv6;
  t.ip = addr;
  t.port = port;
  return t;
}

std::optional<Target> Target::Domain(std::string_view name, uint16_t port) {
  if (name.empty() || name.size() > kMaxDomainSize) return std::nullopt;
  Target t;
  t.type = AddressType::kDomain;
  std::copy(name.begin(), name.end(), t.name.begin());
  t.name_size = static_cast<uint8_t>(name.size());
  t.port = port;
  return t;
}

std::span<const uint8_t> Target::address_bytes() const {
  switch (type) {
    case AddressType::kIpv4: return std::span<const uint8_t>(ip).first(kIpv4Size);
    case AddressType::kIpv6: return std::span<const uint8_t>(ip);
    case AddressType::kDomain: break;
  }
  return {};
}

bool operator==(const Target& a, const Target& b) {
  if (a.type != b.type || a.port != b.port) return false;
  if (a.type == AddressType::kDomain) return a.domain() == b.domain();
  return std::ranges::equal(a.address_bytes(), b.address_bytes());
}

void WriteAddress(const Target& t, ByteWriter& w) {
  w.U8(static_cast<uint8_t>(t.type));
  if (t.type == AddressType::kDomain) {
    w.Prefixed8(std::span(reinterpret_cast<const uint8_t*>(t.name.data()), t.name_size));
  } else {
    w.Bytes(t.address_bytes());
  }
  w.U16(t.port);
}

bool ReadAddress(ByteReader& r, Target* out) {
  ByteReader probe = r;
  uint8_t type = 0;
  if (!probe.ReadU8(&type)) return false;
  Target t;
  switch (static_cast<AddressType>(type)) {
    case AddressType::kIpv4:
      t.type = AddressType::kIpv4;
      if (!probe.CopyBytes(std::span(t.ip).first(kIpv4Size))) return false;
      break;
    case AddressType::kIpv6:
      t.type = AddressType::kIpv6;
      if (!probe.CopyBytes(std::span(t.ip))) return false;
      break;
    case AddressType::kDomain: {
      std::span<const uint8_t> name;
      if (!probe.ReadPrefixed8(&name) || name.empty()) return false;
      t.type = AddressType::kDomain;
      std::copy(name.begin(), name.end(), t.name.begin());
      t.name_size = static_cast<uint8_t>(name.size());
      break;
    }
    default:
      return false;
  }
  if (!probe.ReadU16(&t.port)) return false;
  *out = t;
  r = probe;
  return true;
}

}  // namespace strait::device
