// bench/suite/profile.h: the mixed scenario's profile reader (docs/bench.md §2 "mixed"): what it accepts, the
// defaults it fills in, every refusal with its message and line, the bounds, and FormatProfile's round trip.
#include "bench/suite/profile.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace strait::bench {
namespace {

// docs/bench.md §2's example.
constexpr std::string_view kOffice = R"(# strait bench mixed --profile office.toml
seconds = 20          # optional: overrides --seconds
[[part]]
scenario = "idle"
devices = 5000
[[part]]
scenario = "latency"
rate = 2000
size = 64
connections = 8
[[part]]
scenario = "logins"
devices = 500
parallel = 16
)";

std::int64_t Int(const ProfilePart& part, const std::string& key) {
  return std::get<std::int64_t>(part.params.at(key));
}

// The error for `text`, or a marker that makes the comparison fail when it was accepted.
std::string ErrorOf(std::string_view text) {
  const auto p = ParseProfile(text);
  return p.ok() ? std::string("(accepted)") : p.error();
}

// One [[part]] of `scenario` with `lines` after its scenario line (line 1 is [[part]], line 2 the scenario).
std::string OnePart(std::string_view scenario, std::string_view lines) {
  return "[[part]]\nscenario = \"" + std::string(scenario) + "\"\n" + std::string(lines);
}

TEST(BenchProfile, ReadsTheDocumentedExample) {
  const auto p = ParseProfile(kOffice);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->seconds, 20u);
  ASSERT_EQ(p->parts.size(), 3u);

  const ProfilePart& idle = p->parts[0];
  EXPECT_EQ(idle.scenario, "idle");
  EXPECT_EQ(idle.params.size(), 2u);
  EXPECT_EQ(Int(idle, "devices"), 5000);
  EXPECT_EQ(Int(idle, "hold"), 2);  // the default, as the CLI's

  const ProfilePart& latency = p->parts[1];
  EXPECT_EQ(latency.scenario, "latency");
  EXPECT_EQ(latency.params.size(), 4u);
  EXPECT_EQ(Int(latency, "rate"), 2000);
  EXPECT_EQ(Int(latency, "size"), 64);
  EXPECT_EQ(Int(latency, "connections"), 8);
  EXPECT_EQ(latency.params.at("closed"), ParamValue(false));

  const ProfilePart& logins = p->parts[2];
  EXPECT_EQ(logins.scenario, "logins");
  EXPECT_EQ(logins.params.size(), 2u);
  EXPECT_EQ(Int(logins, "devices"), 500);
  EXPECT_EQ(Int(logins, "parallel"), 16);
}

