// logging::Logger: level filtering, the chosen format reaching the sink, and the non-blocking property (a sink
// that never returns does not stop the caller; what did not fit in the queue is dropped and counted).
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <set>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>

#include "logging/logger.h"

namespace strait::logging {
namespace {

// Collects formatted lines; optionally blocks every write until Release().
class TestSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit TestSink(bool blocked = false) : blocked_(blocked) {}

  void Release() {
    std::lock_guard<std::mutex> l(gate_mu_);
    blocked_ = false;
    gate_cv_.notify_all();
  }
  // Blocks until the writer thread is inside a write (so the queue is known to back up behind it).
  bool WaitEntered(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> l(gate_mu_);
    return gate_cv_.wait_for(l, limit, [&] { return entered_; });
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(lines_mu_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    {
      std::unique_lock<std::mutex> l(gate_mu_);
      entered_ = true;
      gate_cv_.notify_all();
      gate_cv_.wait(l, [&] { return !blocked_; });
    }
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    std::lock_guard<std::mutex> l(lines_mu_);
    lines_.emplace_back(buf.data(), buf.size());
  }
  void flush_() override {}

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool blocked_;
  bool entered_ = false;
  std::mutex lines_mu_;
  std::vector<std::string> lines_;
};

std::vector<std::string> RunAndCollect(LoggerOptions o, const std::vector<Event>& events) {
  auto sink = std::make_shared<TestSink>();
  o.sink = sink;
  {
    Logger logger(o);
    const Sink s = logger.sink();
    for (const Event& e : events) s(e);
  }  // destruction writes everything queued
  return sink->lines();
}

TEST(Logger, LevelFiltersBelowIt) {
  const std::vector<Event> events = {Event(Level::kDebug, "d"), Event(Level::kInfo, "i"), Event(Level::kWarn, "w"),
                                     Event(Level::kError, "e")};
  LoggerOptions o;
  o.level = Level::kWarn;
  const std::vector<std::string> lines = RunAndCollect(o, events);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(" warn w\n"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" error e\n"), std::string::npos) << lines[1];

  o.level = Level::kDebug;
  EXPECT_EQ(RunAndCollect(o, events).size(), 4u);
  Logger info({});
  EXPECT_FALSE(info.Enabled(Level::kDebug));
  EXPECT_TRUE(info.Enabled(Level::kInfo));
}

TEST(Logger, TextLinesAreTheTextFormatOnePerEvent) {
  const std::vector<std::string> lines =
      RunAndCollect({}, {Event(Level::kInfo, "link_up").With("role", "device").With("why", "a b")});
  ASSERT_EQ(lines.size(), 1u);
  // 2026-12-02T18:14:00.123Z info link_up role=device why="a b"\n
  const std::string& l = lines[0];
  ASSERT_EQ(l.size(), 24 + std::string(" info link_up role=device why=\"a b\"\n").size()) << l;
  EXPECT_EQ(l[10], 'T');
  EXPECT_EQ(l[23], 'Z');
  EXPECT_EQ(l.substr(24), " info link_up role=device why=\"a b\"\n");
}

TEST(Logger, JsonLinesParseOnePerEvent) {
  LoggerOptions o;
  o.format = Format::kJson;
  const std::vector<std::string> lines = RunAndCollect(
      o, {Event(Level::kInfo, "a").With("k", "v\"\n"), Event(Level::kError, "b").With("n", 2)});
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& l : lines) {
    ASSERT_EQ(l.back(), '\n');
    EXPECT_EQ(l.find('\n'), l.size() - 1) << "one line per event";
  }
  const auto a = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(a["event"], "a");
  EXPECT_EQ(a["level"], "info");
  EXPECT_EQ(a["k"], "v\"\n");
  const auto b = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(b["event"], "b");
  EXPECT_EQ(b["n"], "2");
}

// The non-blocking property: the writer is stuck inside the sink, yet 10,000 events from the caller return at
// once; the queue keeps the newest 16 and every other line is counted as dropped.
TEST(Logger, BlockedSinkDoesNotBlockTheCallerAndDropsAreCounted) {
  auto sink = std::make_shared<TestSink>(/*blocked=*/true);
  LoggerOptions o;
  o.queue_size = 16;
  o.sink = sink;
  constexpr int kEvents = 10000;
  std::vector<std::string> lines;
  std::uint64_t dropped = 0;
  {
    Logger logger(o);
    logger.Log(Event(Level::kInfo, "first"));
    ASSERT_TRUE(sink->WaitEntered(std::chrono::seconds(30))) << "the writer never reached the sink";
    auto caller = std::async(std::launch::async, [&] {
      for (int i = 0; i < kEvents; ++i) logger.Log(Event(Level::kInfo, "e").With("i", i));
    });
    const bool returned = caller.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    if (!returned) sink->Release();  // let the test end; the caller blocked
    ASSERT_TRUE(returned) << "Log() blocked behind a stuck sink";
    dropped = logger.dropped();
    EXPECT_EQ(dropped, static_cast<std::uint64_t>(kEvents - 16));
    sink->Release();
  }
  lines = sink->lines();
  // "first" (already in the sink) and the 16 newest events.
  ASSERT_EQ(lines.size(), 17u);
  EXPECT_NE(lines.front().find(" first\n"), std::string::npos) << lines.front();
  EXPECT_NE(lines[1].find(" e i=" + std::to_string(kEvents - 16) + "\n"), std::string::npos) << lines[1];
  EXPECT_NE(lines.back().find(" e i=" + std::to_string(kEvents - 1) + "\n"), std::string::npos) << lines.back();
}

std::set<std::string> Tasks() {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) out.insert(e.path().filename());
  return out;
}

// The daemons block SIGTERM / SIGINT after they made their Logger and wait for them on a thread of their own: the
// writer thread must never take them (it did, and a SIGTERM killed the process with exit 143).
TEST(Logger, WriterThreadBlocksEverySignalAndTheCallersMaskIsKept) {
  sigset_t before;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &before), 0);
  ASSERT_EQ(sigismember(&before, SIGTERM), 0) << "the test runner blocks SIGTERM already";
  const std::set<std::string> old = Tasks();
  Logger logger({});
  std::vector<std::string> fresh;
  for (const std::string& t : Tasks()) {
    if (!old.contains(t)) fresh.push_back(t);
  }
  ASSERT_EQ(fresh.size(), 1u) << "one writer thread";
  std::ifstream status("/proc/self/task/" + fresh[0] + "/status");
  std::string line;
  std::string blocked;
  while (std::getline(status, line)) {
    if (line.starts_with("SigBlk:")) blocked = line.substr(7);
  }
  const unsigned long long mask = std::stoull(blocked, nullptr, 16);
  EXPECT_NE(mask & (1ull << (SIGTERM - 1)), 0u) << blocked;
  EXPECT_NE(mask & (1ull << (SIGINT - 1)), 0u) << blocked;
  sigset_t after;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &after), 0);
  EXPECT_EQ(sigismember(&after, SIGTERM), 0) << "the caller's mask changed";
}

}  // namespace
}  // namespace strait::logging
