#include "metrics/prometheus_text.h"

#include <fmt/format.h>

namespace strait::metrics {

namespace {

std::string_view TypeName(MetricType t) { return t == MetricType::kCounter ? "counter" : "gauge"; }

// HELP text escapes backslash and newline; label values also escape the double quote.
void AppendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

}  // namespace

void PrometheusText::Family(std::string_view name, MetricType type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  AppendEscaped(out_, help, false);
  out_ += fmt::format("\n# TYPE {} {}\n", name, TypeName(type));
}

void PrometheusText::Sample(std::string_view name, std::uint64_t value) {
  out_ += fmt::format("{} {}\n", name, value);
}

void PrometheusText::Sample(std::string_view name, Label label, std::uint64_t value) {
  Sample(name, std::span<const Label>(&label, 1), value);
}

void PrometheusText::Sample(std::string_view name, std::span<const Label> labels, std::uint64_t value) {
  out_ += name;
  out_ += '{';
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out_ += ',';
    out_ += labels[i].name;
    out_ += "=\"";
    AppendEscaped(out_, labels[i].value, true);
    out_ += '"';
  }
  out_ += fmt::format("}} {}\n", value);
}

void PrometheusText::Counter(std::string_view name, std::string_view help, std::uint64_t value) {
  Family(name, MetricType::kCounter, help);
  Sample(name, value);
}

void PrometheusText::Gauge(std::string_view name, std::string_view help, std::uint64_t value) {
  Family(name, MetricType::kGauge, help);
  Sample(name, value);
}

}  // namespace strait::metrics
