// The Direct Connect listener's decisions (tunnel/connector/direct_gate.h, what DirectListener does with its
// connections and their frames), fed accepts from four sources, logins ending (our tenant or another), frames on
// channel 0 and on channels offered or not, and links going down, in any order.
//
// Input: [u8 max_links][u8 max_logins][u8 per_source][u8 max_channels] (each taken modulo a small range, at
// least 1), then 3-byte steps [u8 op][u8 a][u8 b]:
//   op % 4 == 0  a connection from source a % 4 (OnAccept, then Admit when accepted)
//            1  the login of link a (an index into the live links; 255: a link never seen) ends: our tenant if
//               b & 1, else another
//            2  a frame on link a: b % 4 picks the channel (0, the newest offered, the next not yet offered, 7);
//               on channel 0, b / 4 % 4 picks SESSION_REQUEST (valid, valid with a preference, malformed) or PING
//            3  link a goes down: b & 1 was_up, b & 2 closed by us
//
// Model: the header's rules written out over a std::map of links and a FIFO of logins in flight. Properties (trap
// on violation), beyond "never crashes": every verdict equals the model's (which source is refused, when the
// listener is full, which login is evicted, who is admitted, each frame's fate, the channel of each offer, what
// the owner is told at the end); every counter equals the model's count; the bounds hold after every step: links
// that count <= max_links, logins in flight <= max_logins, per source <= max_logins_per_source; offered channels
// are 1, 2, ... per link, never reused, at most max_channels_per_link.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "tunnel/connector/direct_gate.h"
#include "tunnel/frame.h"

namespace {

using namespace strait;             // NOLINT(google-build-using-namespace)
using namespace strait::connector;  // NOLINT(google-build-using-namespace)
using Kind = DirectGate::FrameVerdict::Kind;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

struct ModelLink {
  uint64_t source = 0;
  bool admitted = false;
  bool evicted = false;
  uint32_t next_channel = 1;
};

struct Model {
  DirectGateLimits limits;
  std::map<uint64_t, ModelLink> links;
  std::deque<uint64_t> logins;  // in flight, oldest first
  DirectGateStats stats;

