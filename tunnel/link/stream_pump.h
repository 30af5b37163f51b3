// StreamPump: joins one TCP connection on an EventLoop to one stream of a StreamMux, both ways, with half-close
// and flow control. The connector uses it for target socket <-> stream, the device's SOCKS5 door for client
// socket <-> stream.
//
//   TCP -> stream:  OnData(buf) ─▶ mux.Write (credit-limited) ─▶ host.PumpOutput
//                   the unaccepted rest of `buf` is copied out (pending_) and the socket PauseRecv'd until
//                   OnStreamWritable takes it; TCP EOF (OnReadClosed) ─▶ mux.CloseWrite (FIN) after the rest.
//   stream -> TCP:  OnStreamData(bytes) ─▶ loop.Send (copied into plain-pool buffers); the bytes are Consume()d
//                   (credit returned) at once while the socket's send queue is below the loop's high watermark,
//                   else counted as owed and Consume()d on OnSendQueueLow. So a slow TCP reader holds back only
//                   its own stream: the peer can have at most one stream window in flight past the watermark.
//                   FIN from the peer ─▶ ShutdownWrite once everything before it is queued.
//   RESET from the peer ─▶ abort the TCP connection.  TCP reset / socket error ─▶ mux.Reset(connection_reset...)
//   Both directions finished (FIN both ways, EOF read, write side shut) ─▶ graceful close of the TCP connection.
//
// Bounds and buffers (no allocation per chunk):
//   - pending_: received bytes the mux had no credit for, copied out of the loop's buffers (heap, freed once
//     taken): the rest of one buffer, plus what the kernel had delivered before the pause took effect (the socket
//     receives in RecvMode::kNoHold, so those reach the pump rather than being held in the loop's ring). A
//     stream waiting for credit holds no receive buffer.
//   - overflow_: bytes of OnStreamData the loop refused (send queue at its hard limit, or the plain pool empty).
//     Rare path; reserved once, bounded by the stream's receive window (the mux never delivers more than the
//     window unconsumed, and overflowed bytes stay unconsumed until queued). Retried on OnSendQueueLow or after
//     StreamPumpOptions::retry_delay.
//
// Ownership and lifetime: the host (connector or device) owns the pump and the mux. The pump is the
// ConnectionHandler of its TCP connection — either it made the connection (Connect) or the host Adopt()s it with
// the pump as handler; a host that adopted the socket with its own handler (e.g. for a SOCKS5 exchange) can
// forward every ConnectionHandler callback to the pump and then call Attach(). The host routes the mux events of
// the pump's stream id (OnStreamData/Fin/Reset/Writable) to the pump. The pump calls host.PumpDone exactly once,
// as its last call, from OnClose of the TCP connection (or from Connect when the connect could not start); the
// host may destroy the pump there. Before that the host must not destroy it; to end it early call Abort().
//
// Threading: loop thread only (every function, every callback).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/net.h"
#include "tunnel/frame.h"
#include "tunnel/stream_mux.h"

namespace strait::link {

class StreamPump;

// Implemented by the pump's owner.
class StreamPumpHost {
 public:
  virtual ~StreamPumpHost() = default;
  // The mux the pump's stream lives in; nullptr once the session is gone (the pump then only closes its socket).
  virtual tunnel::StreamMux* PumpMux(StreamPump& pump) = 0;
  // The pump queued frames in the mux (DATA, FIN, RESET, WINDOW): seal and send them (now or batched).
  virtual void PumpOutput(StreamPump& pump) = 0;
  // Connect mode: the TCP connect finished. The host answers the stream (e.g. mux Accept) and calls Attach().
  virtual void PumpConnected(StreamPump& pump) { (void)pump; }
  // Last call: the TCP connection is closed. `connected` is false when it never connected (Connect failed: err
  // is the errno). The host may destroy the pump here.
  virtual void PumpDone(StreamPump& pump, bool connected, runtime::CloseReason reason, int err) = 0;
};

struct StreamPumpOptions {
  // Delay before retrying bytes the loop refused (plain pool empty: that has no callback).
  std::chrono::milliseconds retry_delay{2};
  // RESET code sent on the stream when the TCP connection fails (reset, socket error).
  tunnel::ErrorCode socket_error_code = tunnel::ErrorCode::kConnectFailed;
};

// Why a pump ended, for the host's counters.
struct StreamPumpStats {
  std::uint64_t bytes_to_stream = 0;    // TCP bytes accepted by the mux
  std::uint64_t bytes_to_socket = 0;    // stream bytes queued on the socket
  std::uint64_t consume_deferred = 0;   // times credit was held back because the socket's queue was high
  std::uint64_t send_refused = 0;       // loop.Send refused (queue limit / no buffer): bytes went to overflow
  std::uint64_t pending_copies = 0;     // a received buffer's rest copied out to wait for credit
};

class StreamPump final : public runtime::ConnectionHandler, private runtime::TimerHandler {
 public:
  StreamPump(runtime::EventLoop& loop, StreamPumpHost& host, tunnel::StreamId id,
             const StreamPumpOptions& options = {});
  ~StreamPump() override;
  StreamPump(const StreamPump&) = delete;
  StreamPump& operator=(const StreamPump&) = delete;

