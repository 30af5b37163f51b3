// The event stream's client core (tunnel/control/event_line.h): NDJSON splitting with its line bound, event
// decoding (every type, unknown types, bad ids and fields), and the reader's resume point across reconnects.
#include "tunnel/control/event_line.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace strait::control {
namespace {

std::vector<std::string> Drain(LineSplitter& s) {
  std::vector<std::string> out;
  while (auto line = s.Next()) out.emplace_back(*line);
  return out;
}

// --- LineSplitter ---

TEST(LineSplitter, SplitsAtLfAcrossFeeds) {
  LineSplitter s(64);
  EXPECT_EQ(s.Feed("ab"), FeedStatus::kOk);
  EXPECT_TRUE(Drain(s).empty());
  EXPECT_EQ(s.Feed("c\nde\r\n\n\nf"), FeedStatus::kOk);
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"abc", "de"}));  // CR stripped, empty lines skipped
  EXPECT_EQ(s.Feed("g\n"), FeedStatus::kOk);
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"fg"}));
  EXPECT_EQ(s.lines(), 3u);
}

TEST(LineSplitter, LineExactlyAtTheBoundIsAccepted) {
  LineSplitter s(8);
  EXPECT_EQ(s.Feed(std::string(8, 'x') + "\n"), FeedStatus::kOk);
  EXPECT_EQ(Drain(s), (std::vector<std::string>{std::string(8, 'x')}));
}

TEST(LineSplitter, RejectsALineOverTheBoundEvenWithoutItsLf) {
  LineSplitter s(8);
  EXPECT_EQ(s.Feed("ok\n12345"), FeedStatus::kOk);
  EXPECT_EQ(s.Feed("6789"), FeedStatus::kLineTooLong);  // 9 bytes of a line, no LF yet: refused at once
  EXPECT_TRUE(s.failed());
  EXPECT_EQ(s.too_long(), 1u);
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"ok"}));  // the complete line before it stays good
  EXPECT_EQ(s.Feed("\nnext\n"), FeedStatus::kLineTooLong);  // nothing more until Reset
  EXPECT_TRUE(Drain(s).empty());
  s.Reset();
  EXPECT_FALSE(s.failed());
  EXPECT_EQ(s.Feed("next\n"), FeedStatus::kOk);
  EXPECT_EQ(Drain(s), (std::vector<std::string>{"next"}));
  EXPECT_EQ(s.too_long(), 1u);
}

