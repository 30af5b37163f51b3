// StreamMux: the per-session stream multiplexer with credit-based flow control (docs/protocol.md §8). Sans-I/O:
// it takes decoded inner frames in and hands out (a) events to the application through a MuxVisitor and (b)
// inner-frame bytes to seal through PollOutgoing. No sockets, no clocks, no exceptions; no allocation on the
// steady data path (OnFrame DATA/WINDOW, Write, Consume, PollOutgoing) once its queues reached their high-water
// mark. Stream open/close allocate one hash-map node.
//
// Driving it from an event loop (one mux per session, loop thread only, not thread-safe):
//
//   sealed message opened -> mux.OnPlaintext(plaintext)      events fire on the visitor, in frame order
//   socket readable       -> n = mux.Write(id, bytes)        accepted <= min(stream credit, session credit,
//                                                            outbox room); keep the rest, retry on OnStreamWritable
//   app done with bytes   -> mux.Consume(id, n)              returns stream credit (WINDOW when half a window)
//   before sending        -> while (n = mux.PollOutgoing(buf)) seal buf[0..n) as one SEALED_STREAM
//   OnFrame/OnPlaintext returns a session-fatal reason -> send SESSION_CLOSE ErrorCodeFor(reason), drop the mux
//
// Streams whose Write was cut short get OnStreamWritable in turns, in the order they blocked, while the shared room
// (outbox, session credit) lasts; one that blocks again in its turn queues behind the rest.
//
// Flow control, exactly as §8: DATA is sent only while both the stream's and the session's send windows cover
// it. The receiver returns session credit as soon as bytes are accepted (they count against the stream window
// until consumed), and stream credit when the application consumes them. So a stream whose reader stalls holds
// at most its own window; the other streams keep the whole session window.
//
// Buffers and lifetimes:
//   - OnPlaintext/OnFrame: the plaintext is the caller's. OnStreamData's `data` and OnStreamOpen's target.addr
//     view it and are valid only during the callback: the application copies (or writes) them out and later
//     Consume()s them. It never needs more than the stream's window of buffer per stream: the mux guarantees
//     held (delivered, not consumed) <= window, and resets a peer that sends more.
//   - Write copies accepted bytes into the mux's outbox (a FIFO of encoded inner frames, options.outbox_bytes,
//     allocated on first use, freed by ReleaseIdleMemory when empty); `bytes` may be reused on return.
//   - PollOutgoing writes whole inner frames into the caller's buffer: WINDOW updates and mux-generated RESETs
//     first, then the outbox in order. A buffer of kMaxSealedPlaintext always takes at least one frame.
//
// Re-entrancy: visitor callbacks may call any StreamMux method except OnFrame/OnPlaintext.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tunnel/frame.h"
#include "tunnel/inner_frame.h"
#include "tunnel/stream.h"
#include "tunnel/tunnel_control.h"

