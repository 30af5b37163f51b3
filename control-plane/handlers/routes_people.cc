// The route group of users, groups, members and devices (docs/control-plane.md §4.8 Tenant): the admin's routes.
// The device's own routes (renew; push-token as self) and effective-policy come with their areas.
#include "control-plane/handlers/handlers.h"
#include "control-plane/handlers/routes.h"

namespace strait::control {
namespace {

using M = Method;
namespace h = handlers;
// The operator may call every tenant route (§4.8 Tenant); A writes, A and R read.
constexpr uint16_t kRead = kWhoOperator | kWhoAdmin | kWhoReadOnly;
constexpr uint16_t kWrite = kWhoOperator | kWhoAdmin;
constexpr size_t kBody = kDefaultBodyLimit;

constexpr Route kPeopleRoutes[] = {
    {M::kPost, "/v1/tenants/{tenant}/users", "createUser", kWrite, kBody, h::CreateUser},
    {M::kGet, "/v1/tenants/{tenant}/users", "listUsers", kRead, 0, h::ListUsers},
    {M::kGet, "/v1/tenants/{tenant}/users/{user}", "getUser", kRead, 0, h::GetUser},
    {M::kPatch, "/v1/tenants/{tenant}/users/{user}", "updateUser", kWrite, kBody, h::PatchUser},
    {M::kDelete, "/v1/tenants/{tenant}/users/{user}", "deleteUser", kWrite, 0, h::DeleteUser},
    {M::kPost, "/v1/tenants/{tenant}/groups", "createGroup", kWrite, kBody, h::CreateGroup},
    {M::kGet, "/v1/tenants/{tenant}/groups", "listGroups", kRead, 0, h::ListGroups},
    {M::kGet, "/v1/tenants/{tenant}/groups/{group}", "getGroup", kRead, 0, h::GetGroup},
    {M::kPatch, "/v1/tenants/{tenant}/groups/{group}", "updateGroup", kWrite, kBody, h::PatchGroup},
    {M::kDelete, "/v1/tenants/{tenant}/groups/{group}", "deleteGroup", kWrite, 0, h::DeleteGroup},
    {M::kGet, "/v1/tenants/{tenant}/groups/{group}/members", "listGroupMembers", kRead, 0, h::ListGroupMembers},
    {M::kPut, "/v1/tenants/{tenant}/groups/{group}/members/{user}", "addGroupMember", kWrite, 0, h::PutGroupMember},
    {M::kDelete, "/v1/tenants/{tenant}/groups/{group}/members/{user}", "removeGroupMember", kWrite, 0,
     h::DeleteGroupMember},
    {M::kGet, "/v1/tenants/{tenant}/devices", "listDevices", kRead, 0, h::ListDevices},
    {M::kGet, "/v1/tenants/{tenant}/devices/{device}", "getDevice", kRead, 0, h::GetDevice},
    {M::kPatch, "/v1/tenants/{tenant}/devices/{device}", "updateDevice", kWrite, kBody, h::PatchDevice},
    {M::kPost, "/v1/tenants/{tenant}/devices/{device}/lock", "lockDevice", kWrite, kBody, h::LockDevice},
    {M::kPost, "/v1/tenants/{tenant}/devices/{device}/unlock", "unlockDevice", kWrite, kBody, h::UnlockDevice},
    {M::kPost, "/v1/tenants/{tenant}/devices/{device}/revoke", "revokeDevice", kWrite, kBody, h::RevokeDevice},
    {M::kDelete, "/v1/tenants/{tenant}/devices/{device}", "deleteDevice", kWrite, 0, h::DeleteDevice},
    // self (the device) joins when machine credentials authenticate (§3).
    {M::kPut, "/v1/tenants/{tenant}/devices/{device}/push-token", "putDevicePushToken", kWrite, kBody,
     h::PutPushToken},
};

}  // namespace

std::span<const Route> PeopleRoutes() { return kPeopleRoutes; }

}  // namespace strait::control
