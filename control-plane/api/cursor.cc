#include "control-plane/api/cursor.h"

#include <algorithm>
#include <cassert>

#include <sodium.h>

#include "control-plane/api/formats.h"

namespace strait::control {
namespace {

void PutU32(std::vector<uint8_t>* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<uint8_t>(v >> shift));
}

std::array<uint8_t, kCursorMacBytes> Mac(const CursorKey& key, std::span<const uint8_t> covered) {
  std::array<uint8_t, kCursorMacBytes> mac{};
  crypto_generichash(mac.data(), mac.size(), covered.data(), covered.size(), key.data(), CursorKey::kSize);
  return mac;
}

}  // namespace

CursorKey::CursorKey(std::span<const uint8_t, kSize> bytes) { std::copy(bytes.begin(), bytes.end(), bytes_.begin()); }
CursorKey::~CursorKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

CursorScope ScopeHash(std::span<const std::string_view> parts) {
  std::vector<uint8_t> buf;
  for (std::string_view p : parts) {
    PutU32(&buf, static_cast<uint32_t>(p.size()));
    buf.insert(buf.end(), p.begin(), p.end());
  }
  CursorScope out{};
  crypto_generichash(out.data(), out.size(), buf.data(), buf.size(), nullptr, 0);
  return out;
}

std::string_view CursorErrorName(CursorError e) {
  switch (e) {
    case CursorError::kMalformed: return "malformed";
    case CursorError::kBadMac: return "bad_mac";
    case CursorError::kOtherList: return "other_list";
    case CursorError::kOtherScope: return "other_scope";
  }
  return "unknown";
}

Problem CursorProblem(CursorError e) {
  switch (e) {
    case CursorError::kMalformed: return MakeProblem(ProblemType::kInvalidCursor, "not a cursor of this server");
    case CursorError::kBadMac: return MakeProblem(ProblemType::kInvalidCursor, "not a cursor of this server");
    case CursorError::kOtherList: return MakeProblem(ProblemType::kInvalidCursor, "the cursor belongs to another list");
    case CursorError::kOtherScope:
      return MakeProblem(ProblemType::kInvalidCursor, "the cursor belongs to another tenant or filter");
  }
  return MakeProblem(ProblemType::kInvalidCursor, "not a cursor of this server");
}

std::string EncodeCursor(const CursorKey& key, CursorList list, const CursorScope& scope,
                         std::span<const uint8_t> last_key) {
  assert(last_key.size() <= kMaxCursorKeyBytes);
  std::vector<uint8_t> raw;
  raw.reserve(kCursorHeaderBytes + last_key.size() + kCursorMacBytes);
  raw.push_back(kCursorVersion);
  raw.push_back(static_cast<uint8_t>(list));
  raw.insert(raw.end(), scope.begin(), scope.end());
  raw.insert(raw.end(), last_key.begin(), last_key.end());
  std::array<uint8_t, kCursorMacBytes> mac = Mac(key, raw);
  raw.insert(raw.end(), mac.begin(), mac.end());
  return EncodeBase64Url(raw);
}

Result<std::vector<uint8_t>, CursorError> DecodeCursor(const CursorKey& key, CursorList list,
                                                       const CursorScope& scope, std::string_view text) {
  if (text.size() > kMaxCursorTextBytes) return Fail(CursorError::kMalformed);
  std::optional<std::vector<uint8_t>> raw = DecodeBase64Url(text);
  if (!raw || raw->size() < kCursorHeaderBytes + kCursorMacBytes ||
      raw->size() > kCursorHeaderBytes + kMaxCursorKeyBytes + kCursorMacBytes) {
    return Fail(CursorError::kMalformed);
  }
  std::span<const uint8_t> covered(raw->data(), raw->size() - kCursorMacBytes);
  std::array<uint8_t, kCursorMacBytes> want = Mac(key, covered);
  if (sodium_memcmp(want.data(), raw->data() + covered.size(), kCursorMacBytes) != 0) {
    return Fail(CursorError::kBadMac);
  }
  // Only now is the content ours.
  if ((*raw)[0] != kCursorVersion) return Fail(CursorError::kMalformed);
  if ((*raw)[1] != static_cast<uint8_t>(list)) return Fail(CursorError::kOtherList);
  if (!std::equal(scope.begin(), scope.end(), raw->begin() + 2)) return Fail(CursorError::kOtherScope);
  return std::vector<uint8_t>(covered.begin() + kCursorHeaderBytes, covered.end());
}

std::optional<uint32_t> ParseLimit(std::optional<std::string_view> text) {
  if (!text) return kDefaultPageLimit;
  if (text->empty() || text->size() > 3 || (*text)[0] == '0') return std::nullopt;
  uint32_t v = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v < 1 || v > kMaxPageLimit) return std::nullopt;
  return v;
}

}  // namespace strait::control
