#include "tunnel/device/dns_forwarder.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "crypto/keys.h"

namespace strait::device {
namespace {

constexpr size_t kIdSpace = 65536;
// Random draws before falling back to a scan for a free ID. With at most 65,535 of 65,536 IDs in flight a scan
// always finds one; with the default 1,024 a draw misses with probability 1/64, so the scan is practically never
// reached.
constexpr int kIdDraws = 8;

uint16_t RandomId() {
  uint8_t b[2];
  crypto::RandomBytes(b);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}

DnsForwarderOptions Clamped(DnsForwarderOptions o) {
  o.max_pending = std::clamp<size_t>(o.max_pending, 1, kIdSpace - 1);
  if (!o.random_id) o.random_id = RandomId;
  return o;
}

}  // namespace

DnsForwarder::DnsForwarder(DnsForwarderOptions options)
    : options_(Clamped(std::move(options))), entries_(options_.max_pending), slot_of_id_(kIdSpace, 0) {
  free_.reserve(entries_.size());
  for (size_t i = entries_.size(); i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
}

void DnsForwarder::Update(std::span<const uint32_t> servers, std::span<const std::string> domains) {
  servers_.assign(servers.begin(), servers.end());
  domains_ = CanonicalDnsDomains(domains);
  next_internal_ = 0;
}

uint16_t DnsForwarder::FreshId() {
  uint16_t id = 0;
  for (int i = 0; i < kIdDraws; ++i) {
    id = options_.random_id();
    if (slot_of_id_[id] == 0) return id;
  }
  while (slot_of_id_[id] != 0) id = static_cast<uint16_t>(id + 1);
  return id;
}

DnsForwarder::QueryVerdict DnsForwarder::OnQuery(std::span<uint8_t> packet, UdpEndpoint asker, int64_t now_ns,
                                                 UdpEndpoint* to, size_t* reply_size) {
  ++stats_.queries;
  DnsMessage m;
  const DnsParse p = ParseDnsMessage(packet, &m);
  if (p != DnsParse::kOk) {
    ++stats_.malformed;
    ++stats_.malformed_by[static_cast<size_t>(p)];
    return QueryVerdict::kDrop;
  }
  if (m.response() || m.opcode() != 0) {
    ++stats_.not_query;
    return QueryVerdict::kDrop;
  }
  const std::span<const uint8_t> question = std::span<const uint8_t>(packet).subspan(
      kDnsHeaderSize, m.question_end - kDnsHeaderSize);

  const bool internal = !servers_.empty() && MatchesDomain(m.name(), domains_);
  if (internal) {
    *to = UdpEndpoint{servers_[next_internal_++ % servers_.size()], options_.internal_port};
  } else if (!options_.upstreams.empty()) {
    *to = options_.upstreams[next_external_++ % options_.upstreams.size()];
  } else {
    // Nobody to ask: say so now rather than let the asker wait. The question already sits where the answer
    // needs it; copy it out first so the writer never reads what it writes.
    ++stats_.no_upstream;
    std::array<uint8_t, kDnsMaxQuestionSize> q{};
    std::memcpy(q.data(), question.data(), question.size());
    *reply_size = WriteDnsServFail(m.id, m.flags, std::span<const uint8_t>(q).first(question.size()), packet);
    return *reply_size != 0 ? QueryVerdict::kServFail : QueryVerdict::kDrop;
  }

  if (pending_ == entries_.size()) {
    ++stats_.full;
    Remove(oldest_);
  }
  const uint32_t slot = free_.back();
  free_.pop_back();
  Entry& e = entries_[slot];
  e.asker = asker;
  e.to = *to;
  e.deadline_ns = now_ns + options_.timeout_ns;
  e.asker_id = m.id;
  e.id = FreshId();
  e.flags = m.flags;
  e.question_size = static_cast<uint16_t>(question.size());
  std::memcpy(e.question.data(), question.data(), question.size());
  e.prev = newest_;
  e.next = kNone;
  if (newest_ != kNone) {
    entries_[newest_].next = slot;
  } else {
    oldest_ = slot;
  }
  newest_ = slot;
  slot_of_id_[e.id] = static_cast<uint16_t>(slot + 1);
  ++pending_;
  ++(internal ? stats_.internal : stats_.external);
  SetDnsId(packet, e.id);
  return QueryVerdict::kForward;
}

bool DnsForwarder::OnAnswer(std::span<uint8_t> packet, UdpEndpoint from, UdpEndpoint* asker) {
  DnsMessage m;
  if (ParseDnsMessage(packet, &m) != DnsParse::kOk || !m.response()) {
    ++stats_.answers_malformed;
    return false;
  }
  const uint16_t slot_plus_one = slot_of_id_[m.id];
  if (slot_plus_one == 0) {
    ++stats_.spoofed;
    return false;
  }
  const uint32_t slot = slot_plus_one - 1u;
  const Entry& e = entries_[slot];
  const auto question = std::span<const uint8_t>(packet).subspan(kDnsHeaderSize, m.question_end - kDnsHeaderSize);
  if (!(from == e.to) || !SameDnsQuestion(question, std::span<const uint8_t>(e.question).first(e.question_size))) {
    ++stats_.spoofed;  // the query keeps waiting: the real answer may still come
    return false;
  }
  *asker = e.asker;
  SetDnsId(packet, e.asker_id);
  Remove(slot);
  ++stats_.answers;
  return true;
}

bool DnsForwarder::PopExpired(int64_t now_ns, std::span<uint8_t> out, UdpEndpoint* asker, size_t* size) {
  if (oldest_ == kNone || entries_[oldest_].deadline_ns > now_ns) return false;
  const Entry& e = entries_[oldest_];
  *asker = e.asker;
  *size = WriteDnsServFail(e.asker_id, e.flags, std::span<const uint8_t>(e.question).first(e.question_size), out);
  Remove(oldest_);
  ++stats_.timeouts;
  return true;
}

std::optional<int64_t> DnsForwarder::NextDeadline() const {
  if (oldest_ == kNone) return std::nullopt;
  return entries_[oldest_].deadline_ns;
}

void DnsForwarder::Remove(uint32_t slot) {
  Entry& e = entries_[slot];
  assert(slot_of_id_[e.id] == slot + 1);
  slot_of_id_[e.id] = 0;
  if (e.prev != kNone) {
    entries_[e.prev].next = e.next;
  } else {
    oldest_ = e.next;
  }
  if (e.next != kNone) {
    entries_[e.next].prev = e.prev;
  } else {
    newest_ = e.prev;
  }
  e.prev = e.next = kNone;
  free_.push_back(slot);
  --pending_;
}

}  // namespace strait::device
