// dns_message_fuzzer: arbitrary bytes as a DNS datagram into the split-DNS stub's parser
// (tunnel/device/dns_message.h) and, as a query and as an answer, into its forwarder (dns_forwarder.h).
// Properties: never crashes or reads out of bounds; a parsed name is 0..253 bytes of lower-case printable ASCII
// whose labels are 1..63 bytes, and it matches itself as a domain; the question ends inside the packet; the
// SERVFAIL for a parsed query parses back to the same ID, question and name with rcode 2; a forwarded query keeps
// every byte but the ID, and its answer (the same bytes with QR set) from the server it went to is delivered with
// the original ID; an answer from anywhere else is never delivered.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tunnel/device/dns_forwarder.h"
#include "tunnel/device/dns_message.h"

namespace {

using strait::device::DnsForwarder;
using strait::device::DnsMessage;
using strait::device::DnsParse;
using strait::device::UdpEndpoint;

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckName(std::string_view name) {
  Check(name.size() <= strait::device::kDnsMaxNameText);
  size_t label = 0;
  for (const char c : name) {
    Check(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
    if (c == '.') {
      Check(label >= 1 && label <= strait::device::kDnsMaxLabelSize);
      label = 0;
    } else {
      ++label;
    }
  }
  Check(name.empty() || (label >= 1 && label <= strait::device::kDnsMaxLabelSize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> packet(data, data + size);
  DnsMessage m;
  const DnsParse p = strait::device::ParseDnsMessage(packet, &m);
  Check(!strait::device::DnsParseName(p).empty());
  if (p == DnsParse::kOk) {
    CheckName(m.name());
    Check(m.question_end > strait::device::kDnsHeaderSize && m.question_end <= packet.size());
    Check(m.question_end - strait::device::kDnsHeaderSize <= strait::device::kDnsMaxQuestionSize);
    Check(m.id == strait::device::DnsId(packet));
    if (!m.name().empty()) {
      const std::vector<std::string> self = {std::string(m.name())};
      Check(strait::device::MatchesDomain(m.name(), self));
      Check(!strait::device::MatchesDomain("x" + std::string(m.name()), self));
    }
    const auto question = std::span<const uint8_t>(packet).subspan(strait::device::kDnsHeaderSize,
                                                                   m.question_end - strait::device::kDnsHeaderSize);
    std::vector<uint8_t> fail(strait::device::kDnsHeaderSize + strait::device::kDnsMaxQuestionSize);
    const size_t n = strait::device::WriteDnsServFail(m.id, m.flags, question, fail);
    Check(n == m.question_end);
    fail.resize(n);
    DnsMessage f;
    Check(strait::device::ParseDnsMessage(fail, &f) == DnsParse::kOk);
    Check(f.id == m.id && f.response() && f.rcode() == strait::device::kDnsRcodeServFail && f.name() == m.name());
    Check(strait::device::SameDnsQuestion(question, std::span<const uint8_t>(fail).subspan(12)));
  }

  // Through the forwarder: the packet as a query, then its echo as the answer.
  strait::device::DnsForwarderOptions o;
  const UdpEndpoint upstream{0x0A000035, 53};
  o.upstreams = {upstream};
  o.max_pending = 2;
  DnsForwarder fw(o);
  const std::vector<uint32_t> servers = {0x0A140035};
  const std::vector<std::string> domains = {"corp.example", "internal"};
  fw.Update(servers, domains);
  std::vector<uint8_t> query = packet;
  UdpEndpoint to;
  size_t reply = 0;
  const UdpEndpoint asker{0x7F000001, 1234};
  const auto verdict = fw.OnQuery(query, asker, 0, &to, &reply);
  const bool is_query = p == DnsParse::kOk && !m.response() && m.opcode() == 0;
  Check((verdict == DnsForwarder::QueryVerdict::kForward) == is_query);
  if (verdict != DnsForwarder::QueryVerdict::kForward) {
    Check(fw.pending() == 0);
    return 0;
  }
  Check(query.size() == packet.size());
  Check(std::equal(query.begin() + 2, query.end(), packet.begin() + 2));
  Check(to == upstream || to == UdpEndpoint{0x0A140035, 53});
  Check((to == upstream) != strait::device::MatchesDomain(m.name(), domains));
  std::vector<uint8_t> answer = query;
  answer[2] |= 0x80;
  UdpEndpoint back;
  std::vector<uint8_t> stray = answer;
  Check(!fw.OnAnswer(stray, UdpEndpoint{to.ip, 5353}, &back));
  Check(fw.OnAnswer(answer, to, &back));
  Check(back == asker && strait::device::DnsId(answer) == m.id);
  Check(fw.pending() == 0 && fw.stats().spoofed == 1 && fw.stats().answers == 1);
  return 0;
}
