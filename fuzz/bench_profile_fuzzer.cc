// bench_profile_fuzzer: bytes into the profile reader of `strait bench mixed --profile FILE` (bench/suite/profile.h),
// which reads a file the user hands it.
// Properties: nothing crashes, reads out of bounds or throws; a refusal is one non-empty line of printable ASCII,
// and the same input is refused the same way twice; an accepted profile keeps every bound (1..8 parts of the allowed
// scenarios, each naming exactly its scenario's keys with values of the declared kind and range, devices in all at
// most kMaxProfileDevices, seconds 1..3600), and FormatProfile writes it as text that reads back equal and formats
// again to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "bench/suite/profile.h"

namespace {

using strait::bench::ParamValue;
using strait::bench::PartKey;
using strait::bench::Profile;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool OneLine(const std::string& text) {
  if (text.empty() || text.size() > 1024) return false;
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool Fits(const ParamValue& value, const PartKey& key) {
  switch (key.kind) {
    case PartKey::Kind::kInteger: {
      const auto* v = std::get_if<std::int64_t>(&value);
      return v != nullptr && *v >= key.min && *v <= key.max;
    }
    case PartKey::Kind::kBool: return std::holds_alternative<bool>(value);
    case PartKey::Kind::kChoice: {
      const auto* v = std::get_if<std::string>(&value);
      return v != nullptr && (*v == key.choices[0] || *v == key.choices[1]);
    }
  }
  return false;
}

void CheckBounds(const Profile& profile) {
  Check(!profile.seconds || (*profile.seconds >= 1 && *profile.seconds <= strait::bench::kMaxProfileSeconds));
  Check(!profile.parts.empty() && profile.parts.size() <= strait::bench::kMaxProfileParts);
  std::int64_t devices = 0;
  for (const auto& part : profile.parts) {
    const auto keys = strait::bench::PartKeys(part.scenario);
    Check(!keys.empty());
    const auto closed = part.params.find("closed");
    const bool closed_loop = closed != part.params.end() && std::get<bool>(closed->second);
    std::size_t expected = 0;
    for (const PartKey& key : keys) {
      const auto it = part.params.find(std::string(key.name));
      if (closed_loop && key.name == "rate") {
        Check(it == part.params.end());
        continue;
      }
      Check(it != part.params.end() && Fits(it->second, key));
      ++expected;
      if (key.name == "devices") devices += std::get<std::int64_t>(it->second);
    }
    Check(part.params.size() == expected);
  }
  Check(devices <= strait::bench::kMaxProfileDevices);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = strait::bench::ParseProfile(text);
  const auto again = strait::bench::ParseProfile(text);
  Check(parsed.ok() == again.ok());
  if (!parsed.ok()) {
    Check(OneLine(parsed.error()));
    Check(parsed.error() == again.error());
    return 0;
  }
  Check(*parsed == *again);
  CheckBounds(*parsed);
  const std::string written = strait::bench::FormatProfile(*parsed);
  const auto back = strait::bench::ParseProfile(written);
  Check(back.ok() && *back == *parsed);
  Check(strait::bench::FormatProfile(*back) == written);
  return 0;
}
