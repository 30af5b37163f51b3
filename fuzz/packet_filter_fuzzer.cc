// The connector's packet path decisions (tunnel/connector/packet_filter.h) on arbitrary packets, with rules from a
// real policy file. Input: one byte choosing the direction and the claimed device address's last octet, then the
// packet. Whatever is forwarded still parses (a clamp never breaks a packet), every ICMP answer parses, comes from
// the gateway and has valid checksums, and nothing reads or writes outside the buffers.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tunnel/connector/packet_filter.h"
#include "tunnel/connector/policy_file.h"
#include "tunnel/ip/checksum.h"
#include "tunnel/ip/icmp_error.h"
#include "tunnel/ip/ipv4.h"

namespace {

using namespace strait::connector;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

const Policy& Rules() {
  static const Policy p = ParsePolicy(R"(
[tunnel]
[[tunnel.allow]]
cidrs = ["10.20.0.0/16", "0.0.0.0/1"]
protocols = ["tcp", "udp", "icmp"]
ports = ["1-1000", "8443"]
[[tunnel.deny]]
cidrs = ["10.20.99.0/24"]
protocols = ["udp"]
)", "fuzz.toml").value();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  PacketFilterOptions o;
  o.pool_network = 0x64600000;
  o.pool_prefix = 16;
  o.gateway = 0x64600001;
  o.mtu = 1400;
  PacketFilter f(o);
  static const TunnelPolicy kOpen = [] {
    TunnelPolicy t = Rules().tunnel();
    t.device_to_device = true;
    return t;
  }();
  std::vector<uint8_t> packet(data + 1, data + size);
  std::vector<uint8_t> answer(strait::ip::kIcmpErrorMaxSize);
  const bool parsed_before = strait::ip::ParseIpv4(packet).ok;
  FilterResult r;
  if (data[0] & 0x40) {
    r = f.ToDevice(packet);
  } else {
    r = f.FromDevice(packet, 0x64600000u | (data[0] & 0x3f), 0, answer,
                     (data[0] & 0x80) != 0 ? &kOpen : &Rules().tunnel());
  }
  if (r.forward) {
    Check(parsed_before);
    Check(strait::ip::ParseIpv4(packet).ok);
  }
  if (r.answer_size > 0) {
    Check(!r.forward && r.answer_size <= answer.size());
    const strait::ip::ParsedIpv4 a = strait::ip::ParseIpv4(std::span(answer).first(r.answer_size));
    Check(a.ok && a.packet.src == o.gateway && a.packet.protocol == strait::ip::protocol::kIcmp);
    Check(strait::ip::TransportChecksumValid(a.packet));
  }
  return 0;
}
