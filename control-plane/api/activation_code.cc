#include "control-plane/api/activation_code.h"

#include <algorithm>

#include <fmt/format.h>
#include <sodium.h>

#include "control-plane/api/formats.h"
#include "control-plane/api/ids.h"

namespace strait::control {
namespace {

// The 45 characters of QR alphanumeric mode (ISO/IEC 18004 §7.4.4).
bool IsQrAlphanumeric(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '$' || c == '%' || c == '*' ||
         c == '+' || c == '-' || c == '.' || c == '/' || c == ':';
}

// Upper-case host check: labels of [A-Z0-9-], separated by single dots, 1..253 bytes in all.
bool IsQrHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxQrHostBytes || host.front() == '.' || host.back() == '.') return false;
  char prev = '.';
  for (char c : host) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || (c == '.' && prev != '.');
    if (!ok) return false;
    prev = c;
  }
  return true;
}

std::string UpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

class Hmac {
 public:
  explicit Hmac(std::span<const uint8_t> key) { crypto_auth_hmacsha256_init(&st_, key.data(), key.size()); }
  ~Hmac() { sodium_memzero(&st_, sizeof st_); }
  Hmac& Update(std::span<const uint8_t> bytes) {
    crypto_auth_hmacsha256_update(&st_, bytes.data(), bytes.size());
    return *this;
  }
  Hmac& Update(std::string_view s) {
    return Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  Mac Final() {
    Mac out{};
    crypto_auth_hmacsha256_final(&st_, out.data());
    return out;
  }

 private:
  crypto_auth_hmacsha256_state st_;
};

void Append(std::vector<uint8_t>* out, std::string_view s) { out->insert(out->end(), s.begin(), s.end()); }
void Append(std::vector<uint8_t>* out, std::span<const uint8_t> b) { out->insert(out->end(), b.begin(), b.end()); }

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> bytes) {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace

ActivationCode ActivationCode::Generate() {
  // 120 bits, 5 at a time: exactly 24 characters.
  std::array<uint8_t, 15> raw{};
  randombytes_buf(raw.data(), raw.size());
  ActivationCode code;
  uint32_t acc = 0;
  int bits = 0;
  size_t n = 0;
  for (uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      code.chars_[n++] = kCrockford[(acc >> bits) & 31u];
    }
  }
  sodium_memzero(raw.data(), raw.size());
  return code;
}

std::optional<ActivationCode> ActivationCode::Parse(std::string_view input) {
  if (input.size() > kMaxActivationCodeInput) return std::nullopt;
  ActivationCode code;
  size_t n = 0;
  for (char c : input) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c == 'I' || c == 'L') c = '1';
    if (c == 'O') c = '0';
    if (kCrockford.find(c) == std::string_view::npos || n == kActivationCodeChars) return std::nullopt;
    code.chars_[n++] = c;
  }
  if (n != kActivationCodeChars) return std::nullopt;
  return code;
}

ActivationCode::~ActivationCode() { sodium_memzero(chars_.data(), chars_.size()); }

std::string ActivationCode::Display() const {
  std::string out;
  for (size_t i = 0; i < chars_.size(); ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += chars_[i];
  }
  return out;
}

ActivationKey::ActivationKey(std::span<const uint8_t, kSize> bytes) {
  std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}
ActivationKey::~ActivationKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

ActivationKey DeriveActivationKey(const ActivationCode& code) {
  std::string_view label = kActivationKeyLabel;
  Mac k = Hmac({reinterpret_cast<const uint8_t*>(label.data()), label.size()}).Update(code.secret()).Final();
  ActivationKey key(k);
  sodium_memzero(k.data(), k.size());
  return key;
}

Result<std::string, std::string> MakeQrPayload(const ActivationCode& code, std::string_view host, uint16_t port) {
  std::string upper = UpperAscii(host);
  if (!IsQrHost(upper)) {
    return Fail(std::string("host must be a DNS name or IPv4 address of letters, digits, '-' and '.'"));
  }
  if (port == 0) return Fail(std::string("port must be 1..65535"));
  return fmt::format("{}{}:{}:{}", kQrPrefix, code.Compact(), upper, port);
}

