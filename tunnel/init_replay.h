// InitReplayRecord: the connector's memory of the newest SESSION_INIT timestamp per device (docs/protocol.md §6,
// "Replayed SESSION_INIT"), so that a replayed Noise IK message 1 is refused. Sans-I/O: the caller passes `now`.
//
//   Check(rs, timestamp, now):
//     timestamp > now + kWindowNs or timestamp < now - kWindowNs  -> kTooNew / kTooOld
//     rs held, timestamp <= its newest                              -> kReplayed
//     rs not held, timestamp <= floor                               -> kBelowFloor
//     else                                                          -> kAccepted; newest[rs] = timestamp
//
// Bounds: entries whose timestamp fell more than kWindowNs behind `now` are dropped (the window check refuses
// anything that could match them), and at most `max_entries` are held: a new device beyond that drops the entry
// with the oldest timestamp. floor = the largest timestamp ever dropped, so a dropped device's replays (whose
// timestamps are at most its dropped entry) still fail. Invariant: floor <= every held timestamp.
//
// Cost: O(log n) per Check (two ordered containers; keys are attacker-chosen, so no hashing). Allocation: one node
// per container per new device, 160 bytes an entry in all (glibc; 10 MiB at kDefaultMaxEntries). Not thread-safe:
// the connector's loop thread owns it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "crypto/keys.h"

namespace strait::tunnel {

inline constexpr uint64_t kNsPerSecond = 1'000'000'000;

enum class InitCheck : uint8_t {
  kAccepted,
  kReplayed,    // not newer than the newest accepted from this device (an exact replay is equal)
  kBelowFloor,  // device not held and the timestamp is not newer than the newest one the record dropped
  kTooOld,      // more than kWindowNs behind the connector's clock
  kTooNew,      // more than kWindowNs ahead of it
};
inline constexpr size_t kInitCheckCount = 5;
std::string_view InitCheckName(InitCheck c);  // "accepted", "replay", "below_floor", "too_old", "too_new"

struct InitReplayStats {
  std::array<uint64_t, kInitCheckCount> checks{};  // by result (kAccepted included)
  uint64_t dropped_expired = 0;  // entries dropped because they fell behind the window
  uint64_t dropped_full = 0;     // entries dropped early to make room (each may raise the floor above the window)
  uint64_t count(InitCheck c) const { return checks[static_cast<size_t>(c)]; }
};

class InitReplayRecord {
 public:
  using Key = std::array<uint8_t, 32>;  // the device's Noise static key rs
  static constexpr uint64_t kWindowNs = 120 * kNsPerSecond;
  static constexpr size_t kDefaultMaxEntries = 65'536;

  explicit InitReplayRecord(size_t max_entries = kDefaultMaxEntries);

  // Judges a SESSION_INIT of device `rs` carrying `timestamp_ns` at the connector's time `now_ns` (both Unix ns)
  // and records it if accepted. Drops expired entries first.
  InitCheck Check(const crypto::X25519PublicKey& rs, uint64_t timestamp_ns, uint64_t now_ns);

  size_t size() const { return newest_.size(); }
  size_t max_entries() const { return max_entries_; }
  uint64_t floor() const { return floor_; }
  std::optional<uint64_t> newest(const crypto::X25519PublicKey& rs) const;
  const InitReplayStats& stats() const { return stats_; }
  // The two containers agree, size <= max_entries, floor <= every held timestamp. For tests and fuzzing.
  bool CheckInvariants() const;

 private:
  void DropOldest(bool expired);

  const size_t max_entries_;
  std::map<Key, uint64_t> newest_;            // rs -> newest accepted timestamp
  std::set<std::pair<uint64_t, Key>> by_age_;  // (timestamp, rs), oldest first
  uint64_t floor_ = 0;
  InitReplayStats stats_;
};

// Device: the timestamps it puts into SESSION_INIT, strictly increasing even if the clock stands still or steps
// back within one process: Next(clock) = max(clock, previous + 1).
class InitTimestampClock {
 public:
  uint64_t Next(uint64_t clock_ns) {
    last_ = clock_ns > last_ ? clock_ns : last_ + 1;
    return last_;
  }

 private:
  uint64_t last_ = 0;
};

}  // namespace strait::tunnel
