// The /metrics text reader of `strait bench` (bench/suite/prometheus_scrape.h) on arbitrary text: a remote relay's
// endpoint is not ours to trust. Whatever it returns stays within the limits, and every accepted series re-parses.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bench/suite/prometheus_scrape.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const strait::bench::ScrapeLimits limits{.max_bytes = 1 << 16, .max_samples = 64, .max_line = 512};
  auto s = strait::bench::ParsePrometheusText(text, limits);
  if (!s.ok()) return 0;
  if (s->size() > limits.max_samples) std::abort();
  for (const auto& [series, value] : *s) {
    auto again = strait::bench::ParsePrometheusText(series + " 1\n", limits);
    if (!again.ok() || again->size() != 1 || again->begin()->first != series) std::abort();
  }
  return 0;
}