Result<QrPayload, std::string> ParseQrPayload(std::string_view text) {
  if (text.size() > kQrPrefix.size() + kActivationCodeChars + 1 + kMaxQrHostBytes + 6) {
    return Fail(std::string("too long"));
  }
  if (!std::all_of(text.begin(), text.end(), IsQrAlphanumeric)) {
    return Fail(std::string("only QR alphanumeric characters (upper case) are allowed"));
  }
  if (text.substr(0, kQrPrefix.size()) != kQrPrefix) return Fail(std::string("expected STRAIT1:"));
  text.remove_prefix(kQrPrefix.size());
  size_t first = text.find(':');
  size_t last = text.rfind(':');
  if (first == std::string_view::npos || first == last) return Fail(std::string("expected CODE:HOST:PORT"));
  std::string_view code_text = text.substr(0, first);
  std::string_view host = text.substr(first + 1, last - first - 1);
  std::string_view port_text = text.substr(last + 1);
  // The payload carries the code as generated: exactly 24 canonical characters, no hyphens or look-alikes.
  std::optional<ActivationCode> code = ActivationCode::Parse(code_text);
  if (code_text.size() != kActivationCodeChars || !code || code->Compact() != code_text) {
    return Fail(std::string("bad activation code"));
  }
  if (!IsQrHost(host)) return Fail(std::string("bad host"));
  if (port_text.empty() || port_text.size() > 5 || port_text[0] == '0' ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Fail(std::string("bad port"));
  }
  uint32_t port = 0;
  for (char c : port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
  if (port > 65535) return Fail(std::string("bad port"));
  return QrPayload{*code, LowerAscii(host), static_cast<uint16_t>(port)};
}

std::string_view ActivationKindName(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kDevice: return "device";
    case ActivationKind::kConnector: return "connector";
    case ActivationKind::kRelay: return "relay";
  }
  return "unknown";
}

std::vector<uint8_t> ActivateMacInput(Exporter e, std::string_view activation_id, ActivationKind kind,
                                      std::span<const uint8_t, 32> signing_key,
                                      std::optional<std::span<const uint8_t, 32>> noise_key,
                                      std::optional<std::span<const uint8_t>> tls_public_key) {
  static constexpr std::array<uint8_t, 32> kZeros{};
  std::vector<uint8_t> out;
  Append(&out, kActivateMacContext);
  out.push_back(0);
  Append(&out, e);
  Append(&out, activation_id);
  Append(&out, ActivationKindName(kind));
  Append(&out, signing_key);
  Append(&out, noise_key ? std::span<const uint8_t>(*noise_key) : std::span<const uint8_t>(kZeros));
  if (tls_public_key) {
    Append(&out, Sha256(*tls_public_key));
  } else {
    Append(&out, kZeros);
  }
  return out;
}

Mac ActivateMac(const ActivationKey& key, std::span<const uint8_t> input) {
  return Hmac(key.bytes()).Update(input).Final();
}

bool VerifyActivateMac(const ActivationKey& key, std::span<const uint8_t> input, std::span<const uint8_t> mac) {
  if (mac.size() != kMacBytes) return false;
  Mac want = ActivateMac(key, input);
  return sodium_memcmp(want.data(), mac.data(), kMacBytes) == 0;
}

Mac ActivatedMac(const ActivationKey& key, Exporter e, std::string_view body) {
  std::array<uint8_t, 32> body_hash =
      Sha256({reinterpret_cast<const uint8_t*>(body.data()), body.size()});
  std::array<uint8_t, 1> zero{0};
  return Hmac(key.bytes()).Update(kActivatedMacContext).Update(zero).Update(e).Update(body_hash).Final();
}

std::string ActivatedMacHeader(const ActivationKey& key, Exporter e, std::string_view body) {
  return EncodeBase64(ActivatedMac(key, e, body));
}

std::vector<uint8_t> KeyProofInput(Exporter e) {
  std::vector<uint8_t> out;
  Append(&out, kActivateKeyProofContext);
  out.push_back(0);
  Append(&out, e);
  return out;
}

}  // namespace strait::control
