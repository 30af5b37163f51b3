#include "control-plane/api/dto_enroll.h"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

namespace strait::control {
namespace {

constexpr EnumName<EnrolKind> kTenantKinds[] = {{"device", EnrolKind::kDevice},
                                                {"connector", EnrolKind::kConnector}};
constexpr EnumName<EnrolKind> kAllKinds[] = {
    {"device", EnrolKind::kDevice}, {"connector", EnrolKind::kConnector}, {"relay", EnrolKind::kRelay}};
constexpr EnumName<OsName> kOsNames[] = {{"ios", OsName::kIos},         {"macos", OsName::kMacos},
                                         {"android", OsName::kAndroid}, {"windows10", OsName::kWindows10},
                                         {"blackberry10", OsName::kBlackberry10}, {"linux", OsName::kLinux}};
constexpr TextBounds kEndpointBounds{3, kMaxEndpointBytes, false};
constexpr TextBounds kModelBounds{0, 128, false};
constexpr TextBounds kPushTokenBounds{1, 4096, false};
constexpr ListBounds kTlsNameList{kMaxTlsNames, TextBounds{1, 253, false}, true};
constexpr ListBounds kTlsIpList{kMaxTlsIps, TextBounds{2, 45, false}, true};

bool IsDnsName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || (label == 0 && c == '-') || ++label > 63) return false;
  }
  return label > 0 && s.back() != '-';
}

bool IsIpLiteral(std::string_view s) {
  if (s.size() > 45) return false;
  const std::string z(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

// tls_names must be DNS names and tls_ips IP literals; each wrong item is one field error.
void CheckNames(const std::vector<std::string>& names, const std::string& pointer, FieldErrors* errors, bool ips) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (ips ? !IsIpLiteral(names[i]) : !IsDnsName(names[i])) {
      errors->Add(fmt::format("{}/{}", pointer, i), FieldErrorCode::kBadFormat,
                  ips ? "expected an IPv4 or IPv6 literal" : "expected a DNS name");
    }
  }
}

void CheckEndpoint(const std::optional<std::string>& endpoint, const std::string& pointer, FieldErrors* errors) {
  if (endpoint && !EndpointHost(*endpoint)) {
    errors->Add(pointer, FieldErrorCode::kBadFormat, "expected HOST:PORT (a DNS name, IPv4 or [IPv6], port 1..65535)");
  }
}

std::string LowerAll(std::string_view s) { return LowerAscii(s); }

}  // namespace

std::string_view EnrolKindName(EnrolKind kind) {
  switch (kind) {
    case EnrolKind::kDevice: return "device";
    case EnrolKind::kConnector: return "connector";
    case EnrolKind::kRelay: return "relay";
  }
  return "?";
}

std::string_view OsWord(OsName os) {
  for (const auto& row : kOsNames) {
    if (row.value == os) return row.name;
  }
  return "?";
}

std::optional<std::string> EndpointHost(std::string_view endpoint) {
  if (endpoint.size() > kMaxEndpointBytes) return std::nullopt;
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = endpoint.substr(0, colon);
  std::string_view port = endpoint.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port[0] == '0') return std::nullopt;
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (p == 0 || p > 65535) return std::nullopt;
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
    if (host.find(':') == std::string_view::npos || !IsIpLiteral(host)) return std::nullopt;
    return std::string(host);
  }
  if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  if (!IsDnsName(host) && !IsIpLiteral(host)) return std::nullopt;
  return LowerAll(host);
}

std::optional<std::string> EndpointNotCovered(std::string_view endpoint, const std::vector<std::string>& tls_names,
                                              const std::vector<std::string>& tls_ips) {
  auto host = EndpointHost(endpoint);
  if (!host) return "not HOST:PORT";
  for (const std::string& n : tls_names) {
    if (LowerAll(n) == *host) return std::nullopt;
  }
  // IP literals compare by their bytes, so "::1" and "0:0::1" are one address.
  unsigned char a[16] = {}, b[16] = {};
  const int fam = host->find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(fam, host->c_str(), a) == 1) {
    for (const std::string& ip : tls_ips) {
      std::fill(std::begin(b), std::end(b), 0);
      if (inet_pton(fam, ip.c_str(), b) == 1 && std::equal(std::begin(a), std::end(a), std::begin(b))) {
        return std::nullopt;
      }
    }
  }
  return fmt::format("the host {} is not among tls_names / tls_ips: the relay's certificate must carry it", *host);
}