  // Connect mode: starts a TCP connect with this pump as handler. PumpConnected or PumpDone(connected=false)
  // follows. Returns false when the connect could not start (no slot, socket() failed; *err set): then nothing
  // follows and the host still owns the pump.
  bool Connect(const runtime::SocketAddress& addr, int* err = nullptr);
  // Starts pumping on `conn`, whose callbacks reach this pump (as its handler or forwarded). The stream must be
  // open (accepted) in the mux.
  void Attach(runtime::ConnId conn);
  // Aborts the TCP connection now (queued bytes dropped); if the stream is still live, RESETs it with `code`.
  // PumpDone follows from OnClose. Safe to call more than once and from host callbacks.
  void Abort(tunnel::ErrorCode code);
  // Bytes for the socket that are not stream data (e.g. a SOCKS5 reply): no credit is returned for them. Call it
  // before any stream data reaches the pump; they go out first, and are kept in the overflow (retried) when the
  // loop refuses them.
  void SendControl(std::span<const std::uint8_t> bytes);
  // Bytes the host read from the socket itself (e.g. pipelined after a SOCKS5 request), in order before anything
  // the socket delivers later: as OnData, from the caller's memory.
  void TakeBytes(std::span<const std::uint8_t> bytes);

  // ---- Mux events for this stream (the host routes them here) ----
  void OnStreamData(std::span<const std::uint8_t> data);
  void OnStreamFin();
  void OnStreamReset(tunnel::ErrorCode code);
  void OnStreamWritable();
  // The session went away: the stream is gone without a RESET. Aborts the TCP connection.
  void OnSessionGone();

  // ---- runtime::ConnectionHandler ----
  void OnConnected(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override;
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnSendQueueLow(runtime::EventLoop& loop, runtime::ConnId id) override;
  void OnClose(runtime::EventLoop& loop, runtime::ConnId id, runtime::CloseReason reason, int err) override;

  // ---- Inspection ----
  tunnel::StreamId stream_id() const { return id_; }
  runtime::ConnId conn() const { return conn_; }
  bool stream_live() const { return stream_live_; }
  std::size_t owed_credit() const { return owed_; }
  std::size_t overflow_bytes() const { return overflow_.size() - overflow_head_; }
  // Received bytes waiting for stream credit (heap): at most one loop buffer plus one batch of late bytes.
  std::size_t pending_bytes() const { return pending_.size() - pending_head_; }
  const StreamPumpStats& stats() const { return stats_; }
  // Host-defined word (e.g. an index into the host's table).
  std::uint64_t tag = 0;

 private:
  void OnTimer(runtime::EventLoop& loop, runtime::TimerId id, std::uint64_t arg) override;
  tunnel::StreamMux* Mux();
  // `fresh` (a buffer just received), or pending_ when empty -> mux; the rest is kept in pending_; then FIN if EOF
  // was read.
  void PushToStream(std::span<const std::uint8_t> fresh = {});
  void KeepPending(std::span<const std::uint8_t> bytes);
  void DropPending();
  bool QueueToSocket(std::span<const std::uint8_t> bytes);  // false: refused (caller overflows)
  void FlushOverflow();
  void SettleCredit();        // Consume owed_ bytes while the socket's queue is below the high watermark
  void MaybeShutdownWrite();
  void MaybeFinish();
  void ArmRetry();

  // Immutable after construction.
  runtime::EventLoop& loop_;
  StreamPumpHost& host_;
  const tunnel::StreamId id_;
  const StreamPumpOptions options_;

  // Loop thread only.
  runtime::ConnId conn_;
  bool connecting_ = false;
  bool attached_ = false;
  bool closing_ = false;        // Close() called; waiting for OnClose
  bool stream_live_ = true;     // the stream exists in the mux (not reset, not closed both ways)
  bool eof_read_ = false;       // TCP EOF seen
  bool fin_sent_ = false;       // our FIN is queued in the mux
  bool peer_fin_ = false;       // the peer's FIN arrived
  bool write_shut_ = false;     // ShutdownWrite called
  std::vector<std::uint8_t> pending_;  // TCP bytes the mux did not take yet, from pending_head_ (recv paused)
  std::size_t pending_head_ = 0;
  std::vector<std::uint8_t> overflow_;  // stream bytes the loop refused, from overflow_head_
  std::size_t overflow_head_ = 0;
  std::size_t overflow_control_ = 0;  // leading overflow bytes from SendControl: sent without returning credit
  std::size_t owed_ = 0;        // bytes queued on the socket but not yet Consume()d
  runtime::TimerId retry_timer_;
  bool retry_armed_ = false;
  StreamPumpStats stats_;
};

}  // namespace strait::link
