// The event stream's client core (docs/control-plane.md §7; the JSON is control_wire.h's): NDJSON lines in, typed
// events out. No I/O and no clock: the subscriber thread reads the socket and feeds the bytes here.
//
//   bytes ──▶ LineSplitter (one line <= wire::kMaxEventLineBytes) ──▶ DecodeEvent ──▶ Event (or skipped)
//
// EventReader joins the two and keeps the resume point (the last id seen, heartbeats and skipped events included)
// and counters. What ends a stream (the subscriber then reconnects with after=resume_point(), with backoff):
//   - a line longer than the bound (kLineTooLong);
//   - a line that does not decode (kBadLine): not JSON, no valid id, no type, a known type with a missing or bad
//     field. Skipping it could lose a revocation, so the stream is retried instead; a server that keeps sending it
//     shows as a rising bad_lines() counter, not as silence;
//   - an id that does not increase (kIdOutOfOrder): events after=ID are > ID, a heartbeat's id is >= the last.
// An unknown event type is skipped (a newer server's event), counted, and its id still advances the resume point.
//
// Not thread-safe: one reader per subscriber thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crypto/result.h"
#include "tunnel/control/control_wire.h"
#include "tunnel/control/wire_error.h"

namespace strait::control {

// --- Lines ---

enum class FeedStatus : uint8_t {
  kOk,           // every byte taken
  kLineTooLong,  // a line passed max_line: the stream is done; Reset() before the next connection
};

// Splits a byte stream at LF. A line is returned without its LF (and without a CR before it); empty lines are
// skipped. Memory: the unread complete lines plus one partial line of at most max_line bytes, so a caller that
// drains Next() after each Feed holds at most its read size + max_line.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = wire::kMaxEventLineBytes) : max_line_(max_line) {}

  // Appends `bytes`. After kLineTooLong nothing more is taken (until Reset); the complete lines before the long
  // one are still returned by Next().
  FeedStatus Feed(std::string_view bytes);
  // The next complete line, valid until the next Feed or Reset; nullopt when none is complete.
  std::optional<std::string_view> Next();
  // Forgets buffered bytes and a kLineTooLong (a new connection). Counters stay.
  void Reset();

  bool failed() const { return failed_; }
  size_t max_line() const { return max_line_; }
  uint64_t lines() const { return lines_; }          // complete lines returned by Next
  uint64_t too_long() const { return too_long_; }    // kLineTooLong results

 private:
  // Immutable after construction.
  size_t max_line_;
  // State.
  std::string buf_;          // [read_pos_, complete_end_): complete lines; [complete_end_, end): a partial line
  size_t read_pos_ = 0;
  size_t complete_end_ = 0;
  bool failed_ = false;
  uint64_t lines_ = 0;
  uint64_t too_long_ = 0;
};

// --- Events (§7.3) ---

enum class EventType : uint8_t {
  kHeartbeat,
  kDeviceLocked,
  kDeviceRevoked,
  kDeviceUnlocked,
  kConnectorRevoked,
  kRelayRevoked,
  kTenantSuspended,
  kTenantResumed,
  kTenantDeleted,
  kPolicyUpdated,
  kPolicyDeleted,
  kDevicePolicy,
  kResync,
  kUnknown,  // a type this daemon does not know: skipped by id
};
inline constexpr size_t kEventTypeCount = 14;
// The wire name (control_wire.h kEvent*), "unknown" for kUnknown.
std::string_view EventTypeName(EventType t);
// The type named `name`, kUnknown if none.
EventType EventTypeFromName(std::string_view name);

