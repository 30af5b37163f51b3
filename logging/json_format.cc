// The JSON format (format.h), written by nlohmann-json (Debian's nlohmann-json3-dev): no hand-built JSON.
#include <nlohmann/json.hpp>

#include "logging/format.h"

namespace strait::logging {

std::string FormatJson(const Event& event, std::chrono::system_clock::time_point t) {
  nlohmann::ordered_json j;
  j["ts"] = FormatTime(t);
  j["level"] = LevelName(event.level());
  j["event"] = event.name();
  for (const Field& f : event.fields()) {
    const bool reserved = f.key == "ts" || f.key == "level" || f.key == "event";
    j[reserved ? "field." + f.key : f.key] = f.value;
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace strait::logging
