#include "control-plane/api/dto_people.h"

#include <algorithm>

namespace strait::control {

using json = nlohmann::json;

// ---- UserPatch ----

Result<UserPatch, Problem> DecodeUserPatch(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto email = r.Email("email", Need::kOptional);
  auto display_name = r.Text("display_name", Need::kOptional, kNameBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return UserPatch{std::move(email), std::move(display_name)};
}

json EncodeUserPatch(const UserPatch& v) {
  json out = json::object();
  if (v.email) out["email"] = *v.email;
  if (v.display_name) out["display_name"] = *v.display_name;
  return out;
}

// ---- GroupCreate, GroupPatch ----

Result<GroupCreate, Problem> DecodeGroupCreate(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto name = r.Text("name", Need::kRequired, kNameBounds);
  auto description = r.Text("description", Need::kOptional, kDescriptionBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return GroupCreate{std::move(*name), description.value_or("")};
}

json EncodeGroupCreate(const GroupCreate& v) { return {{"name", v.name}, {"description", v.description}}; }

Result<GroupPatch, Problem> DecodeGroupPatch(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto name = r.Text("name", Need::kOptional, kNameBounds);
  auto description = r.Text("description", Need::kOptional, kDescriptionBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return GroupPatch{std::move(name), std::move(description)};
}

json EncodeGroupPatch(const GroupPatch& v) {
  json out = json::object();
  if (v.name) out["name"] = *v.name;
  if (v.description) out["description"] = *v.description;
  return out;
}

// ---- DevicePatch ----

Result<DevicePatch, Problem> DecodeDevicePatch(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto name = r.Text("name", Need::kOptional, kNameBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return DevicePatch{std::move(name)};
}

json EncodeDevicePatch(const DevicePatch& v) {
  json out = json::object();
  if (v.name) out["name"] = *v.name;
  return out;
}

// ---- Reason ----

Result<Reason, Problem> DecodeReason(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto reason = r.Text("reason", Need::kOptional, kReasonBounds);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return Reason{reason.value_or("")};
}

json EncodeReason(const Reason& v) { return {{"reason", v.reason}}; }

// ---- PushToken ----

Result<PushToken, Problem> DecodePushToken(const json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  PushToken out;
  if (!r.TakeNull("token")) {
    // Tokens of APNs, FCM and WNS are printable ASCII (hex, base64url, URLs); anything else is a client's mistake.
    out.token = r.Text("token", Need::kRequired, TextBounds{1, kMaxPushTokenBytes, false});
    if (out.token && !std::all_of(out.token->begin(), out.token->end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
      errors.Add(r.PointerTo("token"), FieldErrorCode::kBadFormat, "expected printable ASCII");
    }
  }
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return out;
}

json EncodePushToken(const PushToken& v) { return {{"token", v.token ? json(*v.token) : json()}}; }

}  // namespace strait::control
