#include "tunnel/control/event_line.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <utility>

#include "tunnel/control/json_fields.h"

namespace strait::control {
namespace {

using internal::Need;
using internal::ObjectReader;

// Index = EventType value.
constexpr std::array<std::string_view, kEventTypeCount> kTypeNames = {
    wire::kEventHeartbeat,      wire::kEventDeviceLocked,    wire::kEventDeviceRevoked,
    wire::kEventDeviceUnlocked, wire::kEventConnectorRevoked, wire::kEventRelayRevoked,
    wire::kEventTenantSuspended, wire::kEventTenantResumed,   wire::kEventTenantDeleted,
    wire::kEventPolicyUpdated,  wire::kEventPolicyDeleted,   wire::kEventDevicePolicy,
    wire::kEventResync,         "unknown"};
static_assert(kTypeNames.size() == static_cast<size_t>(EventType::kUnknown) + 1);

// Free-text fields (reason) and policy ids are bounded like the API's names (§4.1): reason <= 256 bytes.
constexpr size_t kMaxReasonBytes = 256;
constexpr size_t kMaxPolicyIdBytes = 64;
constexpr size_t kMaxTypeBytes = 64;

std::string Str(std::optional<std::string_view> s) { return s ? std::string(*s) : std::string(); }

EventBody DecodeBody(EventType type, ObjectReader& r, std::string_view type_name) {
  switch (type) {
    case EventType::kHeartbeat: return Heartbeat{};
    case EventType::kDeviceLocked:
    case EventType::kDeviceRevoked: {
      DeviceDenied d;
      d.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      d.device = Str(r.SubjectId(wire::kEventDeviceField, Need::kRequired));
      d.until = r.Time(wire::kEventUntilField, Need::kRequired).value_or(0);
      d.reason = Str(r.String(wire::kEventReasonField, Need::kOptional, kMaxReasonBytes));
      return d;
    }
    case EventType::kDeviceUnlocked: {
      DeviceUnlocked d;
      d.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      d.device = Str(r.SubjectId(wire::kEventDeviceField, Need::kRequired));
      return d;
    }
    case EventType::kConnectorRevoked: {
      ConnectorRevoked c;
      c.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      c.connector = Str(r.SubjectId(wire::kEventConnectorField, Need::kRequired));
      c.until = r.Time(wire::kEventUntilField, Need::kRequired).value_or(0);
      c.reason = Str(r.String(wire::kEventReasonField, Need::kOptional, kMaxReasonBytes));
      return c;
    }
    case EventType::kRelayRevoked: {
      RelayRevoked rr;
      rr.relay = Str(r.SubjectId(wire::kEventRelayField, Need::kRequired));
      rr.until = r.Time(wire::kEventUntilField, Need::kRequired).value_or(0);
      rr.reason = Str(r.String(wire::kEventReasonField, Need::kOptional, kMaxReasonBytes));
      return rr;
    }
    case EventType::kTenantSuspended:
    case EventType::kTenantResumed:
    case EventType::kTenantDeleted: return TenantChanged{Str(r.TenantId(wire::kEventTenantField, Need::kRequired))};
    case EventType::kPolicyUpdated: {
      PolicyUpdated p;
      p.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      p.policy = Str(r.String(wire::kEventPolicyField, Need::kRequired, kMaxPolicyIdBytes));
      p.version = r.Unsigned(wire::kEventVersionField, Need::kRequired).value_or(0);
      p.is_default = r.Bool(wire::kEventDefaultField, Need::kRequired).value_or(false);
      p.toml = Str(r.String(wire::kEventTomlField, Need::kRequired, wire::kMaxEventLineBytes));
      if (r.ok() && p.policy.empty()) r.Fail(WireError::kBadValue, wire::kEventPolicyField, "empty policy id");
      return p;
    }
    case EventType::kPolicyDeleted: {
      PolicyDeleted p;
      p.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      p.policy = Str(r.String(wire::kEventPolicyField, Need::kRequired, kMaxPolicyIdBytes));
      if (r.ok() && p.policy.empty()) r.Fail(WireError::kBadValue, wire::kEventPolicyField, "empty policy id");
      return p;
    }
    case EventType::kDevicePolicy: {
      DevicePolicy d;
      d.tenant = Str(r.TenantId(wire::kEventTenantField, Need::kRequired));
      d.device = Str(r.SubjectId(wire::kEventDeviceField, Need::kRequired));
      if (auto p = r.String(wire::kEventPolicyField, Need::kOptional, kMaxPolicyIdBytes)) {
        if (p->empty()) r.Fail(WireError::kBadValue, wire::kEventPolicyField, "empty policy id (null: the default)");
        d.policy = std::string(*p);
      }
      return d;
    }
    case EventType::kResync: {
      Resync s;
      if (auto t = r.TenantId(wire::kEventTenantField, Need::kOptional)) s.tenant = std::string(*t);
      s.reason = Str(r.String(wire::kEventReasonField, Need::kOptional, kMaxReasonBytes));
      return s;
    }
    case EventType::kUnknown: break;
  }
  return UnknownEvent{std::string(type_name)};
}

}  // namespace

// --- LineSplitter ---

FeedStatus LineSplitter::Feed(std::string_view bytes) {
  if (failed_) return FeedStatus::kLineTooLong;
  // Drop what Next() has handed out: the caller drains between feeds, so this moves at most one partial line.
  if (read_pos_ > 0) {
    buf_.erase(0, read_pos_);
    complete_end_ -= read_pos_;
    read_pos_ = 0;
  }
  while (!bytes.empty()) {
    const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
    const size_t seg = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - bytes.data()) : bytes.size();
    const size_t partial = buf_.size() - complete_end_;
    // The bound is checked before anything is buffered: a hostile line costs at most max_line bytes.
    if (partial + seg > max_line_) {
      failed_ = true;
      ++too_long_;
      return FeedStatus::kLineTooLong;
    }
    if (lf == nullptr) {
      buf_.append(bytes);
      break;
    }
    buf_.append(bytes.substr(0, seg + 1));
    complete_end_ = buf_.size();
    bytes.remove_prefix(seg + 1);
  }
  return FeedStatus::kOk;
}

