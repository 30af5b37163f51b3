// bench/suite/prometheus_scrape.h: the strict text-format reader (against what the daemons' writer produces and
// against hostile text), counter deltas, and a real scrape of a metrics::HttpEndpoint on loopback.
#include "bench/suite/prometheus_scrape.h"

#include <gtest/gtest.h>

#include "metrics/http_endpoint.h"
#include "metrics/prometheus_text.h"

namespace strait::bench {
namespace {

std::string DaemonText(std::uint64_t refused) {
  metrics::PrometheusText out;
  out.Family("strait_relay_logins_refused_total", metrics::MetricType::kCounter, "Refused logins, by reason.");
  out.Sample("strait_relay_logins_refused_total", {"reason", "revoked"}, refused);
  out.Sample("strait_relay_logins_refused_total", {"reason", "quo\"te"}, 1);
  out.Gauge("strait_relay_links", "Links.", 7);
  return out.Take();
}

TEST(PrometheusScrape, ReadsWhatTheDaemonsWrite) {
  auto s = ParsePrometheusText(DaemonText(5));
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->size(), 3u);
  EXPECT_EQ(s->at("strait_relay_logins_refused_total{reason=\"revoked\"}"), 5);
  EXPECT_EQ(s->at("strait_relay_logins_refused_total{reason=\"quo\\\"te\"}"), 1);
  EXPECT_EQ(s->at("strait_relay_links"), 7);
}

TEST(PrometheusScrape, CounterDeltasLeaveOutWhatDidNotMove) {
  const Samples before = *ParsePrometheusText(DaemonText(5));
  Samples after = *ParsePrometheusText(DaemonText(9));
  after.emplace("strait_relay_new_total", 2);
  after.emplace("other_total", 3);
  const Samples d = CounterDeltas(before, after, "strait_relay_");
  EXPECT_EQ(d, (Samples{{"strait_relay_logins_refused_total{reason=\"revoked\"}", 4}, {"strait_relay_new_total", 2}}));
}

TEST(PrometheusScrape, RefusesMalformedTextWithTheLine) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"a 1\nb\n", "line 2: not `series value`"},
           {"a{x=\"1\" 1\n", "line 1: not `series value`"},
           {"a{x=\"1\\", "line 1: not `series value`"},
           {"9a 1\n", "line 1: not `series value`"},
           {"a NaN\n", "line 1: the value is not a finite number"},
           {"a +Inf\n", "line 1: the value is not a finite number"},
           {"a 1e999\n", "line 1: the value is not a finite number"},
           {"a 12x\n", "line 1: the value is not a finite number"},
           {"# HELP a b\na 1\na 2\n", "line 3: series a given twice"},
       }) {
    auto s = ParsePrometheusText(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.error(), c.error) << c.text;
  }
}

TEST(PrometheusScrape, BoundsAreErrors) {
  ScrapeLimits small{.max_bytes = 64, .max_samples = 2, .max_line = 16};
  EXPECT_EQ(ParsePrometheusText(std::string(65, '#'), small).error(), "metrics text over 64 bytes");
  EXPECT_EQ(ParsePrometheusText("a 1\nb 2\nc 3\n", small).error(), "over 2 samples");
  EXPECT_EQ(ParsePrometheusText("a_very_long_series_name 1\n", small).error(), "line 1: over 16 bytes");
  EXPECT_TRUE(ParsePrometheusText("a 1 1700000000\r\n\n# x\nb 2\n", small).ok()) << "timestamps, CRLF, comments";
}

TEST(PrometheusScrape, ScrapesARealEndpoint) {
  auto endpoint =
      metrics::HttpEndpoint::Start(runtime::ParseSocketAddress("127.0.0.1:0").value(), [] { return DaemonText(3); });
  ASSERT_TRUE(endpoint.ok()) << endpoint.error().reason;
  auto s = Scrape(*demo::ParseHostPort((*endpoint)->address().ToString()), std::chrono::seconds(10));
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->at("strait_relay_logins_refused_total{reason=\"revoked\"}"), 3);
}

TEST(PrometheusScrape, NothingListeningIsAClearError) {
  auto endpoint = metrics::HttpEndpoint::Start(runtime::ParseSocketAddress("127.0.0.1:0").value(),
                                               [] { return std::string(); });
  ASSERT_TRUE(endpoint.ok());
  const demo::HostPort gone = *demo::ParseHostPort((*endpoint)->address().ToString());
  endpoint->reset();  // closes the port
  auto s = Scrape(gone, std::chrono::seconds(5));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("connect"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace strait::bench