Result<ActivationCreate, Problem> DecodeActivationCreate(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  ActivationCreate out;
  auto kind = r.Enum<EnrolKind>("kind", Need::kRequired, kTenantKinds);
  auto user = r.Id("user", Need::kOptional, IdKind::kUser);
  auto connector = r.Id("connector", Need::kOptional, IdKind::kConnector);
  auto os = r.Enum<OsName>("os", Need::kOptional, kOsNames);
  auto expires = r.Int("expires_in_s", Need::kOptional, kMinActivationLifetime, kMaxActivationLifetime);
  r.Finish();
  if (kind == EnrolKind::kDevice) {
    if (!user && !errors.total()) errors.Add("/user", FieldErrorCode::kMissingField, "a device activation names its user");
    if (connector) errors.Add("/connector", FieldErrorCode::kUnknownField, "only a connector activation names one");
  } else if (kind == EnrolKind::kConnector) {
    if (!connector && !errors.total()) {
      errors.Add("/connector", FieldErrorCode::kMissingField, "a connector activation names its connector");
    }
    if (user) errors.Add("/user", FieldErrorCode::kUnknownField, "only a device activation names a user");
    if (os) errors.Add("/os", FieldErrorCode::kUnknownField, "only a device activation fixes an OS");
  }
  if (!errors.empty()) return Fail(errors.ToProblem());
  out.kind = *kind;
  out.target = *kind == EnrolKind::kDevice ? *user : *connector;
  out.os = os;
  if (expires) out.expires_in_s = *expires;
  return out;
}

Result<ActivationCreate, Problem> DecodeRelayActivationCreate(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto expires = r.Int("expires_in_s", Need::kOptional, kMinActivationLifetime, kMaxActivationLifetime);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  ActivationCreate out;
  out.kind = EnrolKind::kRelay;
  if (expires) out.expires_in_s = *expires;
  return out;
}

Result<ConnectorCreate, Problem> DecodeConnectorCreate(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto id = r.Id("id", Need::kRequired, IdKind::kConnector);
  auto name = r.Text("display_name", Need::kRequired);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return ConnectorCreate{*id, *name};
}

Result<ConnectorPatch, Problem> DecodeConnectorPatch(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  ConnectorPatch out;
  out.display_name = r.Text("display_name", Need::kOptional);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return out;
}

Result<RelayCreate, Problem> DecodeRelayCreate(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto id = r.Id("id", Need::kRequired, IdKind::kRelay);
  auto name = r.Text("display_name", Need::kRequired);
  auto device = r.Text("device_endpoint", Need::kRequired, kEndpointBounds);
  auto connector = r.Text("connector_endpoint", Need::kRequired, kEndpointBounds);
  auto names = r.TextList("tls_names", Need::kOptional, kTlsNameList);
  auto ips = r.TextList("tls_ips", Need::kOptional, kTlsIpList);
  r.Finish();
  CheckEndpoint(device, "/device_endpoint", &errors);
  CheckEndpoint(connector, "/connector_endpoint", &errors);
  if (names) CheckNames(*names, "/tls_names", &errors, false);
  if (ips) CheckNames(*ips, "/tls_ips", &errors, true);
  if (!errors.empty()) return Fail(errors.ToProblem());
  RelayCreate out{*id, *name, *device, *connector, names.value_or(std::vector<std::string>{}),
                  ips.value_or(std::vector<std::string>{})};
  if (auto why = EndpointNotCovered(out.device_endpoint, out.tls_names, out.tls_ips)) {
    errors.Add("/device_endpoint", FieldErrorCode::kBadFormat, *why);
  }
  if (auto why = EndpointNotCovered(out.connector_endpoint, out.tls_names, out.tls_ips)) {
    errors.Add("/connector_endpoint", FieldErrorCode::kBadFormat, *why);
  }
  if (!errors.empty()) return Fail(errors.ToProblem());
  return out;
}

Result<RelayPatch, Problem> DecodeRelayPatch(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  RelayPatch out;
  out.display_name = r.Text("display_name", Need::kOptional);
  out.device_endpoint = r.Text("device_endpoint", Need::kOptional, kEndpointBounds);
  out.connector_endpoint = r.Text("connector_endpoint", Need::kOptional, kEndpointBounds);
  out.tls_names = r.TextList("tls_names", Need::kOptional, kTlsNameList);
  out.tls_ips = r.TextList("tls_ips", Need::kOptional, kTlsIpList);
  r.Finish();
  CheckEndpoint(out.device_endpoint, "/device_endpoint", &errors);
  CheckEndpoint(out.connector_endpoint, "/connector_endpoint", &errors);
  if (out.tls_names) CheckNames(*out.tls_names, "/tls_names", &errors, false);
  if (out.tls_ips) CheckNames(*out.tls_ips, "/tls_ips", &errors, true);
  if (!errors.empty()) return Fail(errors.ToProblem());
  return out;
}

