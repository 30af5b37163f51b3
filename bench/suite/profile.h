// The profile of `strait bench mixed --profile FILE` (docs/bench.md §2 "mixed"): a small TOML file naming the
// scenarios that run at once and their parameters. Sans-I/O: the caller reads the file (at most kMaxProfileBytes)
// and hands over its text.
//
//   seconds = 20            # optional, 1..3600: overrides --seconds
//   [[part]]                # 1..8 parts, each one scenario with its keys (kPartKeys)
//   scenario = "idle"       # idle, logins, reconnect, latency or bulk (not ip, not mixed)
//   devices = 5000
//
// The reader is strict, because the file is the user's: an unknown key anywhere, a wrong type (2000.0 for an
// integer, "true" for a boolean), a value out of range, a missing or disallowed scenario, more than 8 parts or none,
// and parts whose devices add up to more than kMaxProfileDevices are refused. A part's keys not in the file get
// their defaults (the CLI's, docs/bench.md §2), so every accepted part names every key of its scenario, except
// `rate` in a closed-loop latency part (`closed = true`), where a rate is refused. The error is one line,
// "line <n>: <path>: <why>" ("line 9: part[2].rat: unknown key (latency takes ...)"), the earliest in the file;
// parts count from 1 in paths; bytes outside printable ASCII in a key show as \xNN. Errors about the file as a
// whole (too large, no part) have no line.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/suite/results.h"
#include "crypto/result.h"

namespace strait::bench {

// Bounds (docs/bench.md §7).
inline constexpr std::size_t kMaxProfileBytes = std::size_t{64} << 10;  // checked before parsing
inline constexpr std::size_t kMaxProfileParts = 8;
inline constexpr std::int64_t kMaxProfileDevices = 200'000;  // `devices` summed over the parts (with defaults)
inline constexpr std::int64_t kMaxProfileSeconds = 3600;     // `seconds`, as --seconds

// The scenarios a part may run, in the order the docs list them.
inline constexpr std::array<std::string_view, 5> kPartScenarios = {"idle", "logins", "reconnect", "latency", "bulk"};

// One key a part of some scenario may hold, and how it is checked.
struct PartKey {
  enum class Kind : std::uint8_t {
    kInteger,  // a TOML integer in min..max
    kBool,     // true or false
    kChoice,   // one of the strings in `choices`
  };
  std::string_view name;
  Kind kind = Kind::kInteger;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::int64_t default_int = 0;                  // kInteger, and kBool (0 false, 1 true)
  std::array<std::string_view, 2> choices = {};  // kChoice; choices[0] is the default
};

// The keys a part of `scenario` takes besides `scenario`, matching the scenario's CLI options; empty for any name
// not in kPartScenarios.
std::span<const PartKey> PartKeys(std::string_view scenario);

struct ProfilePart {
  std::string scenario;
  std::map<std::string, ParamValue> params;  // every key of PartKeys(scenario) (rate: open loop only)
  bool operator==(const ProfilePart&) const = default;
};

struct Profile {
  std::optional<std::uint32_t> seconds;
  std::vector<ProfilePart> parts;
  bool operator==(const Profile&) const = default;
};

// Reads a profile's text; the error is one line as above.
Result<Profile, std::string> ParseProfile(std::string_view toml_text);

// The profile as TOML that ParseProfile reads back equal: `seconds` if set, then each part's scenario and its
// params in name order. For the report's "what ran" and the fuzz target's round trip.
std::string FormatProfile(const Profile& profile);

}  // namespace strait::bench
