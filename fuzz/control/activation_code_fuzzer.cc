// activation_code_fuzzer: activation codes and QR payloads (control-plane/api/activation_code.h). Never crashes,
// and:
//   - a parsed code is 24 Crockford characters, and its display form and compact form parse back to it;
//   - a parsed QR payload is QR alphanumeric text, and making the payload from what it parsed to gives exactly
//     the input (one text per payload);
//   - the input as a host: a payload made from it parses back to the same host (lower case) and port.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "control-plane/api/activation_code.h"
#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"

namespace {

using namespace strait::control;  // NOLINT: a fuzzer's brevity

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto code = ActivationCode::Parse(text)) {
    std::string compact = code->Compact();
    Check(compact.size() == kActivationCodeChars);
    for (char c : compact) Check(kCrockford.find(c) != std::string_view::npos);
    Check(IsValidId(IdKind::kActivation, code->id()));
    Check(ActivationCode::Parse(code->Display())->Compact() == compact);
    Check(ActivationCode::Parse(compact)->Compact() == compact);
  }

  auto qr = ParseQrPayload(text);
  if (qr.ok()) {
    auto again = MakeQrPayload(qr->code, qr->host, qr->port);
    Check(again.ok() && *again == text);
    Check(qr->host == LowerAscii(qr->host));
  }

  static const ActivationCode fixed = *ActivationCode::Parse("7K3M9X2P4Q7TAB5C8D9E1F2G");
  uint16_t port = size >= 2 ? static_cast<uint16_t>(data[0] << 8 | data[1]) : 443;
  auto made = MakeQrPayload(fixed, text, port);
  if (made.ok()) {
    auto back = ParseQrPayload(*made);
    Check(back.ok());
    Check(back->host == LowerAscii(text));
    Check(back->port == port);
    Check(back->code.Compact() == fixed.Compact());
  }
  return 0;
}
