// DnsForwarder: the decisions of the device's split-DNS stub (DnsStub, dns_stub.h), without sockets or clocks
// (style.md item 1): which server a query goes to, the table of queries waiting for an answer, which answers are
// let through, and when a query has waited too long. The stub feeds it datagrams and the time; it answers with
// where to send them. docs/device.md, "DNS with --tun".
//
//   query from an asker (loopback) ─▶ parse (malformed: dropped, counted by DnsParse reason; not a QUERY: dropped)
//     name under a domain and internal servers known ─▶ an internal server (round robin), through the tunnel
//     otherwise ─▶ a system upstream (round robin over what resolv.conf listed)
//     no server at all ─▶ SERVFAIL at once
//     the ID is replaced with a fresh random one (unused by any pending query); the original is kept
//   answer on the upstream socket ─▶ parse; its ID names a pending query, it comes from the address that query
//     went to, and its question is the query's (case folded) ─▶ the original ID back, to the asker; anything else is
//     dropped and counted (spoofed), and the pending query keeps waiting for the real answer
//   a query waiting `timeout` ─▶ SERVFAIL to the asker (PopExpired)
//
// Bounds: max_pending queries wait at once (preallocated, no allocation per query). When the table is full the
// oldest query is dropped without an answer (counted: full) to make room. Why dropped and not answered SERVFAIL:
// a full table means a flood; the oldest query is the one whose asker is closest to retrying on its own (glibc
// resends after its 5 s timeout, as for a lost datagram), a SERVFAIL would be an extra send per query exactly
// when sends are scarce, and it would tell the asker "the server failed" when the truth is "try again". An answer
// that comes later for the dropped query no longer matches and counts as spoofed.
//
// Threading: none of its own; the stub calls it on its loop thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tunnel/device/dns_message.h"

namespace strait::device {

// An IPv4 UDP address, host order.
struct UdpEndpoint {
  uint32_t ip = 0;
  uint16_t port = 0;
  friend bool operator==(const UdpEndpoint&, const UdpEndpoint&) = default;
};

struct DnsForwarderOptions {
  // The system's resolvers (the IPv4 nameservers the original resolv.conf listed), for every name not under
  // dns_domains.
  std::vector<UdpEndpoint> upstreams;
  // Port of the internal servers (TUNNEL_CONFIG carries addresses only); 53 but in tests.
  uint16_t internal_port = 53;
  size_t max_pending = 1024;  // 1..65535
  int64_t timeout_ns = 5'000'000'000;
  // Fresh query IDs; default: crypto::RandomBytes (the fuzz build's is seeded, so runs replay).
  std::function<uint16_t()> random_id;
};

struct DnsStubStats {
  uint64_t queries = 0;          // datagrams on the stub's address
  uint64_t internal = 0;         // forwarded to an internal server
  uint64_t external = 0;         // forwarded to a system upstream
  uint64_t answers = 0;          // answers delivered to their asker
  uint64_t timeouts = 0;         // SERVFAIL after timeout
  uint64_t malformed = 0;        // queries that did not parse (by reason below)
  std::array<uint64_t, kDnsParseCount> malformed_by{};
  uint64_t not_query = 0;        // a response, or an opcode other than QUERY, sent to the stub
  uint64_t no_upstream = 0;      // no server to ask: SERVFAIL at once
  uint64_t spoofed = 0;          // answers with no pending query for their ID, or from the wrong address, or for
                                 // another question
  uint64_t answers_malformed = 0;
  uint64_t full = 0;             // oldest pending query dropped to make room
  // Counted by the stub's I/O (DnsStub), not by DnsForwarder:
  uint64_t send_failed = 0;      // sendto failed (e.g. no route to an internal server, socket buffer full)
  uint64_t oversized = 0;        // a datagram larger than the receive buffer (64 KiB), dropped
};

class DnsForwarder {
 public:
  explicit DnsForwarder(DnsForwarderOptions options);

  // The tunnel's DNS (TUNNEL_CONFIG dns_servers, dns_domains); replaces the previous ones. Queries already
  // forwarded keep waiting for the server they went to.
  void Update(std::span<const uint32_t> servers, std::span<const std::string> domains);

  enum class QueryVerdict : uint8_t {
    kForward,    // `packet` now carries the fresh ID: send it to *to
    kServFail,   // `packet` was rewritten into a SERVFAIL of *reply_size bytes: send it back to the asker
    kDrop,       // counted
  };
  // A datagram the stub received from `asker`. No allocation.
  QueryVerdict OnQuery(std::span<uint8_t> packet, UdpEndpoint asker, int64_t now_ns, UdpEndpoint* to,
                       size_t* reply_size);

  // A datagram the upstream socket received from `from`. On true, `packet` carries the asker's ID again and goes
  // to *asker; on false it was dropped (counted).
  bool OnAnswer(std::span<uint8_t> packet, UdpEndpoint from, UdpEndpoint* asker);

  // The oldest pending query if its deadline is at or before `now_ns`: it is removed, counted as a timeout, and a
  // SERVFAIL for it written to `out` (at least kDnsHeaderSize + kDnsMaxQuestionSize bytes). Call until false.
  bool PopExpired(int64_t now_ns, std::span<uint8_t> out, UdpEndpoint* asker, size_t* size);
  // The deadline of the oldest pending query.
  std::optional<int64_t> NextDeadline() const;

  size_t pending() const { return pending_; }
  const DnsStubStats& stats() const { return stats_; }
  DnsStubStats& mutable_stats() { return stats_; }  // the stub adds its I/O counters
  const std::vector<std::string>& domains() const { return domains_; }
  const std::vector<uint32_t>& servers() const { return servers_; }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct Entry {
    UdpEndpoint asker;
    UdpEndpoint to;
    int64_t deadline_ns = 0;
    uint32_t prev = kNone;  // insertion (= deadline) order
    uint32_t next = kNone;
    uint16_t asker_id = 0;
    uint16_t id = 0;
    uint16_t flags = 0;
    uint16_t question_size = 0;
    std::array<uint8_t, kDnsMaxQuestionSize> question{};
  };

  uint16_t FreshId();
  void Remove(uint32_t slot);

  // Immutable after construction.
  const DnsForwarderOptions options_;
  // Set by Update.
  std::vector<uint32_t> servers_;
  std::vector<std::string> domains_;  // canonical
  // The pending table: slots, a free stack, the FIFO, and the slot of each ID in flight (slot + 1; 0 = free).
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  std::vector<uint16_t> slot_of_id_;
  uint32_t oldest_ = kNone;
  uint32_t newest_ = kNone;
  size_t pending_ = 0;
  size_t next_internal_ = 0;
  size_t next_external_ = 0;
  DnsStubStats stats_;
};

}  // namespace strait::device
