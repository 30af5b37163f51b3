// The event streams' side of strait-control (docs/control-plane.md §7.4). Handlers append events in their write
// transactions; after each commit the dispatcher calls Hub::Notify. The hub's one pump thread keeps the tail of the
// events table in a ring (the last kRingEvents) and serves every stream that asked for its next chunk: the events
// after the stream's cursor that its filter accepts, up to kMaxChunkBytes, from the ring, or from the store in pages
// when the stream fell behind the ring; or, after heartbeat_interval with nothing to send, a heartbeat carrying the
// cursor (so a client's resume point moves past events its filter skipped).
//
// Bounds: a stream holds a cursor and at most one chunk (the server asks for the next only once the last is
// written), never a queue. Streams in all: max_streams (beyond: Open refuses, 503 too-many-subscribers); per
// subject: max_per_subject, and one more replaces the oldest (a relay that reconnected before its old TCP died must
// get in).
//
// Thread-safety: every public method from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "control-plane/events/filter.h"
#include "control-plane/http/message.h"
#include "control-plane/store/store.h"

namespace strait::control::events {

struct HubOptions {
  size_t max_streams = 1024;
  size_t max_per_subject = 2;
  std::chrono::milliseconds heartbeat_interval{15'000};
  size_t ring_events = 4096;
  size_t max_chunk_bytes = 64 * 1024;
  size_t store_page = 256;
};

class Hub;

// One subscriber's stream: a ChunkSource the server pulls from.
class Stream : public http::ChunkSource, public std::enable_shared_from_this<Stream> {
 public:
  Stream(Hub* hub, std::string subject, Filter filter, store::EventId after);
  void Next(std::function<void(std::optional<std::string>)> deliver) override;
  void Cancel() override;

 private:
  friend class Hub;
  Hub* hub_;
  const std::string subject_;
  const Filter filter_;
  store::EventId cursor_;                                      // [hub mu_] the last id considered
  std::function<void(std::optional<std::string>)> deliver_;   // [hub mu_] set while waiting for a chunk
  std::chrono::steady_clock::time_point last_sent_;            // [hub mu_]
  bool ended_ = false;                                         // [hub mu_]
};

class Hub {
 public:
  Hub(store::Store* store, HubOptions options = {});
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // A new stream for `subject` from `after`, or nullptr when max_streams are open. Replaces the subject's oldest
  // stream beyond max_per_subject (that one ends).
  std::shared_ptr<Stream> Open(const std::string& subject, Filter filter, store::EventId after);
  // New events may have committed: the pump looks.
  void Notify();
  // Ends every stream (the server stops); Open refuses from then on.
  void Shutdown();

  size_t streams() const;
  // The lowest event id the ring holds, or the next it will read when it holds none: events from here on may be
  // served from memory, so the maintenance thread purges only below it.
  store::EventId RingFirstId() const;
  uint64_t replaced() const;

 private:
  friend class Stream;
  void Request(Stream* s, std::function<void(std::optional<std::string>)> deliver);
  void Remove(Stream* s);
  void Pump();
  // [mu_ held by the caller, released around store reads] what `s` gets now, or nullopt to keep waiting.
  std::optional<std::string> Serve(Stream& s, std::unique_lock<std::mutex>& lock);

  store::Store* store_;
  const HubOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::list<std::weak_ptr<Stream>> streams_;  // [mu_] in opening order
  std::deque<store::EventRecord> ring_;       // [mu_] ids ascending, contiguous with what the store holds
  store::EventId ring_last_ = 0;              // [mu_] the last id read into the ring
  bool notified_ = false;                     // [mu_]
  bool stopping_ = false;                     // [mu_]
  uint64_t replaced_ = 0;                     // [mu_]
  std::thread pump_;
};

// The NDJSON line of an event: {"id":"<id>","at":"<time>", then the stored body's members}.
std::string EventLine(const store::EventRecord& e);

}  // namespace strait::control::events