TEST(BenchProfile, FillsEachScenariosDefaults) {
  const auto p = ParseProfile(
      "[[part]]\nscenario = \"idle\"\n[[part]]\nscenario = \"logins\"\n[[part]]\nscenario = \"reconnect\"\n"
      "[[part]]\nscenario = \"latency\"\n[[part]]\nscenario = \"bulk\"\n");
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_FALSE(p->seconds);  // --seconds then applies
  ASSERT_EQ(p->parts.size(), 5u);
  using M = std::map<std::string, ParamValue>;
  EXPECT_EQ(p->parts[0].params, (M{{"devices", std::int64_t{10'000}}, {"hold", std::int64_t{2}}}));
  EXPECT_EQ(p->parts[1].params, (M{{"devices", std::int64_t{1'000}}, {"parallel", std::int64_t{64}}}));
  EXPECT_EQ(p->parts[2].params, (M{{"devices", std::int64_t{1'000}}, {"how", std::string("abort")}}));
  EXPECT_EQ(p->parts[3].params, (M{{"closed", false},
                                   {"connections", std::int64_t{8}},
                                   {"rate", std::int64_t{1'000}},
                                   {"size", std::int64_t{64}}}));
  EXPECT_EQ(p->parts[4].params, (M{{"devices", std::int64_t{1}}, {"streams", std::int64_t{4}}}));
}

TEST(BenchProfile, ReadsEveryKeyAtItsBounds) {
  const auto p = ParseProfile("seconds = 3600\n" + OnePart("reconnect", "devices = 200000\nhow = \"restart\"\n") +
                              OnePart("latency", "size = 65536\nconnections = 4096\nrate = 1000000\nclosed = false\n"));
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->seconds, 3600u);
  EXPECT_EQ(Int(p->parts[0], "devices"), 200'000);
  EXPECT_EQ(p->parts[0].params.at("how"), ParamValue(std::string("restart")));
  EXPECT_EQ(Int(p->parts[1], "size"), 65'536);
  EXPECT_EQ(Int(p->parts[1], "connections"), 4096);
  EXPECT_EQ(Int(p->parts[1], "rate"), 1'000'000);

  const auto low = ParseProfile("seconds = 1\n" + OnePart("bulk", "devices = 1\nstreams = 1\n") +
                                OnePart("logins", "parallel = 1\n") + OnePart("idle", "hold = 1\n"));
  ASSERT_TRUE(low.ok()) << low.error();
  EXPECT_EQ(low->seconds, 1u);
  EXPECT_EQ(Int(low->parts[0], "streams"), 1);
  EXPECT_EQ(Int(low->parts[1], "parallel"), 1);
  EXPECT_EQ(Int(low->parts[2], "hold"), 1);
}

TEST(BenchProfile, AClosedLoopPartHasNoRate) {
  const auto p = ParseProfile(OnePart("latency", "closed = true\n"));
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->parts[0].params.at("closed"), ParamValue(true));
  EXPECT_FALSE(p->parts[0].params.contains("rate"));
  EXPECT_EQ(p->parts[0].params.size(), 3u);

  EXPECT_EQ(ErrorOf(OnePart("latency", "closed = true\nrate = 500\n")),
            "line 4: part[1].rate: open loop only: with closed = true a part has no rate");
}

TEST(BenchProfile, RefusesUnknownKeysWithTheirPath) {
  EXPECT_EQ(ErrorOf("sekonds = 5\n" + OnePart("idle", "")),
            "line 1: sekonds: unknown key (a profile takes seconds and [[part]])");
  std::string typo(kOffice);
  typo.replace(typo.find("rate"), 4, "rat");
  EXPECT_EQ(ErrorOf(typo), "line 8: part[2].rat: unknown key (latency takes size, connections, rate, closed)");
  // A key of another scenario is unknown too, as is a nested table and a table at the top.
  EXPECT_EQ(ErrorOf(OnePart("idle", "parallel = 4\n")),
            "line 3: part[1].parallel: unknown key (idle takes devices, hold)");
  EXPECT_EQ(ErrorOf(OnePart("bulk", "[part.extra]\nx = 1\n")),
            "line 3: part[1].extra: unknown key (bulk takes devices, streams)");
  EXPECT_EQ(ErrorOf(OnePart("bulk", "[relay]\naddress = \"x\"\n")),
            "line 3: relay: unknown key (a profile takes seconds and [[part]])");
  // Bytes outside printable ASCII in a key are shown, not written raw.
  EXPECT_EQ(ErrorOf(OnePart("reconnect", "\"ho\\u0007w\" = \"abort\"\n")),
            "line 3: part[1].ho\\x07w: unknown key (reconnect takes devices, how)");
}

TEST(BenchProfile, RefusesScenariosThatCannotBeParts) {
  const std::string list = " (one of idle, logins, reconnect, latency, bulk)";
  EXPECT_EQ(ErrorOf(OnePart("ip", "")), "line 2: part[1].scenario: \"ip\" cannot be a part of mixed" + list);
  EXPECT_EQ(ErrorOf(OnePart("idle", "") + OnePart("mixed", "")),
            "line 4: part[2].scenario: \"mixed\" cannot be a part of mixed" + list);
  EXPECT_EQ(ErrorOf(OnePart("compare", "")), "line 2: part[1].scenario: unknown scenario \"compare\"" + list);
  EXPECT_EQ(ErrorOf(OnePart("Idle", "")), "line 2: part[1].scenario: unknown scenario \"Idle\"" + list);
  EXPECT_EQ(ErrorOf("[[part]]\ndevices = 5\n"), "line 1: part[1]: missing key scenario" + list);
  EXPECT_EQ(ErrorOf("[[part]]\nscenario = 3\n"), "line 2: part[1].scenario: must be a string, got an integer" + list);
  // A long scenario name is cut in the message.
  EXPECT_EQ(ErrorOf(OnePart(std::string(100, 'x'), "")),
            "line 2: part[1].scenario: unknown scenario \"" + std::string(64, 'x') + "...\"" + list);
}

TEST(BenchProfile, RefusesWrongTypes) {
  EXPECT_EQ(ErrorOf(OnePart("latency", "rate = 2000.0\n")),
            "line 3: part[1].rate: must be an integer in 1..1000000, got a float");
  EXPECT_EQ(ErrorOf(OnePart("idle", "devices = \"5000\"\n")),
            "line 3: part[1].devices: must be an integer in 1..200000, got \"5000\"");
  EXPECT_EQ(ErrorOf(OnePart("latency", "closed = \"true\"\n")),
            "line 3: part[1].closed: must be true or false, got \"true\"");
  EXPECT_EQ(ErrorOf(OnePart("latency", "closed = 1\n")),
            "line 3: part[1].closed: must be true or false, got an integer");
  EXPECT_EQ(ErrorOf(OnePart("reconnect", "how = \"kill\"\n")),
            "line 3: part[1].how: must be \"abort\" or \"restart\", got \"kill\"");
  EXPECT_EQ(ErrorOf(OnePart("reconnect", "how = [\"abort\"]\n")),
            "line 3: part[1].how: must be \"abort\" or \"restart\", got an array");
  EXPECT_EQ(ErrorOf("seconds = \"20\"\n" + OnePart("idle", "")),
            "line 1: seconds: must be an integer in 1..3600, got \"20\"");
  EXPECT_EQ(ErrorOf("seconds = 1979-05-27\n" + OnePart("idle", "")),
            "line 1: seconds: must be an integer in 1..3600, got a date");
  EXPECT_EQ(ErrorOf("[part]\nscenario = \"idle\"\n"),
            "line 1: part: must be an array of tables ([[part]]), got a table");
  EXPECT_EQ(ErrorOf("part = [\"idle\"]\n"), "line 1: part[1]: must be a table, got \"idle\"");
}

TEST(BenchProfile, RefusesValuesOutOfRange) {
  struct Case {
    std::string_view scenario, line, error;
  };
  const Case cases[] = {
      {"idle", "devices = 0", "part[1].devices: must be an integer in 1..200000, got 0"},
      {"idle", "devices = 200001", "part[1].devices: must be an integer in 1..200000, got 200001"},
      {"idle", "hold = 0", "part[1].hold: must be an integer in 1..3600, got 0"},
      {"idle", "hold = 3601", "part[1].hold: must be an integer in 1..3600, got 3601"},
      {"logins", "parallel = 0", "part[1].parallel: must be an integer in 1..4096, got 0"},
      {"logins", "parallel = 4097", "part[1].parallel: must be an integer in 1..4096, got 4097"},
      {"bulk", "streams = 1025", "part[1].streams: must be an integer in 1..1024, got 1025"},
      {"bulk", "devices = -1", "part[1].devices: must be an integer in 1..16, got -1"},
      {"bulk", "devices = 17", "part[1].devices: must be an integer in 1..16, got 17"},
      {"latency", "connections = 4097", "part[1].connections: must be an integer in 1..4096, got 4097"},
      {"latency", "size = 65537", "part[1].size: must be an integer in 1..65536, got 65537"},
      {"latency", "size = 0", "part[1].size: must be an integer in 1..65536, got 0"},
      {"latency", "rate = 0", "part[1].rate: must be an integer in 1..1000000, got 0"},
      {"latency", "rate = 1000001", "part[1].rate: must be an integer in 1..1000000, got 1000001"},
      {"latency", "rate = 9223372036854775807",
       "part[1].rate: must be an integer in 1..1000000, got 9223372036854775807"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorOf(OnePart(c.scenario, std::string(c.line) + "\n")), "line 3: " + std::string(c.error)) << c.line;
  }
  EXPECT_EQ(ErrorOf("seconds = 0\n" + OnePart("idle", "")), "line 1: seconds: must be an integer in 1..3600, got 0");
  EXPECT_EQ(ErrorOf("seconds = 3601\n" + OnePart("idle", "")),
            "line 1: seconds: must be an integer in 1..3600, got 3601");
}

TEST(BenchProfile, ReportsTheEarliestErrorInTheFile) {
  // Keys iterate in name order (connections before size); the message is about the first line.
  EXPECT_EQ(ErrorOf(OnePart("latency", "size = 0\nconnections = 0\n")),
            "line 3: part[1].size: must be an integer in 1..65536, got 0");
  EXPECT_EQ(ErrorOf(OnePart("idle", "holds = 1\n") + "zzz = 1\n"),
            "line 3: part[1].holds: unknown key (idle takes devices, hold)");
  EXPECT_EQ(ErrorOf(OnePart("bulk", "streams = 0\n") + "seconds = 0\n"),  // a key after [[part]] belongs to it
            "line 3: part[1].streams: must be an integer in 1..1024, got 0");
}

TEST(BenchProfile, HoldsOneToEightParts) {
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += OnePart("bulk", "");
  const auto p = ParseProfile(eight);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->parts.size(), 8u);

  EXPECT_EQ(ErrorOf(eight + OnePart("bulk", "")), "line 17: part[9]: more than 8 parts");
  EXPECT_EQ(ErrorOf(""), "part: missing: a profile has 1..8 [[part]] tables");
  EXPECT_EQ(ErrorOf("seconds = 5\n# nothing else\n"), "part: missing: a profile has 1..8 [[part]] tables");
  EXPECT_EQ(ErrorOf("seconds = 5\npart = []\n"), "line 2: part: empty: a profile has 1..8 [[part]] tables");
}

TEST(BenchProfile, BoundsTheDevicesOfAllParts) {
  // Exactly the bound, counting a default (idle: 10,000).
  const auto at = ParseProfile(OnePart("idle", "") + OnePart("logins", "devices = 190000\n"));
  ASSERT_TRUE(at.ok()) << at.error();

  EXPECT_EQ(ErrorOf(OnePart("idle", "devices = 150000\n") + OnePart("latency", "") +
                    OnePart("reconnect", "devices = 50001\n")),
            "line 8: part[3].devices: the parts' devices add up to 200001, more than 200000");
  // The part that crosses the bound by its default is named at its [[part]] line.
  EXPECT_EQ(ErrorOf(OnePart("logins", "devices = 195000\n") + OnePart("idle", "")),
            "line 4: part[2].devices: the parts' devices add up to 205000, more than 200000");
}

TEST(BenchProfile, BoundsTheFileBeforeParsing) {
  const std::string part = OnePart("bulk", "");
  std::string text = part + "#" + std::string(kMaxProfileBytes - part.size() - 2, 'x') + "\n";
  ASSERT_EQ(text.size(), kMaxProfileBytes);
  const auto p = ParseProfile(text);
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->parts.size(), 1u);

  text.insert(text.size() - 1, "x");
  EXPECT_EQ(ErrorOf(text), "larger than 65536 bytes (65537 bytes)");
  // Checked before parsing: what is past the bound is never read as TOML.
  EXPECT_EQ(ErrorOf(std::string(kMaxProfileBytes + 1, '[')), "larger than 65536 bytes (65537 bytes)");
}

TEST(BenchProfile, RefusesMalformedTomlWithItsLine) {
  const std::string bad = ErrorOf(OnePart("idle", "devices = = 3\n"));
  EXPECT_EQ(bad.rfind("line 3: not TOML: ", 0), 0u) << bad;
  const std::string duplicate = ErrorOf(OnePart("idle", "devices = 3\n\ndevices = 4\n"));
  EXPECT_EQ(duplicate.rfind("line 5: not TOML: ", 0), 0u) << duplicate;
  const std::string unterminated = ErrorOf("seconds = 5\n[[part]\n");
  EXPECT_EQ(unterminated.rfind("line 2: not TOML: ", 0), 0u) << unterminated;
  std::string with_nul = OnePart("idle", "");
  with_nul[with_nul.find("dle")] = '\0';
  const std::string nul = ErrorOf(with_nul);
  EXPECT_EQ(nul.rfind("line 2: not TOML: ", 0), 0u) << nul;
  for (const std::string& e : {bad, duplicate, unterminated, nul}) {
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_EQ(e.find('\0'), std::string::npos) << e;
  }
}

TEST(BenchProfile, FormatsWhatItReads) {
  const auto p = ParseProfile(kOffice);
  ASSERT_TRUE(p.ok()) << p.error();
  const std::string text = FormatProfile(*p);
  EXPECT_EQ(text,
            "seconds = 20\n"
            "\n[[part]]\nscenario = \"idle\"\ndevices = 5000\nhold = 2\n"
            "\n[[part]]\nscenario = \"latency\"\nclosed = false\nconnections = 8\nrate = 2000\nsize = 64\n"
            "\n[[part]]\nscenario = \"logins\"\ndevices = 500\nparallel = 16\n");
  const auto back = ParseProfile(text);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, *p);
  // The choice and a profile without seconds.
  const auto reconnect = ParseProfile(OnePart("reconnect", "how = \"restart\"\n"));
  ASSERT_TRUE(reconnect.ok()) << reconnect.error();
  EXPECT_EQ(FormatProfile(*reconnect), "\n[[part]]\nscenario = \"reconnect\"\ndevices = 1000\nhow = \"restart\"\n");
}

TEST(BenchProfile, ListsKeysOnlyForPartScenarios) {
  for (std::string_view s : kPartScenarios) {
    const auto keys = PartKeys(s);
    ASSERT_FALSE(keys.empty()) << s;
    for (const PartKey& k : keys) {
      if (k.kind == PartKey::Kind::kInteger) {
        EXPECT_LE(k.min, k.default_int) << s << "." << k.name;
        EXPECT_LE(k.default_int, k.max) << s << "." << k.name;
      }
      if (k.name == "devices") {  // bulk's are device processes on the app path
        EXPECT_EQ(k.max, s == "bulk" ? 16 : kMaxProfileDevices) << s;
      }
    }
  }
  EXPECT_TRUE(PartKeys("ip").empty());
  EXPECT_TRUE(PartKeys("mixed").empty());
  EXPECT_TRUE(PartKeys("").empty());
}

}  // namespace
}  // namespace strait::bench
