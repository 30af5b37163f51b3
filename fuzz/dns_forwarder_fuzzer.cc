// Differential fuzzer: the split-DNS stub's DnsForwarder (tunnel/device/dns_forwarder.h) against a model of its
// contract written as plainly as possible (a deque of pending queries in arrival order, linear scans): "a query
// goes to the internal servers (round robin) iff servers are set and its name is under a domain, else to the
// upstreams (round robin); it gets an ID no pending query has; when the table is full the oldest is dropped; an
// answer is delivered, with the asker's ID, iff its ID is pending, it comes from where that query went and it repeats
// its question; a query whose deadline has passed is failed with SERVFAIL, oldest first".
//
// Input: one byte of max_pending (1..8), then operations of three bytes (a, b, c), a % 4 choosing:
//   0 query    name b % 4 from a fixed set, asker port 1000 + c % 4, asker ID c
//   1 answer   to the pending query b % n (or, with none pending, ID b << 8 | c), c % 4: genuine, from another port,
//              for another name, with the ID + 1 (which may be another pending query's)
//   2 time     forward b * 100 ms, then every expired query is popped
//   3 update   b % 3 internal servers, with or without the domains (c & 1)
// After each op: every verdict, destination, delivered ID, SERVFAIL, counter, the size and the next deadline match.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel/device/dns_forwarder.h"
#include "tunnel/device/dns_message.h"

namespace {

using strait::device::DnsForwarder;
using strait::device::DnsMessage;
using strait::device::DnsParse;
using strait::device::UdpEndpoint;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

constexpr int64_t kTimeout = 5'000'000'000;
constexpr std::string_view kNames[4] = {"db.corp.example", "corp.example", "www.example.com", "xcorp.example"};
constexpr bool kUnderCorp[4] = {true, true, false, false};
constexpr UdpEndpoint kUpstreams[2] = {{0x0A000001, 53}, {0x0A000002, 53}};
constexpr uint32_t kServers[2] = {0x0A140035, 0x0A140036};

std::vector<uint8_t> Packet(uint16_t id, bool response, std::string_view name) {
  std::vector<uint8_t> p = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), response ? uint8_t{0x81} : uint8_t{0x01},
                            0, 0, 1, 0, 0, 0, 0, 0, 0};
  while (!name.empty()) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    p.push_back(static_cast<uint8_t>(label.size()));
    p.insert(p.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  p.insert(p.end(), {0, 0, 1, 0, 1});
  return p;
}

struct Pending {
  UdpEndpoint asker;
  UdpEndpoint to;
  uint16_t asker_id;
  uint16_t id;
  int name;
  int64_t deadline;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  strait::device::DnsForwarderOptions o;
  o.upstreams = {kUpstreams[0], kUpstreams[1]};
  o.max_pending = 1 + data[0] % 8;
  o.timeout_ns = kTimeout;
  DnsForwarder f(o);

  std::deque<Pending> model;
  uint32_t servers = 0;
  bool domains = false;
  size_t next_internal = 0, next_external = 0;
  uint64_t internal = 0, external = 0, answers = 0, spoofed = 0, timeouts = 0, full = 0;
  int64_t now = 0;

  auto find = [&](uint16_t id) {
    for (size_t i = 0; i < model.size(); ++i) {
      if (model[i].id == id) return static_cast<int>(i);
    }
    return -1;
  };

  for (size_t at = 1; at + 3 <= size; at += 3) {
    const uint8_t a = data[at], b = data[at + 1], c = data[at + 2];
    switch (a % 4) {
      case 0: {
        const int name = b % 4;
        const UdpEndpoint asker{0x7F000001, static_cast<uint16_t>(1000 + c % 4)};
        std::vector<uint8_t> q = Packet(c, false, kNames[name]);
        UdpEndpoint to;
        size_t reply = 0;
        Check(f.OnQuery(q, asker, now, &to, &reply) == DnsForwarder::QueryVerdict::kForward);
        UdpEndpoint want;
        if (servers != 0 && domains && kUnderCorp[name]) {
          want = {kServers[next_internal++ % servers], 53};
          ++internal;
        } else {
          want = kUpstreams[next_external++ % 2];
          ++external;
        }
        Check(to == want);
        if (model.size() == o.max_pending) {
          model.pop_front();
          ++full;
        }
        const uint16_t id = strait::device::DnsId(q);
        Check(find(id) < 0);  // never twice in flight
        std::vector<uint8_t> sent = Packet(id, false, kNames[name]);
        Check(q == sent);     // only the ID changed
        model.push_back({asker, to, c, id, name, now + kTimeout});
        break;
      }
      case 1: {
        uint16_t id = static_cast<uint16_t>(b << 8 | c);
        UdpEndpoint from = kUpstreams[0];
        int name = 0;
        if (!model.empty()) {
          const Pending& p = model[b % model.size()];
          id = p.id;
          from = p.to;
          name = p.name;
          switch (c % 4) {
            case 1: from.port = 5353; break;
            case 2: name = (name + 1) % 4; break;
            case 3: id = static_cast<uint16_t>(id + 1); break;
            default: break;
          }
        }
        std::vector<uint8_t> answer = Packet(id, true, kNames[name]);
        UdpEndpoint asker;
        const bool delivered = f.OnAnswer(answer, from, &asker);
        const int i = find(id);
        const bool want = i >= 0 && model[i].to == from && model[i].name == name;
        Check(delivered == want);
        if (want) {
          Check(asker == model[i].asker);
          Check(strait::device::DnsId(answer) == model[i].asker_id);
          model.erase(model.begin() + i);
          ++answers;
        } else {
          ++spoofed;
        }
        break;
      }
      case 2: {
        now += int64_t{b} * 100'000'000;
        std::vector<uint8_t> out(strait::device::kDnsHeaderSize + strait::device::kDnsMaxQuestionSize);
        UdpEndpoint asker;
        size_t n = 0;
        while (f.PopExpired(now, out, &asker, &n)) {
          Check(!model.empty() && model.front().deadline <= now);
          DnsMessage m;
          Check(strait::device::ParseDnsMessage(std::span<const uint8_t>(out).first(n), &m) == DnsParse::kOk);
          Check(m.id == model.front().asker_id && m.rcode() == strait::device::kDnsRcodeServFail);
          Check(m.name() == kNames[model.front().name] && asker == model.front().asker);
          model.pop_front();
          ++timeouts;
        }
        Check(model.empty() || model.front().deadline > now);
        break;
      }
      default: {
        servers = b % 3;
        domains = (c & 1) != 0;
        const std::vector<std::string> d = domains ? std::vector<std::string>{"corp.example"} : std::vector<std::string>{};
        f.Update(std::span<const uint32_t>(kServers, servers), d);
        next_internal = 0;
        break;
      }
    }
    const auto& s = f.stats();
    Check(f.pending() == model.size());
    Check(s.internal == internal && s.external == external && s.answers == answers && s.spoofed == spoofed);
    Check(s.timeouts == timeouts && s.full == full && s.malformed == 0 && s.not_query == 0);
    Check(model.empty() ? !f.NextDeadline() : f.NextDeadline() == model.front().deadline);
  }
  return 0;
}