namespace strait::tunnel {

enum class MuxRole : uint8_t {
  kDevice,     // opens streams (ids 1, 2, 3, ...)
  kConnector,  // accepts or refuses them
};

struct MuxOptions {
  MuxRole role = MuxRole::kDevice;
  uint32_t stream_window = kDefaultStreamWindow;     // our receive window per stream (sent in OPEN / OPEN_OK)
  uint32_t session_window = kDefaultSessionWindow;   // our receive window for the session (our handshake)
  uint32_t peer_session_window = kDefaultSessionWindow;  // the peer's, from its handshake payload
  uint16_t max_streams = kDefaultMaxStreams;         // connector: streams it accepts at once (its handshake)
  uint16_t peer_max_streams = kDefaultMaxStreams;    // device: the connector's limit
  size_t outbox_bytes = 64 * 1024;                   // >= 1 KiB + kInnerHeaderSize + max_data_chunk
  // Largest DATA payload we send (<= kMaxStreamChunk). The default makes a full DATA frame one TLS record.
  size_t max_data_chunk = kRecordStreamChunk;
};

// What happened to one inbound frame. kOk and the per-stream reasons leave the session up (each is counted);
// the session-fatal ones (IsSessionFatal) end it: send SESSION_CLOSE ErrorCodeFor(reason).
enum class MuxReason : uint8_t {
  kOk = 0,
  // Per stream (the session goes on):
  kLateFrame,             // frame for a stream already closed or reset (a RESET crossed it): discarded; DATA
                          // still returns its session credit
  kUnknownType,           // an inner type this build does not know: ignored
  kStreamFlowControl,     // DATA beyond the stream window                  -> RESET flow_control
  kStreamWindowOverflow,  // WINDOW pushing the stream window past 2^32-1   -> RESET flow_control
  kDataBeforeOpenOk,      // DATA on a stream not yet accepted              -> RESET protocol_error
  kDataAfterFin,          // DATA after the peer's FIN                      -> RESET protocol_error
  kTooManyStreams,        // OPEN beyond max_streams                        -> RESET too_many_streams
  kBadTunnelConfig,       // device: a TUNNEL_CONFIG it cannot use: OnTunnelRefused with the reason, no tunnel
  // Session-fatal:
  kSessionFlowControl,    // DATA beyond the session window                 -> SESSION_CLOSE flow_control
  kSessionWindowOverflow, // session WINDOW past 2^32-1                     -> SESSION_CLOSE flow_control
  kStreamIdReused,        // OPEN whose id is not above every earlier id    -> protocol_error
  kUnknownStream,         // frame for an id that was never opened          -> protocol_error
  kBadStreamId,           // stream id 0 on a frame other than WINDOW       -> protocol_error
  kUnexpectedFrame,       // OPEN to a device, OPEN_OK to a connector or twice, a TUNNEL_* frame to the wrong
                          // role, a second TUNNEL_REQUEST, an answer never asked for or twice -> protocol_error
  kMalformedFrame,        // payload does not match its type's layout       -> protocol_error
  kTruncated,             // plaintext ends inside an inner frame           -> protocol_error
  kControlQueueFull,      // more RESETs owed than kMaxPendingResets        -> overloaded
  kSessionFailed,         // an earlier frame already failed the session
};
inline constexpr size_t kMuxReasonCount = 19;
std::string_view MuxReasonName(MuxReason r);
bool IsSessionFatal(MuxReason r);
ErrorCode ErrorCodeFor(MuxReason r);  // the RESET or SESSION_CLOSE code; kProtocolError for kOk

// Results of the application's calls.
enum class CallStatus : uint8_t {
  kOk,
  kUnknownStream,   // no live stream with that id (never opened, closed or reset)
  kWrongState,      // not allowed in the stream's state (e.g. Accept twice, CloseWrite after FIN)
  kWrongRole,       // Open on a connector, Accept/Reject on a device
  kOutboxFull,      // no room for the frame now: PollOutgoing, then retry
  kTooManyStreams,  // the peer's max_streams are open
  kIdsExhausted,    // all 2^32-1 stream ids used: open a new session
  kBadArgument,     // invalid target, or Consume beyond what was delivered
  kSessionFailed,   // the session has failed (see failure())
};
std::string_view CallStatusName(CallStatus s);

// Events for the application. Called synchronously from OnFrame/OnPlaintext (and OnStreamWritable also from
// PollOutgoing), on the loop thread.
class MuxVisitor {
 public:
  virtual ~MuxVisitor() = default;
  // Connector: the device asks for a stream to `target`. Answer Accept(id) or Reject(id, code), now or later.
  virtual void OnStreamOpen(StreamId id, const OpenTarget& target) = 0;
  // Device: the connector accepted; the stream may now be written.
  virtual void OnStreamAccepted(StreamId id) = 0;
  // In-order bytes of the stream; see "Buffers and lifetimes". Consume(id, n) them when done.
  virtual void OnStreamData(StreamId id, std::span<const uint8_t> data) = 0;
  // The peer closed its half (after all its data). If we had sent FIN too, the stream is now gone.
  virtual void OnStreamFin(StreamId id) = 0;
  // The peer reset the stream, or the mux did because the peer broke flow control. The stream is gone.
  virtual void OnStreamReset(StreamId id, ErrorCode code) = 0;
  // A Write that was cut short can make progress again (credit or outbox room came back).
  virtual void OnStreamWritable(StreamId id) = 0;
  // The IP tunnel (docs/ip-tunnel.md §1). Connector: the device asks for one; return true and answer with
  // AnswerTunnel or RefuseTunnel (now or later), or false (the default: no tunnel served here) and the mux
  // refuses it at once.
  virtual bool OnTunnelRequest(const TunnelRequest& /*request*/) { return false; }
  // Device: the connector's answer (or a TUNNEL_CONFIG this device cannot use, as a refusal naming why).
  virtual void OnTunnelConfig(const TunnelConfig& /*config*/) {}
  virtual void OnTunnelRefused(const TunnelRefused& /*refused*/) {}
};

// A read-only snapshot of one stream, for tests, fuzzing and metrics.
struct StreamInfo {
  StreamState state;
  uint64_t send_credit;
  uint32_t recv_window, recv_credit, recv_held, recv_pending;
};

struct OpenResult {
  CallStatus status;
  StreamId id;  // 0 unless kOk
};

inline constexpr size_t kMaxPendingResets = 64;

class StreamMux {
 public:
  StreamMux(const MuxOptions& options, MuxVisitor* visitor);
  const MuxOptions& options() const { return options_; }
  StreamMux(const StreamMux&) = delete;
  StreamMux& operator=(const StreamMux&) = delete;