std::optional<std::string_view> LineSplitter::Next() {
  while (read_pos_ < complete_end_) {
    const char* start = buf_.data() + read_pos_;
    const void* lf = std::memchr(start, '\n', complete_end_ - read_pos_);  // there is one: complete_end_ follows an LF
    const size_t len = static_cast<size_t>(static_cast<const char*>(lf) - start);
    read_pos_ += len + 1;
    std::string_view line(start, len);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    ++lines_;
    return line;
  }
  return std::nullopt;
}

void LineSplitter::Reset() {
  buf_.clear();
  read_pos_ = 0;
  complete_end_ = 0;
  failed_ = false;
}

// --- Events ---

std::string_view EventTypeName(EventType t) {
  const auto i = static_cast<size_t>(t);
  return i < kTypeNames.size() ? kTypeNames[i] : "unknown";
}

EventType EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < static_cast<size_t>(EventType::kUnknown); ++i) {
    if (kTypeNames[i] == name) return static_cast<EventType>(i);
  }
  return EventType::kUnknown;
}

Result<Event, WireResultError> DecodeEvent(std::string_view line) {
  auto parsed = internal::ParseBounded(line, wire::kMaxEventLineBytes);
  if (!parsed) return Fail(parsed.error());
  ObjectReader r(*parsed, "");
  Event e;
  const std::optional<uint64_t> id = r.EventId(wire::kEventIdField, Need::kRequired);
  const std::optional<std::string_view> type_name = r.String(wire::kEventTypeField, Need::kRequired, kMaxTypeBytes);
  if (!r.ok()) return Fail(r.error());
  e.id = *id;
  e.type = EventTypeFromName(*type_name);
  if (e.type != EventType::kHeartbeat && e.type != EventType::kUnknown) {
    e.at = r.Time(wire::kEventAtField, Need::kOptional).value_or(0);
  }
  e.body = DecodeBody(e.type, r, *type_name);
  if (!r.ok()) return Fail(r.error());
  return e;
}

// --- EventReader ---

std::string_view SubscriberVerdictName(SubscriberVerdict v) {
  switch (v) {
    case SubscriberVerdict::kContinue: return "continue";
    case SubscriberVerdict::kResync: return "resync";
    case SubscriberVerdict::kStop: return "stop";
  }
  return "unknown";
}

std::string_view StreamStatusName(StreamStatus s) {
  switch (s) {
    case StreamStatus::kOk: return "ok";
    case StreamStatus::kLineTooLong: return "line_too_long";
    case StreamStatus::kBadLine: return "bad_line";
    case StreamStatus::kIdOutOfOrder: return "id_out_of_order";
  }
  return "unknown";
}

StreamStatus EventReader::Feed(std::string_view bytes, std::vector<Event>* out) {
  if (failed_) return *failed_;
  const FeedStatus fed = lines_.Feed(bytes);
  // Lines completed before an over-long one are still good: decode them first, then report the long one.
  while (auto line = lines_.Next()) {
    auto ev = DecodeEvent(*line);
    if (!ev) {
      ++bad_lines_;
      last_error_ = fmt::format("{}: {}", WireErrorName(ev.error().code), ev.error().reason);
      failed_ = StreamStatus::kBadLine;
      return *failed_;
    }
    const bool heartbeat = ev->type == EventType::kHeartbeat;
    if (heartbeat ? ev->id < resume_point_ : ev->id <= resume_point_) {
      ++out_of_order_;
      last_error_ = fmt::format("{} id {} after {}", EventTypeName(ev->type), ev->id, resume_point_);
      failed_ = StreamStatus::kIdOutOfOrder;
      return *failed_;
    }
    resume_point_ = ev->id;
    if (ev->type == EventType::kUnknown) {
      ++unknown_skipped_;
      continue;
    }
    if (heartbeat) {
      ++heartbeats_;
    } else {
      ++events_;
    }
    out->push_back(std::move(ev).value());
  }
  if (fed == FeedStatus::kLineTooLong) {
    last_error_ = fmt::format("a line longer than {} bytes", lines_.max_line());
    failed_ = StreamStatus::kLineTooLong;
    return *failed_;
  }
  return StreamStatus::kOk;
}

void EventReader::Reset() {
  lines_.Reset();
  failed_.reset();
  last_error_.clear();
}

}  // namespace strait::control
