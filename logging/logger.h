// logging::Logger: where a daemon's events become lines (format.h) on stderr, through spdlog (Debian's
// libspdlog-dev, built with the external libfmt-dev: SPDLOG_FMT_EXTERNAL).
//
// Non-blocking by construction: Log() filters by level, formats the line on the caller's thread and hands it to an
// spdlog async logger whose one writer thread owns the sink. Its queue is bounded (queue_size lines, default 8192)
// and its overflow policy is overrun_oldest: when the writer falls behind (a stderr pipe nobody reads, a slow
// disk), the oldest queued line is dropped to make room and counted (dropped()), so an event loop never waits on
// a log write. The only wait is the queue's own mutex, held for a push or a pop, never across I/O.
//
// Thread-safe: any thread may call Log() and sink(). The writer thread blocks every signal, so a daemon's signal
// handling does not depend on when its Logger was made. Destroying the Logger writes what is still queued, then stops
// the writer thread (so a daemon's last lines reach stderr before it exits).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "logging/event.h"
#include "logging/format.h"

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace strait::logging {

struct LoggerOptions {
  Level level = Level::kInfo;   // events below this level are dropped before they are formatted (not counted)
  Format format = Format::kText;
  std::size_t queue_size = 8192;  // lines waiting for the writer; past this the oldest is dropped and counted
  // Where lines go; nullptr: stderr. Tests pass their own (a sink that blocks, one that collects lines).
  std::shared_ptr<spdlog::sinks::sink> sink;
};

class Logger {
 public:
  explicit Logger(LoggerOptions options);
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(Level level) const { return level >= options_.level; }
  // Formats and enqueues one line; never blocks on the sink.
  void Log(const Event& event);
  // A Sink for libraries' options (captures this Logger: it must outlive every user of the Sink).
  Sink sink();

  // Lines dropped because the queue was full, since start.
  std::uint64_t dropped() const;
  // Asks the writer to flush the sink after what is queued now (returns at once).
  void Flush();

  const LoggerOptions& options() const { return options_; }

 private:
  LoggerOptions options_;
  std::shared_ptr<spdlog::details::thread_pool> pool_;
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace strait::logging
