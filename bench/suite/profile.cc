#include "bench/suite/profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <variant>

#include <toml++/toml.h>

#include "tunnel/toml_type_name.h"

namespace strait::bench {
namespace {

using Kind = PartKey::Kind;

// The CLI's options and defaults per scenario (docs/bench.md §1, §2).
constexpr PartKey Devices(std::int64_t default_count) {
  return {"devices", Kind::kInteger, 1, 200'000, default_count};
}
constexpr std::array<PartKey, 2> kIdleKeys = {Devices(10'000), PartKey{"hold", Kind::kInteger, 1, 3600, 2}};
constexpr std::array<PartKey, 2> kLoginsKeys = {Devices(1'000), PartKey{"parallel", Kind::kInteger, 1, 4096, 64}};
constexpr std::array<PartKey, 2> kReconnectKeys = {Devices(1'000),
                                                   PartKey{"how", Kind::kChoice, 0, 0, 0, {"abort", "restart"}}};
constexpr std::array<PartKey, 4> kLatencyKeys = {
    PartKey{"size", Kind::kInteger, 1, 65'536, 64}, PartKey{"connections", Kind::kInteger, 1, 4096, 8},
    PartKey{"rate", Kind::kInteger, 1, 1'000'000, 1'000}, PartKey{"closed", Kind::kBool, 0, 1, 0}};
constexpr std::array<PartKey, 2> kBulkKeys = {PartKey{"devices", Kind::kInteger, 1, 16, 1},
                                              PartKey{"streams", Kind::kInteger, 1, 1024, 4}};

constexpr std::size_t kMaxQuoted = 64;  // bytes of a key or a string value an error repeats

// `text` with bytes outside printable ASCII as \xNN, cut after `max` bytes, so an error stays one short line.
std::string Printable(std::string_view text, std::size_t max = kMaxQuoted) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c > 0x7e) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > max) out += "...";
  return out;
}


// ", got <what>": the string itself for a string, else its type.
std::string Got(const toml::node& n) {
  if (const auto s = n.value_exact<std::string>()) return fmt::format(", got \"{}\"", Printable(*s));
  return fmt::format(", got {}", TomlTypeName(n));
}

std::string ScenarioList() {
  std::string out;
  for (std::string_view s : kPartScenarios) out += fmt::format("{}{}", out.empty() ? "" : ", ", s);
  return out;
}

std::string KeyList(std::span<const PartKey> keys) {
  std::string out;
  for (const PartKey& k : keys) out += fmt::format("{}{}", out.empty() ? "" : ", ", k.name);
  return out;
}

// Walks a parsed profile and keeps the error earliest in the file (an error without a line comes last).
class Reader {
 public:
  Result<Profile, std::string> Read(const toml::table& root) {
    Profile profile;
    bool has_parts = false;
    for (auto&& [key, node] : root) {
      if (key.str() == "seconds") {
        if (const auto v = Integer(node, "seconds", 1, kMaxProfileSeconds)) {
          profile.seconds = static_cast<std::uint32_t>(*v);
        }
      } else if (key.str() == "part") {
        has_parts = true;
        ReadParts(node, profile.parts);
      } else {
        Add(key.source().begin.line, Printable(key.str()), "unknown key (a profile takes seconds and [[part]])");
      }
    }
    if (!has_parts) Add(0, "part", "missing: a profile has 1..8 [[part]] tables");
    if (!first_) CheckDevices(profile.parts);
    if (first_) return Fail(std::move(first_->second));
    return profile;
  }

 private:
  // Where each part's devices were given (or the part's table, for the default), for the total's error.
  struct DevicesAt {
    std::int64_t count = 0;
    std::uint32_t line = 0;
  };

  void ReadParts(const toml::node& node, std::vector<ProfilePart>& parts) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
      return Add(Line(node), "part", fmt::format("must be an array of tables ([[part]]){}", Got(node)));
    }
    if (array->empty()) return Add(Line(node), "part", "empty: a profile has 1..8 [[part]] tables");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const std::string path = fmt::format("part[{}]", i + 1);
      if (i == kMaxProfileParts) {
        return Add(Line(element), path, fmt::format("more than {} parts", kMaxProfileParts));
      }
      const toml::table* table = element.as_table();
      if (table == nullptr) {
        Add(Line(element), path, fmt::format("must be a table{}", Got(element)));
        continue;
      }
      if (std::optional<ProfilePart> part = ReadPart(*table, path)) parts.push_back(std::move(*part));
    }
  }

  std::optional<ProfilePart> ReadPart(const toml::table& table, const std::string& path) {
    const toml::node* scenario_node = table.get("scenario");
    if (scenario_node == nullptr) {
      Add(Line(table), path, fmt::format("missing key scenario (one of {})", ScenarioList()));
      return std::nullopt;
    }
    const std::optional<std::string> scenario = scenario_node->value_exact<std::string>();
    std::span<const PartKey> keys;
    if (scenario) keys = PartKeys(*scenario);
    if (keys.empty()) {
      const std::string why = !scenario ? fmt::format("must be a string{}", Got(*scenario_node))
                              : (*scenario == "ip" || *scenario == "mixed")
                                  ? fmt::format("\"{}\" cannot be a part of mixed", *scenario)
                                  : fmt::format("unknown scenario \"{}\"", Printable(*scenario));
      Add(Line(*scenario_node), path + ".scenario", fmt::format("{} (one of {})", why, ScenarioList()));
      return std::nullopt;
    }

    ProfilePart part{*scenario, {}};
    const std::size_t errors_before = errors_;
    const toml::node* rate = nullptr;
    for (auto&& [key, node] : table) {
      if (key.str() == "scenario") continue;
      const auto known = std::find_if(keys.begin(), keys.end(), [&](const PartKey& k) { return k.name == key.str(); });
      const std::string key_path = fmt::format("{}.{}", path, Printable(key.str()));
      if (known == keys.end()) {
        Add(key.source().begin.line, key_path, fmt::format("unknown key ({} takes {})", *scenario, KeyList(keys)));
        continue;
      }
      if (known->name == "rate") rate = &node;
      if (std::optional<ParamValue> v = Value(node, key_path, *known)) part.params.emplace(known->name, std::move(*v));
    }
    if (errors_ != errors_before) return std::nullopt;

    const auto closed = part.params.find("closed");
    const bool closed_loop = closed != part.params.end() && std::get<bool>(closed->second);
    if (closed_loop && rate != nullptr) {
      Add(Line(*rate), path + ".rate", "open loop only: with closed = true a part has no rate");
      return std::nullopt;
    }
    for (const PartKey& k : keys) {
      if (part.params.contains(std::string(k.name)) || (closed_loop && k.name == "rate")) continue;
      switch (k.kind) {
        case Kind::kInteger: part.params.emplace(k.name, k.default_int); break;
        case Kind::kBool: part.params.emplace(k.name, k.default_int != 0); break;
        case Kind::kChoice: part.params.emplace(k.name, std::string(k.choices[0])); break;
      }
    }
    const toml::node* devices = table.get("devices");
    if (const auto d = part.params.find("devices"); d != part.params.end()) {
      devices_.push_back({std::get<std::int64_t>(d->second), devices != nullptr ? Line(*devices) : Line(table)});
    } else {
      devices_.push_back({0, Line(table)});
    }
    return part;
  }

  // The checked value of a known key, or nullopt after recording why not.
  std::optional<ParamValue> Value(const toml::node& node, const std::string& path, const PartKey& key) {
    switch (key.kind) {
      case Kind::kInteger:
        if (const auto v = Integer(node, path, key.min, key.max)) return ParamValue(*v);
        return std::nullopt;
      case Kind::kBool:
        if (const auto v = node.value_exact<bool>()) return ParamValue(*v);
        Add(Line(node), path, fmt::format("must be true or false{}", Got(node)));
        return std::nullopt;
      case Kind::kChoice: {
        const auto v = node.value_exact<std::string>();
        if (v && (*v == key.choices[0] || *v == key.choices[1])) return ParamValue(*v);
        Add(Line(node), path, fmt::format("must be \"{}\" or \"{}\"{}", key.choices[0], key.choices[1], Got(node)));
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::optional<std::int64_t> Integer(const toml::node& node, std::string_view path, std::int64_t min,
                                      std::int64_t max) {
    const auto v = node.value_exact<std::int64_t>();
    if (v && *v >= min && *v <= max) return v;
    Add(Line(node), path,
        fmt::format("must be an integer in {}..{}{}", min, max, v ? fmt::format(", got {}", *v) : Got(node)));
    return std::nullopt;
  }

  // After the parts read clean: their devices together within the bound, else named at the part that crosses it.
  void CheckDevices(const std::vector<ProfilePart>& parts) {
    std::int64_t total = 0;
    for (const DevicesAt& d : devices_) total += d.count;  // at most 8 x 200,000
    if (total <= kMaxProfileDevices) return;
    std::int64_t running = 0;
    for (std::size_t i = 0; i < devices_.size() && i < parts.size(); ++i) {
      running += devices_[i].count;
      if (running > kMaxProfileDevices) {
        return Add(devices_[i].line, fmt::format("part[{}].devices", i + 1),
                   fmt::format("the parts' devices add up to {}, more than {}", total, kMaxProfileDevices));
      }
    }
  }

  static std::uint32_t Line(const toml::node& node) { return node.source().begin.line; }

  void Add(std::uint32_t line, std::string_view path, std::string_view why) {
    ++errors_;
    const std::uint32_t order = line == 0 ? std::numeric_limits<std::uint32_t>::max() : line;
    if (first_ && first_->first <= order) return;
    first_.emplace(order,
                   line == 0 ? fmt::format("{}: {}", path, why) : fmt::format("line {}: {}: {}", line, path, why));
  }

  std::optional<std::pair<std::uint32_t, std::string>> first_;  // (line, or max for none; the message)
  std::size_t errors_ = 0;
  std::vector<DevicesAt> devices_;  // one per accepted part, in order
};

bool IsBareKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// A TOML basic string: quotes and backslashes escaped, control characters as \u00XX.
std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string TomlValue(const ParamValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) return fmt::format("{}", *i);
  if (const double* d = std::get_if<double>(&v)) {
    // Never produced by ParseProfile; written so that a float reads back as one (with a point or an exponent).
    std::string text = fmt::format("{}", *d);
    if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
    return text;
  }
  return Quoted(std::get<std::string>(v));
}

}  // namespace

std::span<const PartKey> PartKeys(std::string_view scenario) {
  if (scenario == "idle") return kIdleKeys;
  if (scenario == "logins") return kLoginsKeys;
  if (scenario == "reconnect") return kReconnectKeys;
  if (scenario == "latency") return kLatencyKeys;
  if (scenario == "bulk") return kBulkKeys;
  return {};
}

Result<Profile, std::string> ParseProfile(std::string_view toml_text) {
  if (toml_text.size() > kMaxProfileBytes) {
    return Fail(fmt::format("larger than {} bytes ({} bytes)", kMaxProfileBytes, toml_text.size()));
  }
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Fail(fmt::format("line {}: not TOML: {}", e.source().begin.line, Printable(e.description(), 256)));
  }
  return Reader().Read(root);
}

std::string FormatProfile(const Profile& profile) {
  std::string out;
  if (profile.seconds) out += fmt::format("seconds = {}\n", *profile.seconds);
  for (const ProfilePart& part : profile.parts) {
    out += fmt::format("\n[[part]]\nscenario = {}\n", Quoted(part.scenario));
    for (const auto& [name, value] : part.params) {
      out += fmt::format("{} = {}\n", IsBareKey(name) ? name : Quoted(name), TomlValue(value));
    }
  }
  return out;
}

}  // namespace strait::bench
