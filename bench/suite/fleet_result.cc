#include "bench/suite/fleet_result.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace strait::bench {

FleetResult MergeFleetResults(const std::vector<FleetResult>& parts) {
  FleetResult m;
  if (parts.empty()) return m;
  m.complete = true;
  std::map<std::int64_t, TimelineSample> seconds;  // second (t rounded) -> the parts' samples added
  for (const FleetResult& p : parts) {
    m.logins += p.logins;
    m.errors += p.errors;
    m.dials += p.dials;
    m.peak_up += p.peak_up;
    m.login_ns.Merge(p.login_ns);
    m.recover_ns.Merge(p.recover_ns);
    m.window_s = std::max(m.window_s, p.window_s);
    m.complete = m.complete && p.complete;
    m.stopped = m.stopped || p.stopped;
    if (m.last_error.empty()) m.last_error = p.last_error;
    if (m.cipher.empty() && !p.cipher.empty()) {
      m.tls_version = p.tls_version;
      m.cipher = p.cipher;
    }
    for (const TimelineSample& s : p.timeline) {
      if (!std::isfinite(s.t)) continue;
      TimelineSample& into = seconds[std::llround(std::clamp(s.t, -1e9, 1e9))];
      into.t = std::max(into.t, s.t);
      into.ops += s.ops;
      into.bytes += s.bytes;
      into.errors += s.errors;
    }
  }
  // Each second's samples lie in [k - 0.5, k + 0.5), so their largest t increases strictly from second to second.
  for (const auto& [second, s] : seconds) {
    if (m.timeline.size() == kMaxTimelineSamples) break;
    if (!m.timeline.empty() && s.t <= m.timeline.back().t) continue;  // (only a t below -0.5 could)
    m.timeline.push_back(s);
  }
  return m;
}

}  // namespace strait::bench
