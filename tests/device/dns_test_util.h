// Hand-made DNS packets for the split-DNS tests (dns_message_test, dns_forwarder_test, dns_stub_test).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace strait::device::testing {

inline void PutU16(std::vector<uint8_t>& p, uint16_t v) {
  p.push_back(static_cast<uint8_t>(v >> 8));
  p.push_back(static_cast<uint8_t>(v));
}

// A name's wire form from dotted text ("a.b" -> 1 a 1 b 0); no checks (tests build bad names on purpose).
inline void PutName(std::vector<uint8_t>& p, std::string_view name) {
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    p.push_back(static_cast<uint8_t>(label.size()));
    p.insert(p.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  p.push_back(0);
}

// A recursive query (RD) for `name`, type `qtype` (1 = A), class IN.
inline std::vector<uint8_t> DnsQuery(uint16_t id, std::string_view name, uint16_t qtype = 1) {
  std::vector<uint8_t> p;
  PutU16(p, id);
  PutU16(p, 0x0100);  // RD
  PutU16(p, 1);
  PutU16(p, 0);
  PutU16(p, 0);
  PutU16(p, 0);
  PutName(p, name);
  PutU16(p, qtype);
  PutU16(p, 1);
  return p;
}

// The answer to `query` (same ID and question; the query's other sections, such as dig's EDNS OPT record, left
// out) with one A record `a.b.c.d`, its name a pointer to the question's.
inline std::vector<uint8_t> DnsAnswerA(const std::vector<uint8_t>& query, const uint8_t (&address)[4]) {
  size_t end = 12;
  while (end < query.size() && query[end] != 0) end += 1 + query[end];
  end = std::min(end + 1 + 4, query.size());
  std::vector<uint8_t> p(query.begin(), query.begin() + static_cast<std::ptrdiff_t>(end));
  p[2] = 0x81;  // QR, RD
  p[3] = 0x80;  // RA, NOERROR
  p[6] = 0;     // ancount 1, nscount 0, arcount 0
  p[7] = 1;
  p[8] = p[9] = p[10] = p[11] = 0;
  PutU16(p, 0xC00C);
  PutU16(p, 1);    // A
  PutU16(p, 1);    // IN
  PutU16(p, 0);    // TTL
  PutU16(p, 60);
  PutU16(p, 4);
  p.insert(p.end(), address, address + 4);
  return p;
}

}  // namespace strait::device::testing
