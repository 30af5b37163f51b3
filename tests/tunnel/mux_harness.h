// Two StreamMux endpoints wired back to back in memory (a device and a connector), with recording visitors.
// Shared by stream_mux_test.cc; not a library.
#pragma once

#include <array>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tunnel/stream_mux.h"

namespace strait::tunnel::testing {

struct Recorder : MuxVisitor {
  StreamMux* mux = nullptr;
  bool auto_accept = true;
  bool auto_consume = true;
  std::set<StreamId> hold;  // streams whose bytes are never consumed (a stalled reader)

  std::map<StreamId, std::string> received;
  std::set<StreamId> opened, accepted, fins;
  std::map<StreamId, ErrorCode> resets;
  std::map<StreamId, int> writable;
  std::string last_target;

  void OnStreamOpen(StreamId id, const OpenTarget& target) override {
    opened.insert(id);
    last_target.assign(target.addr.begin(), target.addr.end());
    if (auto_accept) mux->Accept(id);
  }
  void OnStreamAccepted(StreamId id) override { accepted.insert(id); }
  void OnStreamData(StreamId id, std::span<const uint8_t> data) override {
    received[id].append(data.begin(), data.end());
    if (auto_consume && !hold.count(id)) mux->Consume(id, data.size());
  }
  void OnStreamFin(StreamId id) override { fins.insert(id); }
  void OnStreamReset(StreamId id, ErrorCode code) override { resets[id] = code; }
  void OnStreamWritable(StreamId id) override { ++writable[id]; }
};

struct MuxPair {
  explicit MuxPair(MuxOptions dev_opts = {}, MuxOptions con_opts = {})
      : dev(WithRole(dev_opts, MuxRole::kDevice), &dev_events),
        con(WithRole(con_opts, MuxRole::kConnector), &con_events) {
    dev_events.mux = &dev;
    con_events.mux = &con;
  }
  static MuxOptions WithRole(MuxOptions o, MuxRole r) {
    o.role = r;
    return o;
  }

  // Moves sealed-message-sized batches both ways until neither side has anything to send.
  // Returns the number of messages moved; stops early if a side fails.
  int Pump() {
    int messages = 0;
    for (;;) {
      bool moved = false;
      if (size_t n = dev.PollOutgoing(buf)) {
        last_dev_status = con.OnPlaintext(std::span(buf).first(n));
        moved = true;
        ++messages;
      }
      if (size_t n = con.PollOutgoing(buf)) {
        last_con_status = dev.OnPlaintext(std::span(buf).first(n));
        moved = true;
        ++messages;
      }
      if (!moved || dev.failed() || con.failed()) return messages;
    }
  }

  Recorder dev_events, con_events;
  StreamMux dev, con;
  MuxReason last_dev_status = MuxReason::kOk;  // what the connector said about the device's last message
  MuxReason last_con_status = MuxReason::kOk;
  std::array<uint8_t, kMaxSealedPlaintext> buf{};
};

}  // namespace strait::tunnel::testing
