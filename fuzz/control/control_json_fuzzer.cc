// control_json_fuzzer: arbitrary bytes as a request body into the control plane's JSON reader
// (control-plane/api/json_reader.h). Never crashes, throws or recurses deeply, and:
//   - an accepted body is also accepted by nlohmann's own parser, with an equal value (the reader is stricter,
//     never different), and its dump reads back equal;
//   - an accepted value respects the bounds (depth, value count, string bytes);
//   - a body without NUL bytes that nlohmann accepts is refused only for one of the reader's own bounds, never as
//     a syntax error (nlohmann takes a NUL for the end of input);
//   - an error's offset lies within the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "control-plane/api/json_reader.h"

namespace {

using nlohmann::json;
using strait::control::JsonErrorCode;
using strait::control::JsonLimits;
using strait::control::ReadJson;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Depth (containers nested), values, and whether every string and key fits.
void Measure(const json& v, size_t depth, const JsonLimits& limits, size_t* max_depth, size_t* values) {
  ++*values;
  if (v.is_string()) Check(v.get_ref<const std::string&>().size() <= limits.max_string_bytes);
  if (!v.is_structured()) return;
  if (depth + 1 > *max_depth) *max_depth = depth + 1;
  for (const auto& [key, child] : v.items()) {
    if (v.is_object()) Check(key.size() <= limits.max_string_bytes);
    Measure(child, depth + 1, limits, max_depth, values);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  // Small bounds too, so the fuzzer reaches them with short inputs.
  for (const JsonLimits& limits : {JsonLimits{}, JsonLimits{.max_depth = 3, .max_values = 8, .max_string_bytes = 4}}) {
    auto ours = ReadJson(body, limits);
    json theirs = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (ours.ok()) {
      Check(!theirs.is_discarded());
      Check(*ours == theirs);
      size_t depth = 0, values = 0;
      Measure(*ours, 0, limits, &depth, &values);
      Check(depth <= limits.max_depth);
      Check(values <= limits.max_values);
      std::string dumped = ours->dump();
      auto again = ReadJson(dumped, limits);
      Check(again.ok() && *again == *ours);
    } else {
      Check(ours.error().offset <= size);
      Check(!ours.error().detail.empty());
      // nlohmann stops at a NUL byte as if the input ended there, so it judges only a NUL-free body like the reader.
      if (!theirs.is_discarded() && body.find('\0') == std::string_view::npos) {
        JsonErrorCode c = ours.error().code;
        Check(c != JsonErrorCode::kSyntax && c != JsonErrorCode::kBadUtf8 && c != JsonErrorCode::kNumberOutOfRange);
      }
    }
  }
  return 0;
}
