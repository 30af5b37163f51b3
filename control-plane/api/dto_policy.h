// Request decoding for policy assignments (docs/control-plane.md §4.9 AssignmentCreate). PolicyWrite is
// api/policy_doc.h's (its decoding goes with its rendering).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "control-plane/api/dto.h"
#include "control-plane/api/effective_policy.h"

namespace strait::control {

inline constexpr int64_t kMaxAssignmentPriority = 1'000;

// POST /policy-assignments
struct AssignmentCreate {
  std::string policy;  // policy id
  AssignmentTarget target = AssignmentTarget::kUser;
  std::string target_id;  // a user id or a group id, as `target` says
  int64_t priority = 0;   // 0..1,000, lower wins
  friend bool operator==(const AssignmentCreate&, const AssignmentCreate&) = default;
};
std::string_view AssignmentTargetName(AssignmentTarget target);  // "user", "group"
Result<AssignmentCreate, Problem> DecodeAssignmentCreate(const nlohmann::json& body);
nlohmann::json EncodeAssignmentCreate(const AssignmentCreate& v);

}  // namespace strait::control
