// The text and JSON line formats (logging/format.h): quoting and escaping, JSON validity and fields, levels.
#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "logging/format.h"

namespace strait::logging {
namespace {

// 2026-12-02T18:14:00.123Z
const std::chrono::system_clock::time_point kT =
    std::chrono::system_clock::time_point(std::chrono::seconds(1796235240)) + std::chrono::milliseconds(123);

TEST(LogFormat, TimeIsRfc3339UtcWithMilliseconds) {
  EXPECT_EQ(FormatTime(kT), "2026-12-02T18:14:00.123Z");
  EXPECT_EQ(FormatTime(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

TEST(LogFormat, TextLineIsTimeLevelEventFields) {
  const Event e = Event(Level::kWarn, "login_refused").With("port", "device").With("shard", 3).With("ok", true);
  EXPECT_EQ(FormatText(e, kT), "2026-12-02T18:14:00.123Z warn login_refused port=device shard=3 ok=true");
  EXPECT_EQ(Describe(e), "login_refused port=device shard=3 ok=true");
  EXPECT_EQ(FormatText(Event(Level::kInfo, "stopped"), kT), "2026-12-02T18:14:00.123Z info stopped");
}

TEST(LogFormat, TextQuotesAndEscapesWhatIsNotBare) {
  struct Case {
    std::string value;
    std::string written;
  };
  const Case cases[] = {
      {"127.0.0.1:4443", "127.0.0.1:4443"},
      {"", "\"\""},
      {"connect_failed (Connection refused)", "\"connect_failed (Connection refused)\""},
      {"a=b", "\"a=b\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"two\nlines\r\tx", "\"two\\nlines\\r\\tx\""},
      {std::string("nul\0bell\x07" "del\x7f", 13), "\"nul\\x00bell\\x07del\\x7f\""},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(QuoteValue(c.value), c.written) << c.value;
  }
}

// A peer-controlled value cannot start a new line or add a field of its own.
TEST(LogFormat, TextValueCannotForgeALineOrAField) {
  const Event e = Event(Level::kInfo, "link_up").With("subject", "x\n2026-01-01T00:00:00.000Z error fake role=relay");
  const std::string line = FormatText(e, kT);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line, "2026-12-02T18:14:00.123Z info link_up subject=\"x\\n2026-01-01T00:00:00.000Z error fake "
                  "role=relay\"");
}

TEST(LogFormat, JsonIsOneObjectWithTsLevelEventAndFieldsInOrder) {
  const Event e = Event(Level::kError, "link_down")
                      .With("relay", "127.0.0.1:1")
                      .With("reason", "say \"hi\"\n\\")
                      .With("count", 7)
                      .With("ts", "peer's ts");
  const std::string line = FormatJson(e, kT);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
  ASSERT_TRUE(j.is_object());
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "event", "relay", "reason", "count", "field.ts"}));
  EXPECT_EQ(j["ts"], "2026-12-02T18:14:00.123Z");
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["event"], "link_down");
  EXPECT_EQ(j["reason"], "say \"hi\"\n\\");
  EXPECT_EQ(j["count"], "7");
  EXPECT_EQ(j["field.ts"], "peer's ts");
}

// Control bytes are escaped and invalid UTF-8 is replaced, so the line always parses.
TEST(LogFormat, JsonStaysValidForAnyBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string line = FormatJson(Event(Level::kInfo, "x").With("bytes", all).With("bad", "\xff\xfe"), kT);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["bytes"].get<std::string>().substr(0, 128), all.substr(0, 128));
  EXPECT_EQ(j["bad"], "\xef\xbf\xbd\xef\xbf\xbd");  // two U+FFFD
}

TEST(LogFormat, LevelAndFormatNamesRoundTrip) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    EXPECT_EQ(ParseLevel(LevelName(l)), l);
  }
  EXPECT_EQ(ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(ParseLevel("WARN"), std::nullopt);
  EXPECT_EQ(ParseLevel("verbose"), std::nullopt);
  EXPECT_EQ(ParseFormat("json"), Format::kJson);
  EXPECT_EQ(ParseFormat("text"), Format::kText);
  EXPECT_EQ(ParseFormat("logfmt"), std::nullopt);
  EXPECT_EQ(FormatName(Format::kJson), "json");
}

TEST(LogEvent, FindsTheFirstFieldByKey) {
  const Event e = Event(Level::kInfo, "e").With("a", 1).With("a", 2);
  EXPECT_EQ(e.Find("a"), "1");
  EXPECT_EQ(e.Find("b"), std::nullopt);
}

}  // namespace
}  // namespace strait::logging
