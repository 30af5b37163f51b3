#include "tunnel/control/activate.h"

#include <nlohmann/json.hpp>
#include <fmt/format.h>
#include <sodium.h>

#include "tunnel/control/control_wire.h"
#include "tunnel/control/json_fields.h"

namespace strait::control {
using internal::EncodeBase64;

Result<ActivationTarget, std::string> ResolveActivationTarget(std::string_view url, std::string_view code,
                                                              std::string_view qr) {
  if (!qr.empty()) {
    if (!url.empty() || !code.empty()) return Fail(std::string("give --qr alone, or --url and --code"));
    auto p = ParseQrPayload(qr);
    if (!p) return Fail("--qr: " + p.error());
    // ParseQrPayload lower-cases the host (the QR carries it upper case for QR alphanumeric mode).
    return ActivationTarget{fmt::format("https://{}:{}", p->host, p->port), p->code};
  }
  if (url.empty() || code.empty()) return Fail(std::string("give --url and --code, or --qr"));
  auto c = ActivationCode::Parse(code);
  if (!c) return Fail(std::string("--code: not an activation code (24 characters, XXXX-XXXX-XXXX-XXXX-XXXX-XXXX)"));
  return ActivationTarget{std::string(url), *c};
}

std::string BuildRedeemBody(const ActivationCode& code, Exporter e, const RedeemInput& in) {
  const ActivationKey key = DeriveActivationKey(code);
  const auto signing = in.signing_key->public_key.bytes();
  std::optional<std::span<const uint8_t, 32>> noise;
  if (in.noise_key) noise = in.noise_key->bytes();
  std::optional<std::span<const uint8_t>> tls;
  if (in.tls_public_key) tls = std::span<const uint8_t>(*in.tls_public_key);
  const Mac mac = ActivateMac(key, ActivateMacInput(e, code.id(), in.kind, signing, noise, tls));
  const crypto::Ed25519Signature proof = in.signing_key->Sign(KeyProofInput(e));

  nlohmann::ordered_json j;
  j[std::string(wire::kRedeemActivationField)] = std::string(code.id());
  j[std::string(wire::kRedeemKindField)] = std::string(ActivationKindName(in.kind));
  j[std::string(wire::kRedeemSigningKeyField)] = EncodeBase64(signing);
  if (in.noise_key) j[std::string(wire::kRedeemNoiseKeyField)] = EncodeBase64(in.noise_key->bytes());
  if (in.tls_public_key) j[std::string(wire::kRedeemTlsPublicKeyField)] = EncodeBase64(*in.tls_public_key);
  j[std::string(wire::kRedeemKeyProofField)] = EncodeBase64(proof.bytes());
  j[std::string(wire::kRedeemMacField)] = EncodeBase64(mac);
  if (in.device) {
    nlohmann::ordered_json d;
    d[std::string(wire::kRedeemDeviceOsField)] = in.device->os;
    if (!in.device->os_version.empty()) d[std::string(wire::kRedeemDeviceOsVersionField)] = in.device->os_version;
    if (!in.device->model.empty()) d[std::string(wire::kRedeemDeviceModelField)] = in.device->model;
    if (!in.device->name.empty()) d[std::string(wire::kRedeemDeviceNameField)] = in.device->name;
    j[std::string(wire::kRedeemDeviceField)] = std::move(d);
  }
  // Replace, not throw, on invalid UTF-8 in a name the user typed: the server refuses it with a field error.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool VerifyActivatedMacHeader(const ActivationCode& code, Exporter e, std::string_view body, std::string_view header) {
  const auto got = internal::DecodeBase64(header);
  if (!got || got->size() != kMacBytes) return false;
  const Mac want = ActivatedMac(DeriveActivationKey(code), e, body);
  return sodium_memcmp(got->data(), want.data(), kMacBytes) == 0;
}

}  // namespace strait::control
