#include "tunnel/device/dns_message.h"

#include "crypto/byte_reader.h"
#include "tunnel/host_name.h"

namespace strait::device {
namespace {

char FoldAscii(uint8_t c) {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

// Printable ASCII but '.': what may stand in a label so that the dotted text names the same labels.
bool IsLabelByte(uint8_t c) { return c > 0x20 && c < 0x7f && c != '.'; }

}  // namespace

std::string_view DnsParseName(DnsParse p) {
  switch (p) {
    case DnsParse::kOk: return "ok";
    case DnsParse::kTooShort: return "too_short";
    case DnsParse::kBadQuestionCount: return "bad_question_count";
    case DnsParse::kBadLabel: return "bad_label";
    case DnsParse::kCompressedName: return "compressed_name";
    case DnsParse::kNameTooLong: return "name_too_long";
    case DnsParse::kTruncated: return "truncated";
  }
  return "unknown";
}

DnsParse ParseDnsMessage(std::span<const uint8_t> packet, DnsMessage* out) {
  ByteReader r(packet);
  uint16_t qdcount = 0;
  if (!r.ReadU16(&out->id) || !r.ReadU16(&out->flags) || !r.ReadU16(&qdcount) || !r.Skip(6)) {
    return DnsParse::kTooShort;
  }
  if (qdcount != 1) return DnsParse::kBadQuestionCount;
  size_t text = 0;  // bytes of dotted text so far
  for (;;) {
    uint8_t len = 0;
    if (!r.ReadU8(&len)) return DnsParse::kTruncated;
    if (len == 0) break;
    if (len >= 0xC0) return DnsParse::kCompressedName;
    if (len > kDnsMaxLabelSize) return DnsParse::kBadLabel;
    std::span<const uint8_t> label;
    if (!r.ReadBytes(len, &label)) return DnsParse::kTruncated;
    const size_t dot = text == 0 ? 0 : 1;
    if (text + dot + len > kDnsMaxNameText) return DnsParse::kNameTooLong;
    if (dot != 0) out->name_buf[text] = '.';
    for (size_t i = 0; i < len; ++i) {
      if (!IsLabelByte(label[i])) return DnsParse::kBadLabel;
      out->name_buf[text + dot + i] = FoldAscii(label[i]);
    }
    text += dot + len;
  }
  if (!r.ReadU16(&out->qtype) || !r.ReadU16(&out->qclass)) return DnsParse::kTruncated;
  out->name_size = static_cast<uint8_t>(text);
  out->question_end = packet.size() - r.remaining();
  return DnsParse::kOk;
}

uint16_t DnsId(std::span<const uint8_t> packet) {
  ByteReader r(packet);
  uint16_t id = 0;
  return r.ReadU16(&id) ? id : 0;
}

void SetDnsId(std::span<uint8_t> packet, uint16_t id) {
  if (packet.size() < 2) return;
  ByteWriter w(packet.first(2));
  w.U16(id);
}

bool MatchesDomain(std::string_view name, std::span<const std::string> domains) {
  for (const std::string& d : domains) {
    if (d.empty() || name.size() < d.size() || !name.ends_with(d)) continue;
    if (name.size() == d.size() || name[name.size() - d.size() - 1] == '.') return true;
  }
  return false;
}

std::vector<std::string> CanonicalDnsDomains(std::span<const std::string> domains) {
  std::vector<std::string> out;
  out.reserve(domains.size());
  std::array<char, tunnel::kMaxHostNameSize + 1> buf{};
  for (const std::string& d : domains) {
    std::string_view canonical;
    if (tunnel::CanonicalHostName(d, buf, &canonical)) out.emplace_back(canonical);
  }
  return out;
}

bool SameDnsQuestion(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (FoldAscii(a[i]) != FoldAscii(b[i])) return false;
  }
  return true;
}

size_t WriteDnsServFail(uint16_t id, uint16_t query_flags, std::span<const uint8_t> question, std::span<uint8_t> out) {
  const auto flags = static_cast<uint16_t>(
      kDnsFlagResponse | (query_flags & (kDnsOpcodeMask | kDnsFlagRecursionDesired | kDnsFlagCheckingDisabled)) |
      kDnsFlagRecursionAvailable | kDnsRcodeServFail);
  ByteWriter w(out);
  w.U16(id);
  w.U16(flags);
  w.U16(1);  // qdcount
  w.U16(0);  // ancount
  w.U16(0);  // nscount
  w.U16(0);  // arcount
  w.Bytes(question);
  return w.ok() ? w.written() : 0;
}

}  // namespace strait::device
