// bench/suite/results.h: the result model, its summary and ratios, and the strict JSON reader (docs/bench.md §5).
#include "bench/suite/results.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "tests/bench/suite/sample_result.h"

namespace strait::bench {
namespace {

using nlohmann::json;
using testing::SampleResult;

std::string SampleJson() {
  auto text = ToJson(SampleResult());
  EXPECT_TRUE(text.ok()) << text.error().reason;
  return *text;
}

TEST(BenchResults, RoundTripsThroughJson) {
  const BenchResult r = SampleResult();
  const auto text = ToJson(r);
  ASSERT_TRUE(text.ok()) << text.error().reason;
  const auto back = FromJson(*text);
  ASSERT_TRUE(back.ok()) << back.error().reason;
  EXPECT_EQ(*back, r);
  EXPECT_EQ(*ToJson(*back), *text);  // and the text is stable
  EXPECT_EQ(text->find('\n'), text->size() - 1);  // one line
  EXPECT_EQ(text->rfind("{\"schema\":\"strait-bench/1\",\"tool\":{\"version\":\"0.1.0\"},\"started_at\":", 0), 0u);
}

TEST(BenchResults, RoundTripsOptionalsAndFlags) {
  BenchResult r = SampleResult();
  r.target.kind = "remote";
  r.target.relay_cpu.reset();
  r.runs[0].latency.reset();
  r.runs[1].relay.reset();
  r.runs[2].latency->histogram.Record(std::uint64_t{1} << 50);  // overflow survives
  r.runs[0].relay->rss_by_sessions = {{100, 5'000'000}, {200, 6'000'000}};
  r.params["offset"] = std::int64_t{-5};
  r.params["big"] = std::int64_t{std::numeric_limits<std::int64_t>::max()};
  r.partial = true;
  r.error = "the relay died";
  r.skipped = "no TUN";
  const auto back = FromJson(*ToJson(r));
  ASSERT_TRUE(back.ok()) << back.error().reason;
  EXPECT_EQ(*back, r);
}

TEST(BenchResults, TheSummaryIsTheStraitSideAndTheMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo) {
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({3}), 3);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({5, 1, 3}), 3);
  const BenchResult r = SampleResult();
  const MetricSummary& s = r.summary.at("logins_per_s");
  EXPECT_EQ(s.median, (2100.5 + 2050.0) / 2);
  EXPECT_EQ(s.min, 2050.0);
  EXPECT_EQ(s.max, 2100.5);
  EXPECT_EQ(s.unit, "1/s");
  EXPECT_EQ(r.summary.at("relay_cpu_us_per_login").better, Better::kLower);
  EXPECT_EQ(r.summary.size(), 3u);  // the strait side's metrics
}

// A repetition cut short by Ctrl-C is kept in a partial file, marked, and left out of the summary; files written
// before the mark existed still read (absent is false).
TEST(BenchResults, AnInterruptedRunIsKeptButNotSummarised) {
  BenchResult r = SampleResult();
  strait::bench::Run cut = r.runs[0];
  cut.rep = 3;
  cut.metrics["logins_per_s"] = 1;  // what ran before the signal
  cut.interrupted = true;
  r.runs.push_back(cut);
  r.summary = Summarize(r.runs, kStraitSide, {{"logins_per_s", {"1/s", Better::kHigher}}});
  EXPECT_EQ(r.summary.at("logins_per_s").min, 2050.0);  // not 1
  EXPECT_EQ(SummarizeLatency(r.runs, kStraitSide), SummarizeLatency(SampleResult().runs, kStraitSide));
  EXPECT_FALSE(ToJson(r).ok());  // an interrupted run in a file that is not partial
  r.partial = true;
  const auto text = ToJson(r);
  ASSERT_TRUE(text.ok()) << text.error().reason;
  const auto back = FromJson(*text);
  ASSERT_TRUE(back.ok()) << back.error().reason;
  EXPECT_EQ(*back, r);
  json old = json::parse(SampleJson());
  for (json& run : old["runs"]) {
    run.erase("interrupted");
    if (!run["relay"].is_null()) run["relay"].erase("rss_by_sessions");
  }
  const auto read = FromJson(old.dump());
  ASSERT_TRUE(read.ok()) << read.error().reason;
  EXPECT_EQ(*read, SampleResult());
}