// The body of each type (fields as control_wire.h lists them; times in unix seconds).
struct Heartbeat {};
struct DeviceDenied {  // device.locked, device.revoked
  std::string tenant;
  std::string device;
  uint64_t until = 0;
  std::string reason;  // "" when absent
};
struct DeviceUnlocked {
  std::string tenant;
  std::string device;
};
struct ConnectorRevoked {
  std::string tenant;
  std::string connector;
  uint64_t until = 0;
  std::string reason;
};
struct RelayRevoked {
  std::string relay;
  uint64_t until = 0;
  std::string reason;
};
struct TenantChanged {  // tenant.suspended, tenant.resumed, tenant.deleted
  std::string tenant;
};
struct PolicyUpdated {
  std::string tenant;
  std::string policy;
  uint64_t version = 0;
  bool is_default = false;
  std::string toml;  // not parsed here: the connector's subscriber runs ParsePolicy on it
};
struct PolicyDeleted {
  std::string tenant;
  std::string policy;
};
struct DevicePolicy {
  std::string tenant;
  std::string device;
  std::optional<std::string> policy;  // nullopt: the tenant's default
};
struct Resync {
  std::optional<std::string> tenant;  // nullopt: every tenant
  std::string reason;
};
struct UnknownEvent {
  std::string type;  // as sent (at most 64 bytes)
};
using EventBody = std::variant<Heartbeat, DeviceDenied, DeviceUnlocked, ConnectorRevoked, RelayRevoked,
                               TenantChanged, PolicyUpdated, PolicyDeleted, DevicePolicy, Resync, UnknownEvent>;

struct Event {
  uint64_t id = 0;
  EventType type = EventType::kUnknown;
  uint64_t at = 0;  // unix seconds; 0 when absent (heartbeats)
  EventBody body;
};

// Decodes one line (without its LF). Fields not listed for the type are ignored; listed ones are required unless
// control_wire.h says otherwise (reason, at; device.policy's policy and resync's tenant may be null). An unknown
// type decodes to kUnknown with its id (the type name must still be a string of at most 64 bytes).
Result<Event, WireResultError> DecodeEvent(std::string_view line);

// --- What follows an applied snapshot or event ---

// The appliers (relay/control_apply.h, tunnel/connector/control_apply.h) decide it; the subscriber acts on it.
enum class SubscriberVerdict : uint8_t {
  kContinue,  // go on reading
  kResync,    // take a new snapshot (after a resync event, or state the applier could not take)
  kStop,      // stop for good: this relay or connector was revoked, or its tenant deleted (the daemon exits 1)
};
std::string_view SubscriberVerdictName(SubscriberVerdict v);  // "continue", "resync", "stop"

// --- The two together ---

enum class StreamStatus : uint8_t {
  kOk,             // keep reading
  kLineTooLong,    // a line over the bound
  kBadLine,        // a line that does not decode (last_error() says why)
  kIdOutOfOrder,   // an id not after the resume point
};
std::string_view StreamStatusName(StreamStatus s);

class EventReader {
 public:
  explicit EventReader(size_t max_line = wire::kMaxEventLineBytes) : lines_(max_line) {}

  // Feeds bytes from the stream; appends each decoded event (heartbeats included, unknown types not) to `*out` in
  // order. On anything but kOk the events decoded before the failing line are in `*out` (apply them: they came in
  // order), nothing after it is, and the reader takes nothing more until Reset().
  StreamStatus Feed(std::string_view bytes, std::vector<Event>* out);
  // A new connection: drops buffered bytes and the failure; keeps the resume point and counters.
  void Reset();
  // Where to resume (after=...): the highest id seen. Set from a snapshot's as_of before following.
  uint64_t resume_point() const { return resume_point_; }
  void set_resume_point(uint64_t id) { resume_point_ = id; }

  uint64_t events() const { return events_; }            // events returned, heartbeats excluded
  uint64_t heartbeats() const { return heartbeats_; }
  uint64_t unknown_skipped() const { return unknown_skipped_; }
  uint64_t bad_lines() const { return bad_lines_; }
  uint64_t out_of_order() const { return out_of_order_; }
  uint64_t too_long() const { return lines_.too_long(); }
  // The decode error of the last kBadLine, or the ids of the last kIdOutOfOrder (for the log line).
  const std::string& last_error() const { return last_error_; }

 private:
  LineSplitter lines_;
  std::optional<StreamStatus> failed_;
  uint64_t resume_point_ = 0;
  uint64_t events_ = 0;
  uint64_t heartbeats_ = 0;
  uint64_t unknown_skipped_ = 0;
  uint64_t bad_lines_ = 0;
  uint64_t out_of_order_ = 0;
  std::string last_error_;
};

}  // namespace strait::control
