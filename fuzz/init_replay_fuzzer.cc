// Differential fuzzer: tunnel::InitReplayRecord against a model of docs/protocol.md §6 written as plainly as
// possible (a vector of (device, newest timestamp), linear scans): "drop every entry more than the window behind
// now, oldest first; refuse outside now ± window; refuse a held device's timestamp unless strictly newer; refuse a
// new device's timestamp unless above the floor; when more than `cap` are held drop the oldest; the floor is the
// largest timestamp dropped".
//
// Input: one byte of cap (1..8), then operations of three bytes each:
//   a: bits 0-2 the device (one of 8 keys); bits 3-7 move the clock: 0..30 -> forward that many 10 s steps,
//      31 -> back 200 s (a connector clock step)
//   b, c: the timestamp, now + int16(b << 8 | c) / 128 s (within about ±256 s: both sides of the window)
// After each op the result, the floor, the size and every device's newest timestamp must match the model.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "tunnel/init_replay.h"

namespace {

using strait::tunnel::InitCheck;
using strait::tunnel::InitReplayRecord;
using strait::tunnel::kNsPerSecond;

void Check(bool cond) {
  if (!cond) __builtin_trap();
}

strait::crypto::X25519PublicKey Key(uint8_t id) {
  strait::crypto::X25519PublicKey k;
  for (uint8_t& b : k.mutable_bytes()) b = id;
  return k;
}

struct Model {
  size_t cap;
  std::vector<std::pair<uint8_t, uint64_t>> held;  // (device, newest)
  uint64_t floor = 0;

  // The oldest (timestamp, then device: keys of one fill byte order like their ids) entry.
  size_t Oldest() const {
    size_t best = 0;
    for (size_t i = 1; i < held.size(); ++i) {
      if (std::make_pair(held[i].second, held[i].first) < std::make_pair(held[best].second, held[best].first)) {
        best = i;
      }
    }
    return best;
  }
  void Drop(size_t i) {
    floor = std::max(floor, held[i].second);
    held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
  }
  std::optional<uint64_t> Newest(uint8_t id) const {
    for (const auto& [d, ts] : held) {
      if (d == id) return ts;
    }
    return std::nullopt;
  }

  InitCheck Judge(uint8_t id, uint64_t ts, uint64_t now) {
    const uint64_t w = InitReplayRecord::kWindowNs;
    for (;;) {
      if (held.empty()) break;
      const size_t i = Oldest();
      if (held[i].second + w >= now) break;
      Drop(i);
    }
    if (ts > now + w) return InitCheck::kTooNew;
    if (ts + w < now) return InitCheck::kTooOld;
    for (auto& [d, newest] : held) {
      if (d != id) continue;
      if (ts <= newest) return InitCheck::kReplayed;
      newest = ts;
      return InitCheck::kAccepted;
    }
    if (ts <= floor) return InitCheck::kBelowFloor;
    held.emplace_back(id, ts);
    while (held.size() > cap) Drop(Oldest());
    return InitCheck::kAccepted;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t cap = 1 + data[0] % 8;
  InitReplayRecord record(cap);
  Model model{cap, {}, 0};
  // Far from 0 and 2^64, so the model's plain arithmetic cannot wrap (the record's saturation has a unit test).
  uint64_t now = 1'000'000'000 * kNsPerSecond;
  for (size_t i = 1; i + 3 <= size; i += 3) {
    const uint8_t id = data[i] & 7;
    const uint8_t step = data[i] >> 3;
    if (step == 31) {
      now -= 200 * kNsPerSecond;
    } else {
      now += step * 10 * kNsPerSecond;
    }
    const auto off = static_cast<int16_t>(static_cast<uint16_t>(data[i + 1] << 8 | data[i + 2]));
    const int64_t step_ns = static_cast<int64_t>(kNsPerSecond / 128);
    const uint64_t ts = static_cast<uint64_t>(static_cast<int64_t>(now) + off * step_ns);
    const InitCheck want = model.Judge(id, ts, now);
    const InitCheck got = record.Check(Key(id), ts, now);
    Check(got == want);
    Check(record.floor() == model.floor);
    Check(record.size() == model.held.size());
    Check(record.size() <= cap);
    for (uint8_t d = 0; d < 8; ++d) Check(record.newest(Key(d)) == model.Newest(d));
    Check(record.CheckInvariants());
  }
  return 0;
}