TEST(BenchResults, RatiosAreMedianOverMedianWithTheLargerSpread) {
  const BenchResult r = SampleResult();
  ASSERT_EQ(r.ratios.count("logins_per_s"), 1u);
  const Ratio& ratio = r.ratios.at("logins_per_s");
  EXPECT_EQ(ratio.against, "haproxy");
  EXPECT_DOUBLE_EQ(ratio.median_ratio, 2075.25 / 1125.0);
  EXPECT_DOUBLE_EQ(ratio.spread, std::max(50.5 / 2075.25, 50.0 / 1125.0));
  EXPECT_EQ(r.ratios.count("errors"), 0u);                  // baseline median 0: no ratio
  EXPECT_EQ(r.ratios.count("relay_cpu_us_per_login"), 0u);  // only one side has it
  EXPECT_EQ(RelativeSpread(0, -1, 1), std::numeric_limits<double>::infinity());
  EXPECT_EQ(RelativeSpread(0, 0, 0), 0);
}

TEST(BenchResults, MergedLatencyAddsTheSidesRepetitions) {
  const BenchResult r = SampleResult();
  const auto merged = MergedLatency(r.runs, "strait");
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->histogram.count(), 4000u);
  EXPECT_FALSE(MergedLatency(r.runs, "direct"));
}

TEST(BenchResults, TheWriterRefusesWhatTheReaderWould) {
  BenchResult r = SampleResult();
  r.runs[0].metrics["logins_per_s"] = std::nan("");
  const auto text = ToJson(r);
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, ResultsError::kInvalid);
  EXPECT_EQ(text.error().reason, "/runs/0/metrics/logins_per_s: not a finite number");
}

struct Refusal {
  const char* name;
  std::function<void(json&)> edit;
  ResultsError code;
  const char* reason;
};

TEST(BenchResults, TheReaderRefusesWithThePathAndWhy) {
  const Refusal cases[] = {
      {"unknown top-level key", [](json& j) { j["extra"] = 1; }, ResultsError::kInvalid, "/extra: unknown key"},
      {"unknown nested key", [](json& j) { j["runs"][0]["bogus"] = true; }, ResultsError::kInvalid,
       "/runs/0/bogus: unknown key"},
      {"unknown histogram key", [](json& j) { j["runs"][1]["latency"]["p50"] = 1; }, ResultsError::kInvalid,
       "/runs/1/latency/p50: unknown key"},
      {"wrong schema", [](json& j) { j["schema"] = "strait-bench/2"; }, ResultsError::kWrongSchema,
       "/schema: expected \"strait-bench/1\""},
      {"no schema", [](json& j) { j.erase("schema"); }, ResultsError::kWrongSchema, "/schema: expected"},
      {"missing key", [](json& j) { j.erase("negotiated"); }, ResultsError::kInvalid, "/negotiated: required"},
      {"wrong type", [](json& j) { j["runs"][0]["metrics"]["errors"] = "0"; }, ResultsError::kInvalid,
       "/runs/0/metrics/errors: expected a number, got string"},
      {"negative count", [](json& j) { j["runs"][0]["timeline"][2]["ops"] = -1; }, ResultsError::kInvalid,
       "/runs/0/timeline/2/ops: must not be negative"},
      {"fractional count", [](json& j) { j["runs"][0]["timeline"][2]["ops"] = 1.5; }, ResultsError::kInvalid,
       "/runs/0/timeline/2/ops: expected an integer, got a fraction"},
      {"timeline not increasing", [](json& j) { j["runs"][0]["timeline"][1]["t"] = 1.0; }, ResultsError::kInvalid,
       "/runs/0/timeline/1/t: t must increase"},
      {"timeline too long",
       [](json& j) {
         json& t = j["runs"][0]["timeline"];
         t = json::array();
         for (int i = 0; i < 3601; ++i) t.push_back({{"t", i}, {"ops", 0}, {"bytes", 0}, {"errors", 0}});
       },
       ResultsError::kInvalid, "/runs/0/timeline: 3601 items; at most 3600"},
      {"bad side", [](json& j) { j["runs"][0]["side"] = "nginx"; }, ResultsError::kInvalid,
       "/runs/0/side: must be strait, haproxy, direct or direct-connect"},
      {"bad time", [](json& j) { j["started_at"] = "yesterday"; }, ResultsError::kInvalid, "/started_at: expected"},
      {"bad better", [](json& j) { j["summary"]["errors"]["better"] = "sideways"; }, ResultsError::kInvalid,
       "/summary/errors/better: must be higher or lower"},
      {"summary without a run", [](json& j) { j["summary"]["ghost"] = j["summary"]["errors"]; },
       ResultsError::kInvalid, "/summary/ghost: no strait run has this metric"},
      {"run metric without summary", [](json& j) { j["summary"].erase("errors"); }, ResultsError::kInvalid,
       "/summary/errors: missing"},
      {"summary out of order", [](json& j) { j["summary"]["errors"]["min"] = 5; }, ResultsError::kInvalid,
       "/summary/errors: needs min <= median <= max"},
      {"histogram count", [](json& j) { j["runs"][0]["latency"]["count"] = 1; }, ResultsError::kInvalid,
       "/runs/0/latency: count 1 is not the bucket counts (2000) plus overflow (0)"},
      {"histogram bucket shape", [](json& j) { j["runs"][0]["latency"]["buckets"][0] = json::array({1}); },
       ResultsError::kInvalid, "/runs/0/latency/buckets/0: expected [bucket_index, count]"},
      {"histogram bucket index", [](json& j) { j["runs"][0]["latency"]["buckets"][0][0] = 2496; },
       ResultsError::kInvalid, "/runs/0/latency/buckets/0/0: 2496 is above 2495"},
      {"ratio without baseline runs", [](json& j) { j["ratios"]["logins_per_s"]["against"] = "direct"; },
       ResultsError::kInvalid, "/ratios/logins_per_s/against: must name a baseline side that has runs"},
      {"param of a wrong type", [](json& j) { j["params"]["devices"] = json::array({1}); }, ResultsError::kInvalid,
       "/params/devices: expected true, false, a number or a string, got array"},
      {"param above int64", [](json& j) { j["params"]["devices"] = std::numeric_limits<std::uint64_t>::max(); },
       ResultsError::kInvalid, "/params/devices: 18446744073709551615 is above 9223372036854775807"},
      {"hostile key", [](json& j) { j["params"]["a/b\x1b[31m"] = 1; }, ResultsError::kInvalid,
       "/params/a~1b\\x1b[31m: a name is 1..64 of [a-z0-9_-]"},
      {"null where required", [](json& j) { j["partial"] = nullptr; }, ResultsError::kInvalid,
       "/partial: expected true or false, got null"},
      {"top level not an object", [](json& j) { j = json::array(); }, ResultsError::kWrongSchema,
       "/: expected an object, got array"},
  };
  for (const Refusal& c : cases) {
    json j = json::parse(SampleJson());
    c.edit(j);
    const auto r = FromJson(j.dump());
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.code) << c.name << ": " << r.error().reason;
    EXPECT_EQ(r.error().reason.rfind(c.reason, 0), 0u) << c.name << ": " << r.error().reason;
  }
}

