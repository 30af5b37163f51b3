// The Prometheus text exposition format (version 0.0.4), written in one place so every daemon spells its
// `# HELP` / `# TYPE` lines and samples the same way. No I/O; the caller hands the text to an HttpEndpoint.
//
//   PrometheusText out;
//   out.Family("strait_relay_links", MetricType::kGauge, "Logged-in links by role.");
//   out.Sample("strait_relay_links", {"role", "device"}, 3);
//   out.Counter("strait_relay_goaway_total", "GOAWAY frames sent.", 0);   // family + one unlabelled sample
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace strait::metrics {

enum class MetricType : std::uint8_t { kCounter, kGauge };

struct Label {
  std::string_view name;   // [a-zA-Z_][a-zA-Z0-9_]*, not checked
  std::string_view value;  // escaped as the format requires (\\, \", \n)
};

class PrometheusText {
 public:
  // Starts a metric family: its # HELP and # TYPE lines. Each family once, before its samples.
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the family just started.
  void Sample(std::string_view name, std::uint64_t value);
  void Sample(std::string_view name, Label label, std::uint64_t value);
  void Sample(std::string_view name, std::span<const Label> labels, std::uint64_t value);  // in this order
  // A family with exactly one unlabelled sample.
  void Counter(std::string_view name, std::string_view help, std::uint64_t value);
  void Gauge(std::string_view name, std::string_view help, std::uint64_t value);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace strait::metrics
