// forward_spec_fuzzer: arbitrary text as a `strait device --forward` spec (tunnel/device/forward_spec.h).
// Properties: never crashes or reads out of bounds; a parsed spec listens on loopback and goes to a port in
// 1..65535 with a 1..255-byte name or an IP; its canonical text (FormatForwardSpec) parses back to the same spec
// and formats to the same text (round trip); a refusal has a reason that is one non-empty line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "runtime/net.h"
#include "tunnel/device/forward_spec.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = strait::device::ParseForwardSpec(text);
  if (!spec) {
    Check(!spec.error().empty());
    for (const char c : spec.error()) Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    return 0;
  }
  Check(strait::runtime::IsLoopback(spec->local));
  Check(spec->target.port != 0);
  if (spec->target.type == strait::device::AddressType::kDomain) {
    Check(spec->target.name_size >= 1);
  }
  const std::string canonical = strait::device::FormatForwardSpec(*spec);
  auto again = strait::device::ParseForwardSpec(canonical);
  Check(again.ok());
  Check(again->local.ToString() == spec->local.ToString());
  Check(again->target == spec->target);
  Check(strait::device::FormatForwardSpec(*again) == canonical);
  return 0;
}
