// Differential fuzzer: crypto::ReplayWindow against a std::set model of "accept each counter once unless it
// is more than kWindowSize behind the highest accepted counter".
//
// Input: a sequence of operations. Each starts with one op byte; the low 2 bits pick how the counter is made
// (so the fuzzer reaches the interesting region near the window edge instead of random u64s):
//   0: highest + 1 + next byte            (moving forward, small steps)
//   1: highest - (next u16 % 2*kWindowSize)  (behind: inside, at and past the edge)
//   2: next 8 bytes as an absolute counter (far jumps, wrap-around arithmetic)
//   3: highest + 64 * next byte           (word-sized jumps: ring clearing)
// Bit 2 set: Check() only (must agree with the model and change nothing); otherwise Update().
#include <cstddef>
#include <cstdint>
#include <set>

#include "crypto/byte_reader.h"
#include "crypto/replay_window.h"

namespace {

using strait::crypto::ReplayWindow;
using V = ReplayWindow::Verdict;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

struct Model {
  std::set<uint64_t> seen;
  uint64_t highest = 0;

  V Verdict(uint64_t c) const {
    if (c > highest) return V::kAccept;
    if (highest - c > ReplayWindow::kWindowSize) return V::kTooOld;
    return seen.count(c) != 0 ? V::kReplayed : V::kAccept;
  }
  void Accept(uint64_t c) {
    seen.insert(c);
    if (c > highest) highest = c;
    // Counters behind the window can never matter again; keep the model small.
    if (highest > ReplayWindow::kWindowSize) seen.erase(seen.begin(), seen.lower_bound(highest - ReplayWindow::kWindowSize));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  strait::ByteReader r(std::span<const uint8_t>(data, size));
  ReplayWindow w;
  Model m;
  uint8_t op = 0;
  while (r.ReadU8(&op)) {
    uint64_t c = 0;
    switch (op & 3) {
      case 0: {
        uint8_t d = 0;
        if (!r.ReadU8(&d)) return 0;
        c = m.highest + 1 + d;
        break;
      }
      case 1: {
        uint16_t d = 0;
        if (!r.ReadU16(&d)) return 0;
        c = m.highest - (d % (2 * ReplayWindow::kWindowSize));  // may wrap below 0 on purpose
        break;
      }
      case 2:
        if (!r.ReadU64(&c)) return 0;
        break;
      case 3: {
        uint8_t d = 0;
        if (!r.ReadU8(&d)) return 0;
        c = m.highest + 64 * uint64_t{d};
        break;
      }
    }
    const V want = m.Verdict(c);
    Check(w.Check(c) == want);
    if ((op & 4) != 0) continue;  // Check only
    Check(w.Update(c) == want);
    if (want == V::kAccept) m.Accept(c);
    Check(w.last() == m.highest);
  }
  return 0;
}
