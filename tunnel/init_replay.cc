#include "tunnel/init_replay.h"

#include <algorithm>
#include <cassert>

namespace strait::tunnel {
namespace {

InitReplayRecord::Key KeyOf(const crypto::X25519PublicKey& k) {
  InitReplayRecord::Key out;
  std::copy(k.bytes().begin(), k.bytes().end(), out.begin());
  return out;
}

}  // namespace

std::string_view InitCheckName(InitCheck c) {
  switch (c) {
    case InitCheck::kAccepted: return "accepted";
    case InitCheck::kReplayed: return "replay";
    case InitCheck::kBelowFloor: return "below_floor";
    case InitCheck::kTooOld: return "too_old";
    case InitCheck::kTooNew: return "too_new";
  }
  return "unknown";
}

InitReplayRecord::InitReplayRecord(size_t max_entries) : max_entries_(std::max<size_t>(max_entries, 1)) {}

std::optional<uint64_t> InitReplayRecord::newest(const crypto::X25519PublicKey& rs) const {
  const auto it = newest_.find(KeyOf(rs));
  if (it == newest_.end()) return std::nullopt;
  return it->second;
}

void InitReplayRecord::DropOldest(bool expired) {
  assert(!by_age_.empty());
  const auto oldest = by_age_.begin();
  floor_ = std::max(floor_, oldest->first);
  newest_.erase(oldest->second);
  by_age_.erase(oldest);
  ++(expired ? stats_.dropped_expired : stats_.dropped_full);
}

InitCheck InitReplayRecord::Check(const crypto::X25519PublicKey& rs, uint64_t timestamp_ns, uint64_t now_ns) {
  // Saturating: `now` near 0 or near 2^64 must not wrap the window.
  const uint64_t earliest = now_ns > kWindowNs ? now_ns - kWindowNs : 0;
  const uint64_t latest = now_ns < UINT64_MAX - kWindowNs ? now_ns + kWindowNs : UINT64_MAX;
  while (!by_age_.empty() && by_age_.begin()->first < earliest) DropOldest(/*expired=*/true);

  InitCheck result = InitCheck::kAccepted;
  const Key key = KeyOf(rs);
  const auto it = newest_.find(key);
  if (timestamp_ns > latest) {
    result = InitCheck::kTooNew;
  } else if (timestamp_ns < earliest) {
    result = InitCheck::kTooOld;
  } else if (it != newest_.end()) {
    if (timestamp_ns <= it->second) {
      result = InitCheck::kReplayed;
    } else {
      by_age_.erase({it->second, key});
      it->second = timestamp_ns;
      by_age_.emplace(timestamp_ns, key);
    }
  } else if (timestamp_ns <= floor_) {
    result = InitCheck::kBelowFloor;
  } else {
    newest_.emplace(key, timestamp_ns);
    by_age_.emplace(timestamp_ns, key);
    // The new entry may be the oldest itself: then it is dropped at once and only the floor remembers it.
    while (newest_.size() > max_entries_) DropOldest(/*expired=*/false);
  }
  ++stats_.checks[static_cast<size_t>(result)];
  return result;
}

bool InitReplayRecord::CheckInvariants() const {
  if (newest_.size() != by_age_.size() || newest_.size() > max_entries_) return false;
  for (const auto& [ts, key] : by_age_) {
    const auto it = newest_.find(key);
    if (it == newest_.end() || it->second != ts || ts < floor_) return false;
  }
  return true;
}

}  // namespace strait::tunnel
