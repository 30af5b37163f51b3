// control_sealed_fuzzer: the store's secret parsers (control-plane/store/sealed.h): the secretbox.key text and
// sealed blobs read back from rows.
// Input: byte 0 picks the mode, the rest is the text or blob.
// Properties: never crashes or reads out of bounds; MasterKey::FromText accepts exactly 64 lowercase hex digits
// with at most one LF after them, and writes the same text back; Open of arbitrary bytes never succeeds (nothing
// here holds the key's MAC); Seal then Open returns the input, and the sealed blob with any one byte changed, under
// another owner or for another purpose, is refused.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "control-plane/store/sealed.h"

namespace {

using strait::control::store::MasterKey;
using strait::control::store::SealContext;
using strait::control::store::Sealer;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsKeyText(std::string_view text) {
  if (text.size() == 65 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

const MasterKey& FixedKey() {
  static const MasterKey key =
      MasterKey::FromText("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").value();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  static const Sealer sealer(FixedKey());
  const auto context = static_cast<SealContext>(mode % 3);

  switch ((mode >> 2) % 3) {
    case 0: {
      auto key = MasterKey::FromText(text);
      Check(key.ok() == IsKeyText(text));
      if (key.ok()) {
        const auto back = key->ToText();
        Check(std::string_view(reinterpret_cast<const char*>(back.data()), 64) == text.substr(0, 64));
      }
      break;
    }
    case 1:
      // Arbitrary bytes as a stored blob: refused, whatever they hold.
      Check(!sealer.Open(context, "acme", rest).ok());
      break;
    default: {
      const auto sealed = sealer.Seal(context, "acme", rest);
      auto opened = sealer.Open(context, "acme", sealed);
      Check(opened.ok() && opened->Equals(rest));
      Check(!sealer.Open(context, "globex", sealed).ok());
      Check(!sealer.Open(static_cast<SealContext>((mode + 1) % 3), "acme", sealed).ok());
      auto tampered = sealed;
      tampered[(rest.empty() ? 0 : rest[0]) % tampered.size()] ^= 0x80;
      Check(!sealer.Open(context, "acme", tampered).ok());
      break;
    }
  }
  return 0;
}