  size_t from(uint64_t source) const {
    size_t n = 0;
    for (uint64_t l : logins) n += links.at(l).source == source ? 1 : 0;
    return n;
  }
  size_t counted() const {
    size_t n = 0;
    for (const auto& [k, l] : links) n += l.evicted ? 0 : 1;
    return n;
  }
  void LoginDone(uint64_t key) {
    for (auto it = logins.begin(); it != logins.end(); ++it) {
      if (*it == key) {
        logins.erase(it);
        return;
      }
    }
  }
};

bool ValidRequest(const std::vector<uint8_t>& p) { return !p.empty() && p[0] == p.size() - 1; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  Model m;
  m.limits = {1u + data[0] % 8u, 1u + data[1] % 8u, 1u + data[2] % 4u, 1u + data[3] % 4u};
  DirectGate gate(m.limits);
  uint64_t next_key = 0x1000;

  for (size_t i = 4; i + 3 <= size; i += 3) {
    const uint8_t op = data[i] % 4;
    const uint8_t a = data[i + 1];
    const uint8_t b = data[i + 2];
    // The link a step names: one of the live links, or one never seen.
    uint64_t key = 0xdead;
    if (a != 255 && !m.links.empty()) {
      auto it = m.links.begin();
      std::advance(it, a % m.links.size());
      key = it->first;
    }
    switch (op) {
      case 0: {
        const uint64_t source = a % 4;
        DirectGate::AcceptVerdict want = DirectGate::AcceptVerdict::kAccept;
        if (m.from(source) >= m.limits.max_logins_per_source) {
          want = DirectGate::AcceptVerdict::kRefuseSource;
          ++m.stats.refused_source;
        } else if (m.counted() >= m.limits.max_links) {
          want = DirectGate::AcceptVerdict::kRefuseFull;
          ++m.stats.refused_full;
        }
        Check(gate.OnAccept(source) == want);
        if (want != DirectGate::AcceptVerdict::kAccept) break;
        const uint64_t k = next_key++;
        ++m.stats.accepted;
        std::optional<uint64_t> evict;
        if (m.logins.size() >= m.limits.max_logins) {
          evict = m.logins.front();
          m.logins.pop_front();
          ++m.stats.logins_evicted;
          ModelLink& old = m.links.at(*evict);
          if (old.evicted) {
            evict.reset();
          } else {
            old.evicted = true;
          }
        }
        m.links[k] = ModelLink{source};
        m.logins.push_back(k);
        Check(gate.Admit(k, source) == evict);
        break;
      }
      case 1: {
        const bool same = (b & 1) != 0;
        m.LoginDone(key);
        DirectGate::UpVerdict want = DirectGate::UpVerdict::kUnknown;
        if (auto it = m.links.find(key); it != m.links.end()) {
          if (same) {
            it->second.admitted = true;
            want = DirectGate::UpVerdict::kAdmitted;
          } else {
            ++m.stats.refused_tenant;
            want = DirectGate::UpVerdict::kRefuseTenant;
          }
        }
        Check(gate.OnLinkUp(key, same) == want);
        break;
      }
      case 2: {
        auto it = m.links.find(key);
        const uint32_t next = it != m.links.end() ? it->second.next_channel : 1;
        const uint32_t channels[4] = {0, next > 1 ? next - 1 : 1, next, 7};
        const uint32_t channel = channels[b % 4];
        tunnel::FrameType type = tunnel::FrameType::kSealedStream;
        std::vector<uint8_t> payload = {1, 2, 3};
        if (channel == 0) {
          switch (b / 4 % 4) {
            case 0: type = tunnel::FrameType::kSessionRequest; payload = {0}; break;
            case 1: type = tunnel::FrameType::kSessionRequest; payload = {2, 'c', '1'}; break;
            case 2: type = tunnel::FrameType::kSessionRequest; payload = {5, 'x'}; break;
            case 3: type = tunnel::FrameType::kPing; payload = std::vector<uint8_t>(8, 0); break;
          }
        }
        const tunnel::FrameHeader h{tunnel::kFramingVersion, type, 0, static_cast<uint32_t>(payload.size()), channel};
        DirectGate::FrameVerdict want;
        if (it != m.links.end() && it->second.admitted) {
          ModelLink& l = it->second;
          if (channel == 0) {
            if (type != tunnel::FrameType::kSessionRequest) {
              want.kind = Kind::kIgnore;
            } else if (!ValidRequest(payload)) {
              want.kind = Kind::kBadRequest;
            } else if (l.next_channel > m.limits.max_channels_per_link) {
              want.kind = Kind::kTooManySessions;
              ++m.stats.refused_channels;
            } else {
              want = {Kind::kOffer, l.next_channel++};
              ++m.stats.offers;
            }
          } else {
            want.kind = channel < l.next_channel ? Kind::kForward : Kind::kNeverOffered;
          }
        }
        const DirectGate::FrameVerdict got = gate.OnFrame(key, h, payload);
        Check(got.kind == want.kind && (got.kind != Kind::kOffer || got.channel == want.channel));
        if (got.kind == Kind::kOffer) Check(got.channel >= 1 && got.channel <= m.limits.max_channels_per_link);
        break;
      }
      case 3: {
        const bool was_up = (b & 1) != 0;
        const bool by_us = (b & 2) != 0;
        m.LoginDone(key);
        DirectGate::DownVerdict want;
        if (auto it = m.links.find(key); it != m.links.end()) {
          want.known = true;
          want.tell_owner = it->second.admitted;
          want.login_failed = !was_up && !by_us;
          if (want.login_failed) ++m.stats.logins_failed;
          m.links.erase(it);
        }
        const DirectGate::DownVerdict got = gate.OnLinkDown(key, was_up, by_us);
        Check(got.known == want.known && got.tell_owner == want.tell_owner && got.login_failed == want.login_failed);
        break;
      }
    }
    // Bounds and counters after every step.
    Check(gate.links() == m.links.size() && gate.counted_links() == m.counted());
    Check(gate.counted_links() <= m.limits.max_links);
    Check(gate.logins_in_flight() == m.logins.size() && m.logins.size() <= m.limits.max_logins);
    for (uint64_t s = 0; s < 4; ++s) Check(m.from(s) <= m.limits.max_logins_per_source);
    const DirectGateStats& g = gate.stats();
    Check(g.accepted == m.stats.accepted && g.refused_full == m.stats.refused_full &&
          g.refused_source == m.stats.refused_source && g.logins_evicted == m.stats.logins_evicted &&
          g.refused_tenant == m.stats.refused_tenant && g.offers == m.stats.offers &&
          g.refused_channels == m.stats.refused_channels && g.logins_failed == m.stats.logins_failed);
  }
  return 0;
}