  // ---- Inbound ----
  // Every inner frame of one opened SEALED_STREAM plaintext, in order. Returns kOk, or the first session-fatal
  // reason (frames after it are not looked at). Per-stream reasons are counted, not returned.
  MuxReason OnPlaintext(std::span<const uint8_t> plaintext);
  // One inner frame. Returns what happened to it (counted in count()).
  MuxReason OnFrame(const InnerFrame& frame);

  // ---- Application calls ----
  OpenResult Open(const OpenTarget& target);              // device
  CallStatus Accept(StreamId id);                         // connector: OPEN_OK with our stream_window
  CallStatus Reject(StreamId id, ErrorCode code);         // connector: RESET instead of OPEN_OK
  // Queues up to bytes.size() bytes as DATA; returns how many were accepted (0 if the stream cannot send).
  size_t Write(StreamId id, std::span<const uint8_t> bytes);
  CallStatus CloseWrite(StreamId id);                     // FIN after everything written so far
  CallStatus Reset(StreamId id, ErrorCode code);          // RESET; the stream is gone at once
  CallStatus Consume(StreamId id, size_t n);              // n delivered bytes are done with
  // Bytes Write(id, ...) would accept right now.
  size_t SendCapacity(StreamId id) const;
  // The IP tunnel's set-up (docs/ip-tunnel.md §1). Device: at most once per session. Connector: one answer to
  // the device's request. kOutboxFull when the outbox cannot take the frame now (retry after output drained);
  // kBadArgument when the payload fails tunnel_control.h's checks; kWrongRole, or kWrongState (asked twice,
  // answered twice or unasked).
  CallStatus RequestTunnel(uint16_t mtu_max);
  CallStatus AnswerTunnel(const TunnelConfig& config);
  CallStatus RefuseTunnel(ErrorCode code, std::string_view reason);

  // ---- Outbound ----
  // Fills `out` with whole inner frames (the plaintext of one sealed message); returns the bytes written, 0 when
  // nothing is due or `out` cannot take the next frame.
  size_t PollOutgoing(std::span<uint8_t> out);
  bool HasOutgoing() const;
  // Frees the outbox and queue storage while they are empty (idle sessions cost little memory).
  void ReleaseIdleMemory();

