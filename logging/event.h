// logging::Event: one thing that happened, as a level, a name and key=value fields. This is the narrow interface
// through which libraries report what they see (the relay's shards, the connector, its Direct Connect listener and
// device sessions, the commands); it has no I/O and no spdlog, so a library that reports events depends on nothing
// but fmt. The daemons turn events into lines with logging::Logger (logger.h); tests collect them in memory.
//
//   log(logging::Event(Level::kInfo, "link_up").With("role", "device").With("shard", 3));
//
// Event names and keys are short lower-case tokens ([a-z0-9_.]); values are any text (the formatters quote or
// escape them). Building an event allocates: report events per link or session, never per packet (per-packet
// failures are counted, not logged: style.md rule 5).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace strait::logging {

// Severity, lowest first. A logger set to a level drops events below it.
enum class Level : std::uint8_t { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn", "error".
std::string_view LevelName(Level level);
// The inverse of LevelName (also "warning"); nullopt for anything else.
std::optional<Level> ParseLevel(std::string_view text);

struct Field {
  std::string key;
  std::string value;
};

class Event {
 public:
  Event(Level level, std::string name) : level_(level), name_(std::move(name)) {}

  // Appends key=value; `value` is formatted with fmt ("{}"). Keys keep their order.
  template <typename T>
  Event& With(std::string_view key, const T& value) & {
    fields_.push_back({std::string(key), ToText(value)});
    return *this;
  }
  template <typename T>
  Event&& With(std::string_view key, const T& value) && {
    return std::move(With(key, value));
  }

  Level level() const { return level_; }
  const std::string& name() const { return name_; }
  const std::vector<Field>& fields() const { return fields_; }
  // The value of the first field named `key` (valid while the event lives), or nullopt.
  std::optional<std::string_view> Find(std::string_view key) const {
    for (const Field& f : fields_) {
      if (f.key == key) return f.value;
    }
    return std::nullopt;
  }

 private:
  template <typename T>
  static std::string ToText(const T& value) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      return std::string(std::string_view(value));
    } else {
      return fmt::format("{}", value);
    }
  }

  Level level_;
  std::string name_;
  std::vector<Field> fields_;
};

// Where a library sends its events. Called on the library's own thread (often an event loop): the callee must not
// block (logging::Logger's sink only formats and enqueues). An empty Sink drops everything.
using Sink = std::function<void(const Event&)>;

// "name key=value key=value": the text format without its timestamp and level (logger.h has the full line), for
// tests and for contract lines that a command prints on stdout.
std::string Describe(const Event& event);

}  // namespace strait::logging
