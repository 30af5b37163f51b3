#include "cli/bench/relay_probe.h"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "cli/bench/netns_lab.h"

namespace strait::cli::bench {
namespace {

constexpr std::chrono::seconds kScrapeTimeout{5};

}  // namespace

Result<strait::bench::Samples, std::string> RelayProbe::Scrape() const {
  const std::string ns = d_.relay_netns();
  if (ns.empty()) return strait::bench::Scrape(d_.relay_metrics(), kScrapeTimeout);
  return NetnsLab::Call(ns, [&] { return strait::bench::Scrape(d_.relay_metrics(), kScrapeTimeout); });
}

Result<void, std::string> RelayProbe::Before() {
  auto s = strait::bench::Sample(d_.relay_pid());
  if (!s) return Fail(fmt::format("relay: {}", s.error()));
  before_ = *s;
  auto m = Scrape();
  if (!m) return Fail(fmt::format("relay /metrics: {}", m.error()));
  metrics_before_ = std::move(*m);
  return {};
}

void RelayProbe::After() {
  if (auto s = strait::bench::Sample(d_.relay_pid()); s) after_ = *s;
}

strait::bench::RelaySample RelayProbe::Finish() {
  strait::bench::RelaySample r;
  r.rss_before = before_.rss_bytes;
  r.rss_after = after_.rss_bytes;
  r.cpu_s = cpu_s();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  if (auto m = Scrape(); m) {
    for (const auto& [name, delta] : strait::bench::CounterDeltas(metrics_before_, *m, "strait_relay_")) {
      if (r.metrics_delta.size() >= strait::bench::kMaxRelayCounters || delta < 0) continue;
      r.metrics_delta[name] = static_cast<std::uint64_t>(delta);
    }
  }
  return r;
}

}  // namespace strait::cli::bench
