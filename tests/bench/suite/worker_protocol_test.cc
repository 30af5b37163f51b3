// bench/suite/worker_protocol.h (the messages between `strait bench` and its workers) and MergeFleetResults
// (bench/suite/fleet_result.h): round trips, the strict reader's refusals, and how parts add up.
#include "bench/suite/worker_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace strait::bench {
namespace {

FleetResult SampleFleet(std::uint64_t logins, double window_s) {
  FleetResult r;
  r.logins = logins;
  r.errors = 1;
  r.dials = logins + 1;
  r.peak_up = static_cast<std::uint32_t>(logins);
  for (std::uint64_t i = 1; i <= logins; ++i) r.login_ns.Record(i * 1000);
  r.recover_ns.Record(5'000'000);
  r.window_s = window_s;
  r.timeline = {{.t = 1.02, .ops = logins / 2, .bytes = 0, .errors = 1},
                {.t = window_s, .ops = logins - logins / 2, .bytes = 0, .errors = 0}};
  r.complete = true;
  r.tls_version = "TLSv1.3";
  r.cipher = "TLS_AES_128_GCM_SHA256";
  return r;
}

WorkerEvent Event(WorkerEventKind kind) { return {.kind = kind, .progress = {}, .result = {}, .message = ""}; }

void ExpectRoundTrip(const WorkerEvent& e) {
  const std::string line = EncodeWorkerEvent(e);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  const auto back = ParseWorkerEvent(line);
  ASSERT_TRUE(back.ok()) << back.error() << "\n" << line;
  EXPECT_EQ(*back, e);
  EXPECT_EQ(EncodeWorkerEvent(*back), line);
}

TEST(WorkerProtocol, EveryEventRoundTrips) {
  ExpectRoundTrip(Event(WorkerEventKind::kReady));
  ExpectRoundTrip(Event(WorkerEventKind::kUp));
  ExpectRoundTrip(Event(WorkerEventKind::kDrop));
  WorkerEvent p = Event(WorkerEventKind::kProgress);
  p.progress = {.t = 3.5, .target = 15000, .up = 14000, .in_flight = 64, .logins = 14100, .errors = 2,
                .login_p99_ns = 41'000'000, .phase = "logging in"};
  ExpectRoundTrip(p);
  WorkerEvent r = Event(WorkerEventKind::kResult);
  r.result = SampleFleet(500, 2.75);
  r.result.last_error = "timeout (code 0): no HELLO_ACK";
  ExpectRoundTrip(r);
  WorkerEvent e = Event(WorkerEventKind::kError);
  e.message = "tenant key: no such file";
  ExpectRoundTrip(e);
  EXPECT_EQ(EncodeWorkerEvent(Event(WorkerEventKind::kReady)), R"({"event":"ready"})");
}

TEST(WorkerProtocol, LongOrBrokenTextIsCutAndStaysJson) {
  WorkerEvent e = Event(WorkerEventKind::kError);
  e.message.assign(5000, 'x');
  e.message.append("\xff\xfe");
  const auto back = ParseWorkerEvent(EncodeWorkerEvent(e));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->message, std::string(kMaxWorkerTextBytes, 'x'));
  e.message = "bad \xc3 byte";
  const auto replaced = ParseWorkerEvent(EncodeWorkerEvent(e));
  ASSERT_TRUE(replaced.ok()) << replaced.error();
  EXPECT_EQ(replaced->message, "bad \xef\xbf\xbd byte");  // U+FFFD
}

