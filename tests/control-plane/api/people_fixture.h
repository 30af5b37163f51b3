// Users, groups and devices for the API tests: users through the API, devices straight into the store (activation
// makes them in production; its tests are activation_test.cc's), and the events a test reads back.
#pragma once

#include <string>
#include <vector>

#include "tests/control-plane/api/api_fixture.h"

namespace strait::control::testing {

class PeopleFixture : public ApiFixture {
 protected:
  std::string MakeUser(const TenantKeys& t, const std::string& email) {
    Reply r = Call("POST", "/v1/tenants/" + t.id + "/users", t.admin,
                   fmt::format(R"({{"email":"{}","display_name":"User {}"}})", email, email));
    EXPECT_EQ(r.status, 201u) << r.body;
    return Body(r).value("id", "");
  }

  // A device of `user`, as activation would leave it; with a credential (serial from the store) if not_after > 0.
  std::string MakeDevice(const std::string& tenant, const std::string& user, store::DeviceOs os,
                         int64_t credential_not_after = 0) {
    store::DeviceRecord d;
    d.id = GenerateId(IdKind::kDevice);
    d.user_id = user;
    d.name = "device " + d.id;
    d.os = os;
    d.os_version = "14";
    d.model = "Pixel";
    d.signing_public.assign(32, 0x11);
    d.noise_public.assign(32, 0x22);
    d.activation_id = "ABCDEFGH";
    d.activated_at = d.created_at = d.updated_at = clock_.now;
    auto tx = store_->Write();
    EXPECT_TRUE(tx.ok());
    const store::TenantScope scope(tenant);
    auto inserted = (*tx)->InsertDevice(scope, d);
    EXPECT_TRUE(inserted.ok()) << (inserted.ok() ? "" : inserted.error().reason);
    if (credential_not_after > 0) {
      auto serial = (*tx)->NextSerial();
      EXPECT_TRUE(serial.ok());
      store::CredentialRecord c;
      c.serial = *serial;
      c.role = store::SubjectRole::kDevice;
      c.tenant = tenant;
      c.subject = d.id;
      c.not_before = clock_.now - 3600;
      c.not_after = credential_not_after;
      c.issued_at = clock_.now;
      EXPECT_TRUE((*tx)->InsertCredential(c).ok());
    }
    EXPECT_TRUE((*tx)->Commit().ok());
    return d.id;
  }

  // The events after `after`, oldest first.
  std::vector<store::EventRecord> EventsAfter(store::EventId after) {
    auto tx = store_->Read();
    EXPECT_TRUE(tx.ok());
    auto events = (*tx)->ReadEvents(after, 1000);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<store::EventRecord>();
  }

  std::optional<store::DenialRecord> Denial(const std::string& tenant, const std::string& device) {
    auto tx = store_->Read();
    EXPECT_TRUE(tx.ok());
    auto d = (*tx)->GetDenial(store::TenantScope(tenant), store::SubjectRole::kDevice, device);
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : std::nullopt;
  }

  // Every item of a list, following next_cursor with `limit` per page; fails the test past 100 pages.
  std::vector<nlohmann::json> AllPages(const std::string& target, const std::string& key, int limit) {
    std::vector<nlohmann::json> out;
    std::string cursor;
    const char sep = target.find('?') == std::string::npos ? '?' : '&';
    for (int pages = 0; pages < 100; ++pages) {
      Reply r = Call("GET", fmt::format("{}{}limit={}{}", target, sep, limit, cursor.empty() ? "" : "&cursor=" + cursor),
                     key);
      EXPECT_EQ(r.status, 200u) << r.body;
      nlohmann::json j = Body(r);
      if (r.status != 200u) return out;
      EXPECT_LE(j["items"].size(), static_cast<size_t>(limit));
      for (const auto& item : j["items"]) out.push_back(item);
      if (j["next_cursor"].is_null()) return out;
      cursor = j["next_cursor"];
    }
    ADD_FAILURE() << "more than 100 pages of " << target;
    return out;
  }
};

}  // namespace strait::control::testing
