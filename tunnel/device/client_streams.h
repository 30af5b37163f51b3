// ClientStreams: the device client's app streams, by token (docs/device.md "Streams"). Sans-I/O: no session, no
// link, no clock (the calls that need the time take `now_ns`). A stream is first *waiting* for a session (in a queue,
// oldest first, each with its deadline: all wait the same time, so the queue is in deadline order), then *bound* to
// the mux stream id its OPEN got, until it ends. Tokens are unique for the client's life; mux ids change per session.
// DeviceClient (client.h) holds the link, the session and the timers, and asks this table which stream is which.
//
// Threading: none; the client's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tunnel/device/target.h"
#include "tunnel/stream_mux.h"

namespace strait::device {

class ClientStreamHandler;
using StreamToken = std::uint64_t;  // 0 = none (as in client.h)

class ClientStreams {
 public:
  struct Entry {
    ClientStreamHandler* handler = nullptr;
    Target target;
    tunnel::StreamId mux_id = 0;   // 0 while waiting for a session
    bool opened = false;           // OPEN_OK received
    std::int64_t deadline_ns = 0;  // while waiting
  };

  // At most `max_waiting` queue places (erased or bound streams leave theirs lazily, at the front).
  explicit ClientStreams(std::size_t max_waiting) : max_waiting_(max_waiting) {}

  // A new stream that waits for a session until `deadline_ns`. 0 when max_waiting places are taken.
  StreamToken Add(const Target& target, ClientStreamHandler* handler, std::int64_t deadline_ns);
  Entry* Find(StreamToken token);
  const Entry* Find(StreamToken token) const;
  // The stream bound to mux id `id`, or 0.
  StreamToken TokenOf(tunnel::StreamId id) const;
  // Its OPEN went out as mux stream `id`.
  void Bind(StreamToken token, tunnel::StreamId id);
  // Forgets the stream (waiting or bound); returns what it was, or nothing if the token is unknown.
  std::optional<Entry> Erase(StreamToken token);
  // The session ended: every bound stream, oldest token first, no longer bound to an id (the caller fails them).
  std::vector<StreamToken> Unbind();

  // The oldest stream still waiting (stale queue places are dropped on the way), or 0. PopWaiting() takes it out.
  StreamToken FrontWaiting();
  void PopWaiting() { waiting_.pop_front(); }
  // The waiting streams whose deadline is at or before `now_ns`, oldest first, out of the queue.
  std::vector<StreamToken> TakeExpired(std::int64_t now_ns);

  std::size_t waiting_places() const { return waiting_.size(); }
  std::size_t live() const { return streams_.size(); }

 private:
  const std::size_t max_waiting_;
  StreamToken next_token_ = 1;
  std::unordered_map<StreamToken, Entry> streams_;
  std::unordered_map<tunnel::StreamId, StreamToken> by_mux_;
  std::deque<StreamToken> waiting_;
};

}  // namespace strait::device
