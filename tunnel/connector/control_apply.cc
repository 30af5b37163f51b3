#include "tunnel/connector/control_apply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

#include "crypto/secret_file.h"
#include "tunnel/connector/policy_file.h"
#include "tunnel/control/control_wire.h"

namespace strait::connector {

ConnectorControl::ConnectorControl(ControlTarget& target, ConnectorControlOptions options)
    : target_(target), options_(std::move(options)) {}

void ConnectorControl::Log(const logging::Event& e) const {
  if (options_.log) options_.log(e);
}

bool ConnectorControl::Ours(std::string_view tenant) {
  if (tenant == options_.tenant) return true;
  ++stats_.events_other_tenant;
  return false;
}

PolicyPtr ConnectorControl::Compile(std::string_view id, std::uint64_t version, std::string_view toml) {
  auto policy = ParsePolicy(toml, "policy " + std::string(id));
  if (!policy) {
    // The control plane validated it with this same parser, so this is version skew or a bug: say it loudly; the
    // policy's devices fall to the default meanwhile.
    ++stats_.policies_rejected;
    Log(logging::Event(logging::Level::kError, "policy_rejected")
            .With("policy", id)
            .With("version", version)
            .With("error", policy.error().reason));
    return nullptr;
  }
  return std::make_shared<const Policy>(std::move(policy).value());
}

control::SubscriberVerdict ConnectorControl::Applied(bool queued) {
  if (queued) {
    ++stats_.events_applied;
    return control::SubscriberVerdict::kContinue;
  }
  ++stats_.target_refused;
  Log(logging::Event(logging::Level::kWarn, "resync").With("reason", "connector_queue_full"));
  return control::SubscriberVerdict::kResync;
}

control::SubscriberVerdict ConnectorControl::ApplySnapshot(const control::ConnectorSnapshot& snapshot, std::uint64_t now) {
  ControlState state;
  for (const control::SnapshotPolicy& p : snapshot.policies) {
    PolicyPtr compiled = Compile(p.id, p.version, p.toml);
    if (!compiled) continue;  // its devices fall to the default (a default that failed: deny-all)
    state.policies.policies.emplace(p.id, std::move(compiled));
    if (p.is_default) state.policies.default_id = p.id;
  }
  for (const control::SnapshotDevicePolicy& d : snapshot.device_policies) {
    state.policies.devices.emplace(d.device, d.policy);
  }
  for (const control::SnapshotDenial& d : snapshot.denied) {
    if (d.tenant != options_.tenant || d.until < now) continue;
    if (d.role == crypto::Role::kConnector) {
      if (d.subject == options_.connector) {
        Log(logging::Event(logging::Level::kError, "stop").With("reason", d.reason).With("until", d.until));
        return control::SubscriberVerdict::kStop;
      }
      continue;  // another connector of the tenant: the relay keeps it out
    }
    state.denied.push_back(DeviceDenial{d.subject, d.until, d.reason});
  }
  state.tenant_suspended = snapshot.tenant_suspended;
  state.revoked_relays = snapshot.revoked_relays;
  if (!target_.ReplaceControlState(std::move(state))) {
    ++stats_.target_refused;
    Log(logging::Event(logging::Level::kWarn, "resync").With("reason", "connector_queue_full"));
    return control::SubscriberVerdict::kResync;
  }
  ++stats_.snapshots;
  return control::SubscriberVerdict::kContinue;
}

control::SubscriberVerdict ConnectorControl::ApplyEvent(const control::Event& event, std::uint64_t /*now*/) {
  using control::EventType;
  return std::visit(
      [&](const auto& body) -> control::SubscriberVerdict {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, control::DeviceDenied>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          return Applied(target_.DenyDevice(DeviceDenial{body.device, body.until, body.reason}));
        } else if constexpr (std::is_same_v<T, control::DeviceUnlocked>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          return Applied(target_.LiftDevice(body.device));
        } else if constexpr (std::is_same_v<T, control::ConnectorRevoked>) {
          if (!Ours(body.tenant) || body.connector != options_.connector) return control::SubscriberVerdict::kContinue;
          Log(logging::Event(logging::Level::kError, "stop")
                  .With("reason", body.reason)
                  .With("until", body.until));
          return control::SubscriberVerdict::kStop;
        } else if constexpr (std::is_same_v<T, control::RelayRevoked>) {
          return Applied(target_.RevokeRelay(body.relay));  // no tenant: a relay serves every tenant
        } else if constexpr (std::is_same_v<T, control::TenantChanged>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          if (event.type == EventType::kTenantDeleted) {
            Log(logging::Event(logging::Level::kError, "stop").With("reason", "tenant_deleted"));
            return control::SubscriberVerdict::kStop;
          }
          if (event.type == EventType::kTenantSuspended) return Applied(target_.SuspendTenant());
          return Applied(target_.ResumeTenant());
        } else if constexpr (std::is_same_v<T, control::PolicyUpdated>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          PolicyPtr compiled = Compile(body.policy, body.version, body.toml);
          // A TOML this connector cannot read: the old version must not stay in force either (the operator changed
          // it for a reason), so its devices fall to the default.
          if (!compiled) return Applied(target_.DeletePolicy(body.policy));
          return Applied(target_.PutPolicy(body.policy, std::move(compiled), body.is_default));
        } else if constexpr (std::is_same_v<T, control::PolicyDeleted>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          return Applied(target_.DeletePolicy(body.policy));
        } else if constexpr (std::is_same_v<T, control::DevicePolicy>) {
          if (!Ours(body.tenant)) return control::SubscriberVerdict::kContinue;
          return Applied(target_.SetDevicePolicy(body.device, body.policy));
        } else if constexpr (std::is_same_v<T, control::Resync>) {
          if (body.tenant && !Ours(*body.tenant)) return control::SubscriberVerdict::kContinue;
          Log(logging::Event(logging::Level::kInfo, "resync").With("reason", body.reason));
          return control::SubscriberVerdict::kResync;
        } else {
          return control::SubscriberVerdict::kContinue;  // heartbeat, a type this connector does not know
        }
      },
      event.body);
}

// ---- the cache ----

Result<void, std::string> SaveSnapshotCache(const std::filesystem::path& dir, std::string_view snapshot_json) {
  if (snapshot_json.size() > control::wire::kMaxSnapshotBytes) {
    return Fail(std::string("control state cache: snapshot above the size bound"));
  }
  const std::string path = (dir / kControlStateFile).string();
  auto w = crypto::WriteFileAtomic(path, snapshot_json, crypto::FileAccess::kSecret, crypto::Overwrite::kReplace);
  if (!w) return Fail("control state cache: " + w.error().reason);
  return {};
}

Result<control::ConnectorSnapshot, std::string> LoadSnapshotCache(const std::filesystem::path& dir) {
  const std::string path = (dir / kControlStateFile).string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Fail(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Fail(path + ": not a regular file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > control::wire::kMaxSnapshotBytes) {
    ::close(fd);
    return Fail(path + ": larger than a snapshot may be");
  }
  // Length first, then read at most one byte more than that: a file that grows meanwhile is refused, never
  // buffered without bound.
  std::string text(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Fail(path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > static_cast<std::size_t>(st.st_size)) return Fail(path + ": changed while read");
  text.resize(got);
  auto snapshot = control::DecodeConnectorSnapshot(text);
  if (!snapshot) return Fail(path + ": " + snapshot.error().reason);
  return std::move(snapshot).value();
}

}  // namespace strait::connector