TEST(LineSplitter, ByteAtATimeGivesTheSameLines) {
  const std::string text = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n";
  LineSplitter s(16);
  std::vector<std::string> got;
  for (char c : text) {
    ASSERT_EQ(s.Feed(std::string_view(&c, 1)), FeedStatus::kOk);
    for (auto& l : Drain(s)) got.push_back(l);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
}

TEST(LineSplitter, DefaultBoundIsTwoMebibytes) {
  LineSplitter s;
  EXPECT_EQ(s.max_line(), size_t{2} << 20);
  const std::string big(wire::kMaxEventLineBytes, 'x');
  EXPECT_EQ(s.Feed(big), FeedStatus::kOk);
  EXPECT_EQ(s.Feed("y"), FeedStatus::kLineTooLong);
}

// --- DecodeEvent ---

TEST(DecodeEvent, DeviceRevoked) {
  auto e = DecodeEvent(R"({"id":"1235","at":"2025-06-01T12:00:00Z","type":"device.revoked","tenant":"acme",)"
                       R"("device":"d-7k3m9x2p4q7tab5c","until":"2025-06-02T12:00:00Z","reason":"lost","new":1})");
  ASSERT_TRUE(e.ok()) << e.error().reason;
  EXPECT_EQ(e->id, 1235u);
  EXPECT_EQ(e->type, EventType::kDeviceRevoked);
  EXPECT_EQ(e->at, 1'748'779'200u);
  const auto& d = std::get<DeviceDenied>(e->body);
  EXPECT_EQ(d.tenant, "acme");
  EXPECT_EQ(d.device, "d-7k3m9x2p4q7tab5c");
  EXPECT_EQ(d.until, 1'748'779'200u + 86'400);
  EXPECT_EQ(d.reason, "lost");
}

TEST(DecodeEvent, EveryKnownType) {
  struct Case {
    std::string line;
    EventType type;
  };
  const Case cases[] = {
      {R"({"id":"1","type":"heartbeat"})", EventType::kHeartbeat},
      {R"({"id":"2","type":"device.locked","tenant":"t","device":"d","until":"2030-01-01T00:00:00Z"})",
       EventType::kDeviceLocked},
      {R"({"id":"3","type":"device.unlocked","tenant":"t","device":"d"})", EventType::kDeviceUnlocked},
      {R"({"id":"4","type":"connector.revoked","tenant":"t","connector":"dc-east","until":"2030-01-01T00:00:00Z"})",
       EventType::kConnectorRevoked},
      {R"({"id":"5","type":"relay.revoked","relay":"relay-1","until":"2030-01-01T00:00:00Z"})",
       EventType::kRelayRevoked},
      {R"({"id":"6","type":"tenant.suspended","tenant":"t"})", EventType::kTenantSuspended},
      {R"({"id":"7","type":"tenant.resumed","tenant":"t"})", EventType::kTenantResumed},
      {R"({"id":"8","type":"tenant.deleted","tenant":"t"})", EventType::kTenantDeleted},
      {R"({"id":"9","type":"policy.updated","tenant":"t","policy":"p-1","version":3,"default":true,)"
       R"("toml":"[app]\n"})",
       EventType::kPolicyUpdated},
      {R"({"id":"10","type":"policy.deleted","tenant":"t","policy":"p-1"})", EventType::kPolicyDeleted},
      {R"({"id":"11","type":"device.policy","tenant":"t","device":"d","policy":null})", EventType::kDevicePolicy},
      {R"({"id":"12","type":"resync","tenant":null,"reason":"big group"})", EventType::kResync},
  };
  for (const Case& c : cases) {
    auto e = DecodeEvent(c.line);
    ASSERT_TRUE(e.ok()) << c.line << ": " << e.error().reason;
    EXPECT_EQ(e->type, c.type) << c.line;
    EXPECT_EQ(EventTypeFromName(EventTypeName(c.type)), c.type);
  }
  auto p = DecodeEvent(cases[8].line);
  const auto& pu = std::get<PolicyUpdated>(p->body);
  EXPECT_EQ(pu.version, 3u);
  EXPECT_TRUE(pu.is_default);
  EXPECT_EQ(pu.toml, "[app]\n");
  EXPECT_FALSE(std::get<DevicePolicy>(DecodeEvent(cases[10].line)->body).policy.has_value());
  EXPECT_FALSE(std::get<Resync>(DecodeEvent(cases[11].line)->body).tenant.has_value());
}

TEST(DecodeEvent, UnknownTypeKeepsItsId) {
  auto e = DecodeEvent(R"({"id":"99","type":"device.teleported","whatever":[1,2]})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, EventType::kUnknown);
  EXPECT_EQ(e->id, 99u);
  EXPECT_EQ(std::get<UnknownEvent>(e->body).type, "device.teleported");
}

TEST(DecodeEvent, IdsAreDecimalStringsWithin64Bits) {
  EXPECT_EQ(DecodeEvent(R"({"id":"18446744073709551615","type":"heartbeat"})")->id, UINT64_MAX);
  EXPECT_EQ(DecodeEvent(R"({"id":"0","type":"heartbeat"})")->id, 0u);
  for (std::string_view bad : {R"({"id":"18446744073709551616","type":"heartbeat"})",
                               R"({"id":1235,"type":"heartbeat"})", R"({"id":"01","type":"heartbeat"})",
                               R"({"id":"-1","type":"heartbeat"})", R"({"id":"","type":"heartbeat"})",
                               R"({"id":"12a","type":"heartbeat"})", R"({"id":" 1","type":"heartbeat"})",
                               R"({"type":"heartbeat"})"}) {
    auto e = DecodeEvent(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_TRUE(e.error().code == WireError::kBadValue || e.error().code == WireError::kWrongType ||
                e.error().code == WireError::kMissingField)
        << bad;
    EXPECT_NE(e.error().reason.find("/id"), std::string::npos) << e.error().reason;
  }
}

TEST(DecodeEvent, RefusesBadLinesWithTheirReason) {
  struct Case {
    std::string line;
    WireError code;
    std::string_view pointer;
  };
  const Case cases[] = {
      {"not json", WireError::kMalformedJson, ""},
      {R"({"id":"1","type":"heartbeat"} x)", WireError::kMalformedJson, ""},
      {R"(["id","1"])", WireError::kNotObject, ""},
      {R"({"id":"1"})", WireError::kMissingField, "/type"},
      {R"({"id":"1","type":7})", WireError::kWrongType, "/type"},
      {R"({"id":"1","type":"device.revoked","tenant":"acme","device":"d"})", WireError::kMissingField, "/until"},
      {R"({"id":"1","type":"device.revoked","tenant":"ACME","device":"d","until":"2030-01-01T00:00:00Z"})",
       WireError::kBadValue, "/tenant"},
      {R"({"id":"1","type":"device.revoked","tenant":"acme","device":"../x","until":"2030-01-01T00:00:00Z"})",
       WireError::kBadValue, "/device"},
      {R"({"id":"1","type":"device.revoked","tenant":"acme","device":"d","until":"2030-01-01T00:00:00+01:00"})",
       WireError::kBadValue, "/until"},
      {R"({"id":"1","type":"device.revoked","tenant":"acme","device":"d","until":"2030-02-30T00:00:00Z"})",
       WireError::kBadValue, "/until"},
      {R"({"id":"1","type":"policy.updated","tenant":"t","policy":"p","version":-1,"default":true,"toml":""})",
       WireError::kBadValue, "/version"},
      {R"({"id":"1","type":"policy.updated","tenant":"t","policy":"p","version":1.0,"default":true,"toml":""})",
       WireError::kWrongType, "/version"},
      {R"({"id":"1","type":"policy.updated","tenant":"t","policy":"p","version":1,"default":"yes","toml":""})",
       WireError::kWrongType, "/default"},
      {R"({"id":"1","type":"device.revoked","tenant":"acme","device":"d","until":"2030-01-01T00:00:00Z",)"
       R"("reason":")" + std::string(257, 'r') + "\"}",
       WireError::kBadValue, "/reason"},
  };
  for (const Case& c : cases) {
    auto e = DecodeEvent(c.line);
    ASSERT_FALSE(e.ok()) << c.line;
    EXPECT_EQ(e.error().code, c.code) << c.line << ": " << e.error().reason;
    if (!c.pointer.empty()) {
      EXPECT_NE(e.error().reason.find(c.pointer), std::string::npos) << e.error().reason;
    }
  }
}

TEST(DecodeEvent, RefusesHostileNestingBeforeParsing) {
  const std::string deep = R"({"id":"1","type":"x","n":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  auto e = DecodeEvent(deep);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, WireError::kTooDeep);
  // Brackets inside strings do not count.
  auto s = DecodeEvent(R"({"id":"1","type":"resync","reason":"[[[[[[[[[[[[[[[[[[[[[[[[[\"[[[["})");
  EXPECT_TRUE(s.ok()) << s.error().reason;
}

// --- EventReader ---

TEST(EventReader, DeliversInOrderAndAdvancesTheResumePoint) {
  EventReader r;
  std::vector<Event> out;
  const std::string stream = R"({"id":"5","type":"device.unlocked","tenant":"t","device":"d"})"
                             "\n"
                             R"({"id":"6","type":"shiny.new","x":1})"
                             "\n"
                             R"({"type":"heartbeat","id":"9"})"
                             "\n"
                             R"({"id":"10","type":"tenant.suspended","ten)";
  EXPECT_EQ(r.Feed(stream, &out), StreamStatus::kOk);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, EventType::kDeviceUnlocked);
  EXPECT_EQ(out[1].type, EventType::kHeartbeat);
  EXPECT_EQ(r.resume_point(), 9u);  // past the skipped unknown event and the heartbeat
  EXPECT_EQ(r.unknown_skipped(), 1u);
  EXPECT_EQ(r.events(), 1u);
  EXPECT_EQ(r.heartbeats(), 1u);
  out.clear();
  EXPECT_EQ(r.Feed("ant\":\"t\"}\n", &out), StreamStatus::kOk);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 10u);
  EXPECT_EQ(r.resume_point(), 10u);
}

TEST(EventReader, HeartbeatMayRepeatTheLastIdButEventsMayNot) {
  EventReader r;
  r.set_resume_point(100);  // a snapshot's as_of
  std::vector<Event> out;
  EXPECT_EQ(r.Feed("{\"type\":\"heartbeat\",\"id\":\"100\"}\n", &out), StreamStatus::kOk);
  EXPECT_EQ(r.Feed("{\"id\":\"100\",\"type\":\"tenant.resumed\",\"tenant\":\"t\"}\n", &out),
            StreamStatus::kIdOutOfOrder);
  EXPECT_EQ(r.out_of_order(), 1u);
  EXPECT_NE(r.last_error().find("after 100"), std::string::npos) << r.last_error();
  EXPECT_EQ(r.Feed("{\"type\":\"heartbeat\",\"id\":\"101\"}\n", &out), StreamStatus::kIdOutOfOrder);  // sticky
  r.Reset();
  EXPECT_EQ(r.resume_point(), 100u);
  EXPECT_EQ(r.Feed("{\"type\":\"heartbeat\",\"id\":\"99\"}\n", &out), StreamStatus::kIdOutOfOrder);
}

TEST(EventReader, BadLineEndsTheStreamAfterTheGoodOnesBeforeIt) {
  EventReader r;
  std::vector<Event> out;
  const std::string stream = "{\"id\":\"1\",\"type\":\"tenant.resumed\",\"tenant\":\"t\"}\n"
                             "{\"id\":\"2\",\"type\":\"tenant.resumed\"}\n"
                             "{\"id\":\"3\",\"type\":\"tenant.resumed\",\"tenant\":\"t\"}\n";
  EXPECT_EQ(r.Feed(stream, &out), StreamStatus::kBadLine);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(r.resume_point(), 1u);  // the reconnect asks for after=1: event 2 comes again
  EXPECT_EQ(r.bad_lines(), 1u);
  EXPECT_NE(r.last_error().find("missing_field"), std::string::npos) << r.last_error();
  r.Reset();
  out.clear();
  EXPECT_EQ(r.Feed("{\"id\":\"2\",\"type\":\"tenant.resumed\",\"tenant\":\"t\"}\n", &out), StreamStatus::kOk);
  EXPECT_EQ(out.size(), 1u);
}

TEST(EventReader, OverlongLineEndsTheStreamAndResetRecovers) {
  EventReader r(64);
  std::vector<Event> out;
  EXPECT_EQ(r.Feed("{\"id\":\"1\",\"type\":\"heartbeat\"}\n" + std::string(65, ' '), &out),
            StreamStatus::kLineTooLong);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(r.too_long(), 1u);
  r.Reset();
  out.clear();
  EXPECT_EQ(r.Feed("{\"id\":\"2\",\"type\":\"heartbeat\"}\n", &out), StreamStatus::kOk);
  EXPECT_EQ(out.size(), 1u);
}

// --- Times (control_wire.h) ---

TEST(WireTime, ParsesOnlyTheCanonicalForm) {
  EXPECT_EQ(wire::ParseTime("1970-01-01T00:00:00Z"), 0u);
  EXPECT_EQ(wire::ParseTime("2024-02-29T23:59:59Z"), 1'709'251'199u);
  for (std::string_view bad : {"2023-02-29T00:00:00Z", "2025-06-01T24:00:00Z", "2025-06-01t12:00:00Z",
                               "2025-06-01T12:00:00z", "2025-06-01T12:00:00.5Z", "2025-06-01T12:00:00+00:00",
                               "1969-12-31T23:59:59Z", "2025-6-01T12:00:00Z", "2025-06-01T12:00:60Z", ""}) {
    EXPECT_FALSE(wire::ParseTime(bad).has_value()) << bad;
  }
  for (uint64_t t : {uint64_t{0}, uint64_t{1'748'779'200}, uint64_t{253'402'300'799}}) {
    EXPECT_EQ(wire::ParseTime(wire::FormatTime(t)), t) << wire::FormatTime(t);
  }
  EXPECT_EQ(wire::FormatTime(1'748'779'200), "2025-06-01T12:00:00Z");
}

}  // namespace
}  // namespace strait::control
