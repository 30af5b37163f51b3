// The logging flags and config keys that `strait relay`, `strait connector` and `strait device` share
// (docs/logging.md), and the Logger each daemon makes from them. Read only by the command files.
//
//   --log-level debug|info|warn|error   (config key log_level; default info)
//   --log-format text|json              (config key log_format; default text)
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "logging/logger.h"
#include "cli/config_file.h"

namespace strait::cli {

struct LogSettings {
  std::string level = "info";
  std::string format = "text";
};

inline void AddLogFlags(CLI::App& cmd, LogSettings& s) {
  cmd.add_option("--log-level", s.level, "Lowest event level logged on stderr: debug, info, warn, error (info)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cmd.add_option("--log-format", s.format, "stderr log lines: text (ts level event key=value ...) or json (one "
                                           "object per line) (text)")
      ->check(CLI::IsMember({"text", "json"}));
}

inline void ReadLogConfig(ConfigFile& cfg, LogSettings& s) {
  cfg.OneOf("log_level", "--log-level", s.level, {"debug", "info", "warn", "error"});
  cfg.OneOf("log_format", "--log-format", s.format, {"text", "json"});
}

// The daemon's logger on stderr (both values were checked by the flag or the config reader).
inline std::unique_ptr<logging::Logger> MakeLogger(const LogSettings& s) {
  logging::LoggerOptions o;
  o.level = logging::ParseLevel(s.level).value_or(logging::Level::kInfo);
  o.format = logging::ParseFormat(s.format).value_or(logging::Format::kText);
  return std::make_unique<logging::Logger>(std::move(o));
}

}  // namespace strait::cli
