// DNS messages as the device's split-DNS stub sees them (docs/device.md, "DNS with --tun"; RFC 1035 §4.1): the
// 12-byte header and the first question, nothing more. The stub routes a query by its name and matches an answer to
// its query by ID and question; it never reads the answer, authority or additional sections (an EDNS OPT record
// in the additional section, DNS cookies included, goes through untouched). Sans-I/O, no allocation.
//
//   0        2        4         6         8         10        12
//   |  id    | flags  | qdcount | ancount | nscount | arcount | question: qname (labels), u16 qtype, u16 qclass | ...
//
//   flags: |QR| opcode (4) |AA|TC|RD|RA| Z |AD|CD| rcode (4) |
//
// What ParseDnsMessage checks, in this order (each failure is the DnsParse named): 12 header bytes (too_short);
// QDCOUNT exactly 1 (bad_question_count: every query in practice asks one question, and an answer echoes it);
// the name: labels of 1..63 bytes (a length byte 64..191 is bad_label; 192..255 is a compression pointer,
// compressed_name: a question's name is the first name in the message, so there is nothing earlier to point at);
// each label byte printable ASCII other than '.', so the text form means the same name as the wire form
// (bad_label); at most 253 bytes as dotted text (name_too_long); the name's end, qtype and qclass inside the
// message (truncated). The root name (a single zero byte) is valid and has the empty text form.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strait::device {

// ---- Header layout (RFC 1035 §4.1.1) ----
inline constexpr size_t kDnsHeaderSize = 12;
inline constexpr size_t kDnsIdOffset = 0;       // u16
inline constexpr size_t kDnsFlagsOffset = 2;    // u16
inline constexpr size_t kDnsQdCountOffset = 4;  // u16; then ancount, nscount, arcount
static_assert(kDnsQdCountOffset + 4 * 2 == kDnsHeaderSize);
inline constexpr uint16_t kDnsFlagResponse = 0x8000;   // QR
inline constexpr uint16_t kDnsOpcodeMask = 0x7800;     // 0 = QUERY
inline constexpr uint16_t kDnsFlagTruncated = 0x0200;  // TC
inline constexpr uint16_t kDnsFlagRecursionDesired = 0x0100;
inline constexpr uint16_t kDnsFlagRecursionAvailable = 0x0080;
inline constexpr uint16_t kDnsFlagCheckingDisabled = 0x0010;
inline constexpr uint16_t kDnsRcodeMask = 0x000F;
inline constexpr uint8_t kDnsRcodeServFail = 2;

// ---- Name bounds (RFC 1035 §2.3.4) ----
inline constexpr size_t kDnsMaxLabelSize = 63;
inline constexpr size_t kDnsMaxNameText = 253;  // dotted, no trailing dot
inline constexpr size_t kDnsMaxNameWire = 255;  // length bytes + labels + the root's zero byte
// The largest question: name, qtype, qclass.
inline constexpr size_t kDnsMaxQuestionSize = kDnsMaxNameWire + 4;

enum class DnsParse : uint8_t {
  kOk,
  kTooShort,          // fewer than 12 bytes
  kBadQuestionCount,  // QDCOUNT is not 1
  kBadLabel,          // a label length 64..191, or a byte in a label that is not printable ASCII or is '.'
  kCompressedName,    // a compression pointer in the question's name
  kNameTooLong,       // more than 253 bytes as text
  kTruncated,         // the name, qtype or qclass runs past the end
};
inline constexpr size_t kDnsParseCount = 7;
// Stable snake_case names for counters ("too_short", ...).
std::string_view DnsParseName(DnsParse p);

// A parsed message's header and first question. The name is copied (lower-case) so the view outlives the packet.
struct DnsMessage {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  // The question as it is on the wire (name, qtype, qclass): packet[kDnsHeaderSize, question_end).
  size_t question_end = 0;
  std::array<char, kDnsMaxNameText> name_buf{};
  uint8_t name_size = 0;  // <= 253

  // Lower-case, dotted, no trailing dot; empty for the root.
  std::string_view name() const { return {name_buf.data(), name_size}; }
  bool response() const { return (flags & kDnsFlagResponse) != 0; }
  uint8_t opcode() const { return static_cast<uint8_t>((flags & kDnsOpcodeMask) >> 11); }
  uint8_t rcode() const { return static_cast<uint8_t>(flags & kDnsRcodeMask); }
  bool truncated() const { return (flags & kDnsFlagTruncated) != 0; }
};

// Parses `packet` (a query or a response) into *out. On anything but kOk *out is unspecified.
DnsParse ParseDnsMessage(std::span<const uint8_t> packet, DnsMessage* out);

// The 16-bit ID of a message of at least 2 bytes (0 if shorter) / rewritten in place (no-op if shorter).
uint16_t DnsId(std::span<const uint8_t> packet);
void SetDnsId(std::span<uint8_t> packet, uint16_t id);

// True when `name` (lower-case, no trailing dot, as DnsMessage::name) equals one of `domains` or lies under one on
// a label boundary: "a.corp.example" and "corp.example" match "corp.example", "xcorp.example" does not. Domains
// must be canonical (lower-case, no trailing dot: CanonicalDnsDomains); an empty domain matches nothing.
bool MatchesDomain(std::string_view name, std::span<const std::string> domains);

// Canonical forms (tunnel/host_name.h: lower-case, no trailing dot) of the valid names in `domains`; invalid ones
// are left out (TUNNEL_CONFIG's decoder has refused them already; this keeps the stub's matching honest anyway).
std::vector<std::string> CanonicalDnsDomains(std::span<const std::string> domains);

// Wire questions (name, qtype, qclass as on the wire) compared with ASCII case folded: a server may answer with the
// name in another case (RFC 4343). Label length bytes are at most 63, never letters, so folding cannot alter them.
bool SameDnsQuestion(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Writes a SERVFAIL answer to a query into `out`: the header (`id`, QR, the query's opcode, RD and CD, RA, rcode
// 2, QDCOUNT 1) and `question` (wire form, as DnsMessage's question bytes). Returns the size written, or 0 if
// `out` is too small.
size_t WriteDnsServFail(uint16_t id, uint16_t query_flags, std::span<const uint8_t> question, std::span<uint8_t> out);

}  // namespace strait::device
