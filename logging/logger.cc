#include "logging/logger.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <utility>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace strait::logging {

Logger::Logger(LoggerOptions options) : options_(std::move(options)) {
  if (options_.queue_size == 0) options_.queue_size = 1;
  std::shared_ptr<spdlog::sinks::sink> sink = options_.sink;
  if (!sink) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  // The line is complete (time, level, fields) when it is queued: the writer adds only the newline.
  sink->set_pattern("%v");
  // The writer thread takes no signals: it inherits a full mask (the daemons wait for SIGTERM / SIGINT on a thread
  // of their own, whenever the Logger was made), then this thread's mask is put back.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pool_ = std::make_shared<spdlog::details::thread_pool>(options_.queue_size, 1);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Not registered with spdlog's global registry: each Logger is its own, and tests make many.
  logger_ = std::make_shared<spdlog::async_logger>("strait", std::move(sink), pool_,
                                                   spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_level(spdlog::level::trace);
  logger_->flush_on(spdlog::level::off);
}

Logger::~Logger() {
  // The logger's queued messages hold a reference to it; dropping ours and then the pool's joins the writer after
  // it has written everything queued (spdlog's thread_pool posts its terminate messages behind them).
  logger_.reset();
  pool_.reset();
}

void Logger::Log(const Event& event) {
  if (!Enabled(event.level())) return;
  const std::string line = FormatLine(options_.format, event, std::chrono::system_clock::now());
  logger_->log(spdlog::level::info, "{}", line);
}

Sink Logger::sink() {
  return [this](const Event& e) { Log(e); };
}

std::uint64_t Logger::dropped() const { return pool_->overrun_counter(); }

void Logger::Flush() { logger_->flush(); }

}  // namespace strait::logging
