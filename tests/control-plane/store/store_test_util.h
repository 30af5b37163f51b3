// Helpers for the store tests: a private temporary directory, and rows with plausible values.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "control-plane/store/records.h"
#include "control-plane/store/store.h"

namespace strait::control::store::testing {

// A directory of the test's own (mkdtemp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "strait-store-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline TenantRecord Tenant(const std::string& id, int64_t now = 1000) {
  TenantRecord t;
  t.id = id;
  t.display_name = "Tenant " + id;
  t.signing_key_sealed = Bytes(74, 0x5a);
  t.signing_public = Bytes(32, 0x11);
  t.tenant_cert = Bytes(100, 0x22);
  t.tenant_cert_not_after = now + 90 * 86400;
  t.created_at = now;
  t.updated_at = now;
  return t;
}

inline UserRecord User(const std::string& id, const std::string& email, int64_t now = 1000) {
  return UserRecord{id, email, "User " + id, now, now};
}

inline DeviceRecord Device(const std::string& id, const std::string& user, DeviceState state = DeviceState::kActive,
                           int64_t now = 1000) {
  DeviceRecord d;
  d.id = id;
  d.user_id = user;
  d.name = "laptop";
  d.os = DeviceOs::kLinux;
  d.os_version = "6.1";
  d.model = "x";
  d.state = state;
  d.signing_public = Bytes(32, 0x01);
  d.noise_public = Bytes(32, 0x02);
  d.activation_id = "ABCDEFGH";
  d.activated_at = now;
  d.created_at = now;
  d.updated_at = now;
  return d;
}

inline ApiKeyRecord ApiKey(const std::string& id, std::optional<std::string> tenant, ApiKeyRole role) {
  ApiKeyRecord k;
  k.id = id;
  k.tenant = std::move(tenant);
  k.role = role;
  k.name = "key " + id;
  k.secret_hash = Bytes(32, 0x33);
  k.created_by = "system";
  k.created_at = 1000;
  k.updated_at = 1000;
  return k;
}

inline AuditRecord Audit(std::optional<std::string> tenant, const std::string& action, const std::string& type,
                         const std::string& id, int64_t at) {
  AuditRecord a;
  a.at = at;
  a.tenant = std::move(tenant);
  a.actor_kind = ActorKind::kApiKey;
  a.actor_id = "k3m9x2p4q7ta";
  a.action = action;
  a.resource_type = type;
  a.resource_id = id;
  a.request_id = "8f3a0c1d2e4b5a69";
  a.detail = "{}";
  return a;
}

inline EventRecord Event(std::optional<std::string> tenant, const std::string& type, int64_t at = 1000) {
  return EventRecord{0, at, std::move(tenant), type, R"({"type":")" + type + R"("})"};
}

}  // namespace strait::control::store::testing