  // ---- Inspection ----
  bool failed() const { return failure_ != MuxReason::kOk; }
  MuxReason failure() const { return failure_; }
  uint64_t count(MuxReason r) const { return counts_[static_cast<size_t>(r)]; }
  size_t live_streams() const { return streams_.size(); }
  bool FindStream(StreamId id, StreamInfo* out) const;
  uint64_t session_send_credit() const { return session_send_.available(); }
  const RecvWindow& session_recv() const { return session_recv_; }
  size_t outbox_bytes() const { return out_tail_ - out_head_; }
  // Every recv window is consistent (credit + held + pending == window). For tests and fuzzing.
  bool CheckInvariants() const;

 private:
  struct Control {
    StreamId id;
    bool reset;        // RESET with `code`; else a WINDOW update for the stream
    ErrorCode code;
  };
  static constexpr size_t kNoFrame = ~size_t{0};

  Stream* Find(StreamId id);
  const Stream* Find(StreamId id) const;
  bool IsPastId(StreamId id) const;  // an id the session used earlier
  MuxReason Fatal(MuxReason r);
  MuxReason Unknown(StreamId id);    // late frame or unknown stream
  MuxReason ResetFromMux(StreamId id, ErrorCode code, MuxReason why);
  bool QueueReset(StreamId id, ErrorCode code);

  MuxReason HandleOpen(const InnerFrame& f);
  MuxReason HandleOpenOk(const InnerFrame& f);
  MuxReason HandleData(const InnerFrame& f);
  MuxReason HandleWindow(const InnerFrame& f);
  MuxReason HandleReset(const InnerFrame& f);
  MuxReason HandleTunnel(const InnerFrame& f);
  CallStatus QueueTunnelFrame(InnerType type, std::span<const uint8_t> payload);

  // Outbox: [out_head_, out_tail_) of outbox_ holds encoded inner frames in send order.
  //   0 ........ out_head_ ===== queued frames ===== out_tail_ ........ outbox_.size()
  void EnsureOutbox();
  void MakeRoom(size_t need);
  size_t OutboxFree() const;      // for any frame
  size_t OutboxDataFree() const;  // for DATA: keeps kControlReserve free for OPEN/OPEN_OK/RESET/FIN
  InnerFrameWriter OutboxWriter(size_t need);
  size_t AppendData(StreamId id, std::span<const uint8_t> bytes);
  void MarkBlocked(StreamId id, Stream& s);
  void NotifyWritable();
  size_t SharedCapacity() const;  // what any stream could send now: min(session credit, outbox room for DATA)
  size_t SendCapacity(const Stream& s) const;

  // Immutable after construction.
  MuxOptions options_;
  MuxVisitor* visitor_;
  size_t control_reserve_;

  // Loop thread only.
  std::unordered_map<StreamId, Stream> streams_;
  StreamId next_id_ = 1;            // device: the next id Open() uses (0 after wrap = exhausted)
  StreamId highest_peer_id_ = 0;    // connector: the highest id the device opened
  SendWindow session_send_;
  RecvWindow session_recv_;
  MuxReason failure_ = MuxReason::kOk;
  uint64_t counts_[kMuxReasonCount] = {};

  std::vector<uint8_t> outbox_;
  size_t out_head_ = 0;
  size_t out_tail_ = 0;
  size_t last_data_ = kNoFrame;     // offset of the newest DATA frame (may be extended) or kNoFrame
  StreamId last_data_stream_ = 0;

  std::vector<Control> control_;   // WINDOW updates (one per stream at most) and mux-generated RESETs
  size_t control_head_ = 0;
  size_t pending_resets_ = 0;

  // The IP tunnel's set-up: device: none -> requested (sent) -> answered; connector: none -> requested (received)
  // -> answered (sent).
  enum class TunnelStep : uint8_t { kNone, kRequested, kAnswered };
  TunnelStep tunnel_step_ = TunnelStep::kNone;
  uint16_t tunnel_mtu_max_ = 0;

  std::vector<StreamId> blocked_;  // streams whose Write was cut short (write_blocked set), in the order they blocked
  std::vector<StreamId> scratch_;  // NotifyWritable's round
  bool notifying_ = false;
};

}  // namespace strait::tunnel
