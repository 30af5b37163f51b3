#include "control-plane/api/dto_policy.h"

#include <array>

namespace strait::control {
namespace {

constexpr std::array<EnumName<AssignmentTarget>, 2> kTargets = {{
    {"user", AssignmentTarget::kUser},
    {"group", AssignmentTarget::kGroup},
}};

}  // namespace

std::string_view AssignmentTargetName(AssignmentTarget target) {
  return target == AssignmentTarget::kUser ? "user" : "group";
}

Result<AssignmentCreate, Problem> DecodeAssignmentCreate(const nlohmann::json& body) {
  FieldErrors errors;
  ObjectReader r(body, "", &errors);
  auto policy = r.Id("policy", Need::kRequired, IdKind::kPolicy);
  std::optional<AssignmentTarget> kind;
  std::optional<std::string> target_id;
  if (auto target = r.Object("target", Need::kRequired)) {
    kind = target->Enum<AssignmentTarget>("kind", Need::kRequired, kTargets);
    // The id's kind follows `kind`; with a bad kind, any id shape is reported against the kind alone.
    target_id = target->Id("id", Need::kRequired,
                           kind.value_or(AssignmentTarget::kUser) == AssignmentTarget::kUser ? IdKind::kUser
                                                                                             : IdKind::kGroup);
    target->Finish();
  }
  auto priority = r.Int("priority", Need::kRequired, 0, kMaxAssignmentPriority);
  r.Finish();
  if (!errors.empty()) return Fail(errors.ToProblem());
  return AssignmentCreate{std::move(*policy), *kind, std::move(*target_id), *priority};
}

nlohmann::json EncodeAssignmentCreate(const AssignmentCreate& v) {
  return {{"policy", v.policy},
          {"target", {{"kind", AssignmentTargetName(v.target)}, {"id", v.target_id}}},
          {"priority", v.priority}};
}

}  // namespace strait::control