TEST(WorkerProtocol, TheReaderRefusesWhatNoWorkerWrites) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "not a JSON value"},
      {"{\"event\":\"ready\"", "not a JSON value"},
      {"[1]", "expected an object"},
      {"{}", "/event"},
      {R"({"event":"hello"})", "unknown event"},
      {R"({"event":"ready","extra":1})", "/extra"},
      {R"({"event":"progress"})", "/progress"},
      {R"({"event":"progress","progress":{"t":1}})", "/progress/target"},
      {R"({"event":"error","message":7})", "/message"},
      {R"({"event":"up","progress":{}})", "/progress"},
      {R"({"event":"result","result":{"logins":-1}})", "/result/logins"},
      {"{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}", "nested deeper than 8"},
      {std::string(kMaxWorkerLineBytes + 1, ' '), "at most"},
  };
  for (const auto& [line, why] : cases) {
    const auto r = ParseWorkerEvent(line);
    ASSERT_FALSE(r.ok()) << line.substr(0, 80);
    EXPECT_NE(r.error().find(why), std::string::npos) << r.error() << " for " << line.substr(0, 80);
  }
  // A histogram whose buckets do not add up to its count.
  WorkerEvent r = Event(WorkerEventKind::kResult);
  r.result = SampleFleet(10, 1.5);
  std::string line = EncodeWorkerEvent(r);
  const std::string count = "\"count\":10,";
  ASSERT_NE(line.find(count), std::string::npos);
  line.replace(line.find(count), count.size(), "\"count\":11,");
  const auto bad = ParseWorkerEvent(line);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("/result/login_ns"), std::string::npos) << bad.error();
}

TEST(MergeFleetResults, PartsAddUp) {
  FleetResult a = SampleFleet(100, 2.4);
  FleetResult b = SampleFleet(50, 3.1);
  b.complete = false;
  b.last_error = "only 49 of 50 links up";
  b.cipher.clear();
  const FleetResult m = MergeFleetResults({a, b});
  EXPECT_EQ(m.logins, 150u);
  EXPECT_EQ(m.errors, 2u);
  EXPECT_EQ(m.dials, 152u);
  EXPECT_EQ(m.peak_up, 150u);
  EXPECT_EQ(m.login_ns.count(), 150u);
  EXPECT_EQ(m.login_ns.max(), 100'000u);
  EXPECT_EQ(m.recover_ns.count(), 2u);
  EXPECT_DOUBLE_EQ(m.window_s, 3.1);
  EXPECT_FALSE(m.complete);
  EXPECT_FALSE(m.stopped);
  EXPECT_EQ(m.last_error, "only 49 of 50 links up");
  EXPECT_EQ(m.cipher, "TLS_AES_128_GCM_SHA256");
  // Second 1 holds both parts' first samples; 2.4 rounds to second 2 and 3.1 to second 3.
  ASSERT_EQ(m.timeline.size(), 3u);
  EXPECT_DOUBLE_EQ(m.timeline[0].t, 1.02);
  EXPECT_EQ(m.timeline[0].ops, 75u);
  EXPECT_EQ(m.timeline[0].errors, 2u);
  EXPECT_DOUBLE_EQ(m.timeline[1].t, 2.4);
  EXPECT_EQ(m.timeline[1].ops, 50u);
  EXPECT_DOUBLE_EQ(m.timeline[2].t, 3.1);
  EXPECT_EQ(m.timeline[2].ops, 25u);
  std::uint64_t ops = 0;
  for (const auto& s : m.timeline) ops += s.ops;
  EXPECT_EQ(ops, m.logins);
}

TEST(MergeFleetResults, StoppedAndEmpty) {
  FleetResult a = SampleFleet(10, 1.0);
  FleetResult stopped;
  stopped.stopped = true;
  const FleetResult m = MergeFleetResults({a, stopped});
  EXPECT_TRUE(m.stopped);
  EXPECT_FALSE(m.complete);
  EXPECT_EQ(m.logins, 10u);
  EXPECT_EQ(MergeFleetResults({}), FleetResult());
  // A long run's timelines stay within the bound.
  FleetResult longer;
  for (std::size_t i = 1; i <= kMaxTimelineSamples + 10; ++i) {
    longer.timeline.push_back({.t = static_cast<double>(i), .ops = 1, .bytes = 0, .errors = 0});
  }
  EXPECT_EQ(MergeFleetResults({longer, longer}).timeline.size(), kMaxTimelineSamples);
}

}  // namespace
}  // namespace strait::bench