TEST(BenchResults, TheReaderRefusesNonFiniteNumbers) {
  std::string text = SampleJson();
  const std::string from = "\"seconds\":10.0";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "\"seconds\":1e400");
  const auto r = FromJson(text);
  ASSERT_FALSE(r.ok());
  // nlohmann's parser itself refuses a number beyond double's range; JSON has no NaN or Infinity literal.
  EXPECT_EQ(r.error().code, ResultsError::kMalformed);
  for (const char* literal : {"NaN", "Infinity", "-Infinity"}) {
    std::string t = SampleJson();
    t.replace(t.find("10.0"), 4, literal);
    EXPECT_FALSE(FromJson(t).ok()) << literal;
  }
}

TEST(BenchResults, TheReaderRefusesMalformedDeepAndLargeText) {
  auto malformed = FromJson("{\"schema\": ");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, ResultsError::kMalformed);

  std::string deep = "{\"schema\": \"strait-bench/1\", \"x\": " + std::string(32, '[') + std::string(32, ']') + "}";
  auto too_deep = FromJson(deep);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().code, ResultsError::kTooDeep);
  // At the bound, depth is not the reason (the unknown key is).
  std::string at_bound = "{\"schema\": \"strait-bench/1\", \"x\": " + std::string(31, '[') + std::string(31, ']') + "}";
  EXPECT_NE(FromJson(at_bound).error().code, ResultsError::kTooDeep);
  // Brackets inside strings are not nesting.
  std::string in_string = SampleJson();
  in_string.replace(in_string.find("\"abort\""), 7, "\"" + std::string(100, '[') + "\"");
  EXPECT_TRUE(FromJson(in_string).ok());

  std::string large(kMaxResultsBytes + 1, ' ');
  auto too_large = FromJson(large);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().code, ResultsError::kTooLarge);
}

}  // namespace
}  // namespace strait::bench