nlohmann::json EncodeRelayCreate(const RelayCreate& v) {
  return {{"id", v.id},
          {"display_name", v.display_name},
          {"device_endpoint", v.device_endpoint},
          {"connector_endpoint", v.connector_endpoint},
          {"tls_names", v.tls_names},
          {"tls_ips", v.tls_ips}};
}

Result<Redeem, Problem> DecodeRedeem(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  Redeem out;
  auto activation = r.Id("activation", Need::kRequired, IdKind::kActivation);
  auto kind = r.Enum<EnrolKind>("kind", Need::kRequired, kAllKinds);
  auto signing = r.Bytes("signing_key", Need::kRequired, 32, 32);
  auto noise = r.Bytes("noise_key", Need::kOptional, 32, 32);
  auto tls = r.Bytes("tls_public_key", Need::kOptional, 1, kMaxTlsSpkiBytes);
  auto proof = r.Bytes("key_proof", Need::kRequired, 64, 64);
  auto mac = r.Bytes("mac", Need::kRequired, 32, 32);
  std::optional<RedeemDevice> device;
  if (auto d = r.Object("device", Need::kOptional)) {
    RedeemDevice dev;
    auto os = d->Enum<OsName>("os", Need::kRequired, kOsNames);
    auto os_version = d->Text("os_version", Need::kOptional, kOsVersionBounds);
    auto model = d->Text("model", Need::kOptional, kModelBounds);
    dev.name = d->Text("name", Need::kOptional);
    dev.push_token = d->Text("push_token", Need::kOptional, kPushTokenBounds);
    d->Finish();
    if (os) dev.os = *os;
    dev.os_version = os_version.value_or("");
    dev.model = model.value_or("");
    device = std::move(dev);
  }
  r.Finish();
  if (kind) {
    const bool relay = *kind == EnrolKind::kRelay;
    if (relay && noise) errors.Add("/noise_key", FieldErrorCode::kUnknownField, "a relay has no Noise key");
    if (!relay && !noise && !errors.total()) {
      errors.Add("/noise_key", FieldErrorCode::kMissingField, "a device or connector sends its Noise key");
    }
    if (relay && !tls && !errors.total()) {
      errors.Add("/tls_public_key", FieldErrorCode::kMissingField, "a relay sends its TLS public key (SPKI DER)");
    }
    if (!relay && tls) errors.Add("/tls_public_key", FieldErrorCode::kUnknownField, "only a relay sends one");
    if (*kind == EnrolKind::kDevice && !device && !errors.total()) {
      errors.Add("/device", FieldErrorCode::kMissingField, "a device describes itself (os, ...)");
    }
    if (*kind != EnrolKind::kDevice && device) {
      errors.Add("/device", FieldErrorCode::kUnknownField, "only a device sends one");
    }
  }
  if (!errors.empty()) return Fail(errors.ToProblem());
  out.activation = *activation;
  out.kind = *kind;
  out.signing_key = std::move(*signing);
  if (noise) out.noise_key = std::move(*noise);
  if (tls) out.tls_public_key = std::move(*tls);
  out.key_proof = std::move(*proof);
  out.mac = std::move(*mac);
  out.device = std::move(device);
  return out;
}

nlohmann::json EncodeRedeem(const Redeem& v) {
  nlohmann::json j = {{"activation", v.activation},
                      {"kind", EnrolKindName(v.kind)},
                      {"signing_key", EncodeBase64(v.signing_key)},
                      {"key_proof", EncodeBase64(v.key_proof)},
                      {"mac", EncodeBase64(v.mac)}};
  if (!v.noise_key.empty()) j["noise_key"] = EncodeBase64(v.noise_key);
  if (!v.tls_public_key.empty()) j["tls_public_key"] = EncodeBase64(v.tls_public_key);
  if (v.device) {
    nlohmann::json d = {{"os", OsWord(v.device->os)}};
    if (!v.device->os_version.empty()) d["os_version"] = v.device->os_version;
    if (!v.device->model.empty()) d["model"] = v.device->model;
    if (v.device->name) d["name"] = *v.device->name;
    if (v.device->push_token) d["push_token"] = *v.device->push_token;
    j["device"] = std::move(d);
  }
  return j;
}

}  // namespace strait::control
