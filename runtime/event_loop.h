// EventLoop: one io_uring, one thread, the connections it owns (shard per core; docs/runtime.md).
//
// Threading contract, for every public function below:
//   [loop]  only on the loop's own thread: the thread that called Create() and runs Run(), or from a callback.
//   [any]   any thread.
// Callbacks (ConnectionHandler, AcceptHandler, MessageHandler, TimerHandler) always run on the loop thread, from
// inside Run(). They may call any [loop] function, including ones that re-enter other handlers synchronously
// (e.g. Send() may call the peer's OnSendQueueHigh before it returns).
//
// Steady-state cost: no allocation per operation. Connection slots, timers, the mailbox and both buffer pools are
// preallocated by Create() from LoopOptions; every bound is a field there.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "runtime/buffer_pool.h"
#include "runtime/mpsc_queue.h"
#include "runtime/net.h"
#include "runtime/ring.h"
#include "runtime/setup_error.h"
#include "runtime/timer_heap.h"

namespace strait::runtime {

class EventLoop;

// A connection handle: slot index + generation. Stale handles (slot reused) are rejected by every function.
struct ConnId {
  std::uint32_t slot = 0xffffffffu;
  std::uint32_t gen = 0;
  bool valid() const { return slot != 0xffffffffu; }
  friend bool operator==(const ConnId&, const ConnId&) = default;
};

struct ListenerId {
  std::uint32_t index = 0xffffffffu;
  std::uint32_t gen = 0;
  bool valid() const { return index != 0xffffffffu; }
};

// A readiness watch on an fd the loop does not own (WatchReadable).
struct WatchId {
  std::uint32_t slot = 0xffffffffu;
  std::uint32_t gen = 0;
  bool valid() const { return slot != 0xffffffffu; }
};

enum class CloseReason : std::uint8_t {
  kLocal,          // Close() was called
  kPeerReset,      // ECONNRESET / EPIPE from recv or send
  kError,          // another socket error (close_err says which)
  kConnectFailed,  // outbound connect failed (close_err says why); OnConnected was never called
  kTimeout,        // a graceful close did not drain within LoopOptions::graceful_close_timeout
  kShutdown,       // the loop is stopping
};
const char* ToString(CloseReason r);

enum class SendResult : std::uint8_t {
  kQueued,     // accepted; will be sent in order
  kQueueFull,  // would exceed LoopOptions::send_queue_limit; nothing queued, the caller keeps its buffer
  kNoBuffer,   // Send(span): the plain pool had too few free buffers; nothing queued
  kClosed,     // connection closing, write side shut down, or stale ConnId
};

// How a connection receives (docs/runtime.md, "Who holds receive buffers").
enum class RecvMode : std::uint8_t {
  // One multishot recv: the kernel fills as many ring buffers as the socket has data for, batched. What it had
  // delivered when PauseRecv was called (the rest of the batch, before the cancel lands) is held in ring buffers
  // until ResumeRecv. For links, whose handler consumes every buffer in its callback.
  kMultishot,
  // Multishot, but nothing is held for a paused connection: what the kernel had delivered when PauseRecv was called
  // still goes to OnData, and the handler copies what it cannot take now into its own bounded backlog. For
  // flow-controlled connections (stream pumps): a paused one keeps no ring buffer, and the batching stays.
  kNoHold,
};

enum class CloseMode : std::uint8_t {
  kAbort,     // cancel everything now, drop queued bytes
  kGraceful,  // stop reading, send what is queued, shutdown(SHUT_WR), then close (bounded by a timer)
};

// Per-connection callbacks. The handler is not owned by the loop and must outlive the connection (until OnClose).
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Outbound connect finished; Send() was already allowed before this (bytes are queued).
  virtual void OnConnected(EventLoop& loop, ConnId id) {
    (void)loop;
    (void)id;
  }
  // Bytes arrived. The handler owns `data`: keep it (e.g. move it into Send on another connection, no copy) or let
  // it drop. Not called between PauseRecv and ResumeRecv, except in RecvMode::kNoHold for the bytes the kernel had
  // already delivered when PauseRecv was called.
  virtual void OnData(EventLoop& loop, ConnId id, Buffer data) = 0;
  // The peer shut down its write side (recv returned 0). Reading has stopped; sending still works.
  virtual void OnReadClosed(EventLoop& loop, ConnId id) {
    (void)loop;
    (void)id;
  }
  // The send queue rose to LoopOptions::send_high_watermark (once per crossing).
  virtual void OnSendQueueHigh(EventLoop& loop, ConnId id) {
    (void)loop;
    (void)id;
  }
  // The send queue drained to LoopOptions::send_low_watermark after a high crossing.
  virtual void OnSendQueueLow(EventLoop& loop, ConnId id) {
    (void)loop;
    (void)id;
  }
  // Last callback: the fd is closed and the slot released; `id` is invalid once this returns. err is a positive
  // errno for kPeerReset/kError/kConnectFailed, else 0.
  virtual void OnClose(EventLoop& loop, ConnId id, CloseReason reason, int err) = 0;
};

// Readiness of an fd the loop does not own, such as a TUN device (docs/runtime.md, "Readiness watches").
class ReadableHandler {
 public:
  virtual ~ReadableHandler() = default;
  // `fd` is readable: read what you want now (non-blocking), at most a batch for fairness; the loop asks again at
  // once if more is left (the watch is level-triggered).
  virtual void OnReadable(EventLoop& loop, WatchId id) = 0;
  // The poll failed with `err` (e.g. EBADF): the watch has ended; no more callbacks for `id`.
  virtual void OnWatchError(EventLoop& loop, WatchId id, int err) {
    (void)loop;
    (void)id;
    (void)err;
  }
};

class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  // A connection was accepted. The handler owns `fd` (close-on-exec, blocking): Adopt() it, hand it to another loop
  // with Post/PostFrom, or close it.
  virtual void OnAccept(EventLoop& loop, ListenerId id, int fd) = 0;
  // accept failed with `err`; the loop re-arms after LoopOptions::accept_retry_delay.
  virtual void OnAcceptError(EventLoop& loop, ListenerId id, int err) {
    (void)loop;
    (void)id;
    (void)err;
  }
};

// A fixed-size cross-thread message. `fd`, when >= 0, is owned by the receiver once delivered; if the receiving
// loop is stopping (or is destroyed with the message undelivered) the runtime closes it.
struct Message {
  std::uint32_t kind = 0;
  int fd = -1;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
};

// Called once per loop iteration, after the completions, messages and timers of that iteration were handled and
// before the loop submits and waits again: the place to flush work batched across callbacks (e.g. seal what several
// frames appended to one link). Sends queued here go out in the same submission.
class BatchHandler {
 public:
  virtual ~BatchHandler() = default;
  virtual void OnBatchEnd(EventLoop& loop) = 0;
};

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual void OnMessage(EventLoop& loop, const Message& msg) = 0;
};

struct LoopOptions {
  RingOptions ring;
  std::uint32_t max_connections = 4096;     // connection slots, preallocated (~200 bytes each)
  std::uint32_t max_listeners = 8;
  std::uint32_t max_watches = 8;            // WatchReadable slots (TUN devices and the like)
  std::uint32_t max_timers = 4096;
  std::uint32_t recv_buffer_count = 1024;   // provided-ring pool; power of two, <= 32768
  std::uint32_t plain_buffer_count = 1024;  // plain pool: Send(span) copies, single-shot recv fallback
  std::uint32_t buffer_size = 16384;        // bytes per buffer, headroom included
  std::uint32_t buffer_headroom = 64;       // bytes kept free in front of received data (for in-place framing)
  std::uint16_t buffer_group_id = 1;
  // Per-connection send queue bounds (bytes). high/low drive OnSendQueueHigh/Low; limit is the hard bound.
  std::uint32_t send_queue_limit = 1u << 20;
  std::uint32_t send_high_watermark = 256u << 10;
  std::uint32_t send_low_watermark = 64u << 10;
  // Sends of at least this many bytes use IORING_OP_SEND_ZC (when the kernel has it); 0 disables zero-copy.
  // Default from the measurement in docs/runtime.md: off, because a send is at most one buffer (16 KiB) and below
  // ~64 KiB the notification CQE costs more than the copy it saves (and loopback always copies).
  std::uint32_t send_zc_threshold = 0;
  // Up to this many queued buffers of one connection go out in one IORING_OP_SENDMSG (an iovec over the queue), so
  // a backlog of N buffers costs one SQE, one CQE and one tcp_sendmsg instead of N. 1 = one IORING_OP_SEND per
  // buffer. A lone queued buffer always uses plain IORING_OP_SEND. Costs max_connections * send_max_iov * 16 bytes
  // of address space, touched only by connections that coalesce (docs/runtime.md, "Send coalescing").
  std::uint32_t send_max_iov = 16;
  std::uint32_t mailbox_capacity = 4096;    // cross-thread messages queued per loop
  std::uint32_t max_peer_loops = 64;        // loops PostFrom() can target with MSG_RING
  // After ENOBUFS, re-arm a starved recv once this many recv buffers are back in the ring.
  std::uint32_t recv_rearm_min_buffers = 16;
  std::chrono::milliseconds graceful_close_timeout{5000};
  std::chrono::milliseconds accept_retry_delay{50};
  std::chrono::milliseconds shutdown_timeout{5000};  // Run()'s final drain; then fds are closed synchronously
  std::uint32_t max_cqes_per_batch = 4096;  // completions handled before timers and publishing run again
  // Forward-progress watchdog over the connections marked with Watch(): at each tick, one that had bytes to move
  // at the previous tick and still has (queued sends, or a recv starved of buffers) but moved none in between
  // counts one LoopStats::stalls. 0 turns the ticks off.
  std::chrono::milliseconds watchdog_interval{1000};
};

// Counters, loop thread only (read them from a callback, or after Run() returns).
struct LoopStats {
  std::uint64_t batches = 0;
  std::uint64_t cqes = 0;
  std::uint64_t accepted = 0;
  std::uint64_t accept_errors = 0;
  std::uint64_t adopted = 0;
  std::uint64_t adopt_rejected = 0;      // no free slot
  std::uint64_t connects = 0;
  std::uint64_t closed = 0;
  std::uint64_t recv_completions = 0;
  std::uint64_t recv_bytes = 0;
  std::uint64_t recv_enobufs = 0;        // multishot recv stopped: ring empty
  std::uint64_t recv_rearms = 0;         // recvs armed again after ENOBUFS / termination
  std::uint64_t recv_pauses = 0;
  std::uint64_t recv_resumes = 0;
  std::uint64_t sends = 0;
  std::uint64_t sends_zc = 0;
  std::uint64_t sends_coalesced = 0;     // sends that were one IORING_OP_SENDMSG over >= 2 queued buffers
  std::uint64_t send_buffers = 0;        // buffers covered by all sends (send_buffers / sends = buffers per send)
  std::uint64_t sends_partial = 0;       // sends the kernel took only part of (the rest is sent next)
  std::uint64_t send_bytes = 0;
  std::uint64_t send_queue_full = 0;
  std::uint64_t stale_cqes = 0;          // completion for a released slot (generation mismatch)
  std::uint64_t messages = 0;
  std::uint64_t msg_ring_failures = 0;   // MSG_RING doorbell failed; fell back to eventfd
  std::uint64_t timers_fired = 0;
  // Watchdog (LoopOptions::watchdog_interval): watched connections that had bytes to move and moved none for a
  // whole interval, one per connection per interval.
  std::uint64_t stalls = 0;
};

class EventLoop final : private TimerHandler {
 public:
  // [loop] Creates the ring, pools and tables on the calling thread, which becomes the loop thread.
  static SetupResult<std::unique_ptr<EventLoop>> Create(const LoopOptions& options);
  // [loop] Closes whatever is still open (without callbacks), fds in undelivered messages, and the ring.
  ~EventLoop() override;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // [loop] Runs until RequestStop(); then closes every listener and connection (OnClose(kShutdown)), waits for
  // their completions (bounded by shutdown_timeout) and returns. Call once.
  void Run();
  // [any] Asks Run() to return. Idempotent.
  void RequestStop();

  // --- messages and hand-off -------------------------------------------------------------------------------
  // [loop] Sets the receiver of messages (nullptr: messages are dropped, their fds closed).
  void SetMessageHandler(MessageHandler* handler) { message_handler_ = handler; }
  // [any] Queues `msg` for this loop and wakes it through its eventfd. Returns false if the mailbox is full or the
  // loop is stopping: then nothing was queued and the caller still owns msg.fd.
  bool Post(const Message& msg);
  // [loop of *this*] Like target.Post(msg) but rings target's doorbell with IORING_OP_MSG_RING from this loop's
  // ring (batched with this loop's submissions; no syscall of its own) when the kernel has it.
  bool PostTo(EventLoop& target, const Message& msg);

  // [loop] Registers / removes a batch-end handler (a handful per loop; called in registration order). A handler
  // that is removed from inside a batch-end call is not called again.
  void AddBatchHandler(BatchHandler* handler);
  void RemoveBatchHandler(BatchHandler* handler);

  // --- listeners ---------------------------------------------------------------------------------------------
  // [loop] Takes ownership of a listening socket and accepts on it (multishot when available).
  SetupResult<ListenerId> Listen(int listen_fd, AcceptHandler* handler);
  // [loop] Stops accepting and closes the listening fd (asynchronously).
  void CloseListener(ListenerId id);

  // --- connections -------------------------------------------------------------------------------------------
  // [loop] Takes ownership of a connected socket and starts receiving. Returns an invalid ConnId when all slots are
  // in use; then the caller still owns fd.
  ConnId Adopt(int fd, ConnectionHandler* handler, std::uint64_t tag = 0, RecvMode mode = RecvMode::kMultishot);
  // [loop] Starts a TCP connect. OnConnected or OnClose(kConnectFailed) follows. Invalid ConnId when no slot is
  // free or socket() or bind() fails (errno in *err if given). `source`, if given, is the local address to connect
  // from (its port 0: the kernel picks one at connect time, IP_BIND_ADDRESS_NO_PORT, so one source address serves
  // as many connections as it has free ports per destination): a load generator spreads over 127.0.0.0/8 with it.
  ConnId Connect(const SocketAddress& addr, ConnectionHandler* handler, std::uint64_t tag = 0, int* err = nullptr,
                 const SocketAddress* source = nullptr);

  // [loop] Queues a buffer for sending. On kQueued the loop owns it; otherwise `data` is untouched. The send itself
  // is issued at the end of the loop iteration, so every buffer queued for one connection during an iteration goes
  // out in one IORING_OP_SENDMSG (up to send_max_iov buffers).
  SendResult Send(ConnId id, Buffer&& data);
  // [loop] Copies `bytes` into plain-pool buffers and queues them; all or nothing.
  SendResult Send(ConnId id, std::span<const std::uint8_t> bytes);
  // [loop] A plain-pool buffer to fill and Send(); empty when the pool is exhausted.
  Buffer AllocateBuffer() { return plain_pool_->Allocate(); }

  // [loop] Sets how the connection receives (default kMultishot, or what Adopt was given); takes effect for the
  // next completion.
  void SetRecvMode(ConnId id, RecvMode mode);
  // [loop] Puts the connection under the forward-progress watchdog (LoopOptions::watchdog_interval).
  void Watch(ConnId id);
  // [loop] Stops delivering OnData (data already received is held, bounded by the recv pool) / resumes it.
  void PauseRecv(ConnId id);
  void ResumeRecv(ConnId id);
  // [loop] shutdown(SHUT_WR) once the queued bytes are sent. Later Sends return kClosed.
  void ShutdownWrite(ConnId id);
  // [loop] Closes the connection; OnClose follows (never synchronously from inside Close).
  void Close(ConnId id, CloseMode mode = CloseMode::kAbort);

  // [loop] Accessors; stale ids give 0 / false.
  bool IsOpen(ConnId id) const;
  std::uint32_t SendQueueBytes(ConnId id) const;
  bool RecvPaused(ConnId id) const;
  std::uint64_t Tag(ConnId id) const;
  void SetTag(ConnId id, std::uint64_t tag);
  int Fd(ConnId id) const;  // for setsockopt; do not close it

  // --- readiness watches ------------------------------------------------------------------------------------
  // [loop] Calls handler->OnReadable whenever `fd` (not owned: the caller keeps it open until Unwatch) is
  // readable, through a one-shot IORING_OP_POLL_ADD that the loop re-arms after each call, so the watch is
  // level-triggered. Invalid WatchId when max_watches are in use.
  WatchId WatchReadable(int fd, ReadableHandler* handler);
  // [loop] Ends the watch: no callback for `id` after this returns (also from inside OnReadable). The fd may be
  // closed right after.
  void Unwatch(WatchId id);

  // --- timers ------------------------------------------------------------------------------------------------
  // [loop] Calls handler->OnTimer(arg) once `delay` has passed. Invalid TimerId when max_timers are in use.
  TimerId AddTimer(std::chrono::nanoseconds delay, TimerHandler* handler, std::uint64_t arg = 0);
  // [loop] False when the timer already fired or was cancelled.
  bool CancelTimer(TimerId id) { return timers_.Cancel(id); }

  // --- introspection -----------------------------------------------------------------------------------------
  const Features& features() const { return ring_->features(); }  // [any] immutable after Create
  const LoopOptions& options() const { return options_; }         // [any] immutable after Create
  const LoopStats& stats() const { return stats_; }               // [loop]
  std::uint32_t open_connections() const { return open_connections_; }  // [loop]
  const BufferPool& recv_pool() const { return *recv_pool_; }    // [loop]
  const BufferPool& plain_pool() const { return *plain_pool_; }  // [loop]
  bool stopping() const { return stopping_; }                     // [loop]
  std::uint64_t post_failures() const { return post_failures_.load(std::memory_order_relaxed); }  // [any]

 private:
  enum class State : std::uint8_t { kFree, kConnecting, kOpen, kDraining, kClosing, kCloseSubmitted };
  struct Conn;
  struct Listener;

  explicit EventLoop(const LoopOptions& options);
  SetupResult<bool> Init();

  // Completion handling (one switch over Op in ProcessBatch).
  void ProcessBatch();
  void OnAcceptCqe(const io_uring_cqe* cqe, std::uint32_t index);
  void OnRecvCqe(const io_uring_cqe* cqe, Conn& c);
  void OnSendCqe(const io_uring_cqe* cqe, Conn& c);
  void OnSendZcCqe(const io_uring_cqe* cqe, std::uint32_t slot, BufRef ref);
  void OnSendResult(Conn& c, int res);
  void OnConnectCqe(const io_uring_cqe* cqe, Conn& c);
  void OnShutdownCqe(const io_uring_cqe* cqe, Conn& c);
  void OnCloseCqe(Conn& c);
  void DrainMailbox();
  void RunTimers();
  void OnTimer(EventLoop& loop, TimerId id, std::uint64_t arg) override;
  void WatchdogTick();
  struct WatchdogTimer final : TimerHandler {
    EventLoop* loop = nullptr;
    void OnTimer(EventLoop& /*l*/, TimerId /*id*/, std::uint64_t /*arg*/) override { loop->WatchdogTick(); }
  };

  // Connection internals.
  Conn* ConnForCqe(std::uint32_t slot, std::uint32_t aux);
  Conn* Lookup(ConnId id);
  const Conn* Lookup(ConnId id) const;
  ConnId IdOf(const Conn& c) const;
  std::uint32_t AllocSlot();
  void ArmRecv(Conn& c);
  void RearmStarved();
  void KickSend(Conn& c);
  void ScheduleKick(Conn& c);  // KickSend at the end of this iteration (RunBatchEnd)
  void RunBatchEnd();          // batch handlers, then the scheduled kicks
  void SubmitShutdown(Conn& c);
  void StartClose(Conn& c, CloseReason reason, int err);
  void MaybeFinishClose(Conn& c);
  void FinishClose(Conn& c);
  void DeliverHeld(Conn& c);
  void AfterSendProgress(Conn& c);
  void MarkStarved(Conn& c);
  void Unstarve(Conn& c);
  void CancelRecv(Conn& c);
  void WakeByEventfd();
  void ReleaseQueue(std::uint32_t& head, std::uint32_t& tail);
  void QueuePush(std::uint32_t& head, std::uint32_t& tail, BufRef ref);
  BufferPool& PoolOf(BufRef ref) { return (ref >> kBufRefPoolShift) != 0 ? *plain_pool_ : *recv_pool_; }
  static std::uint32_t IdOf(BufRef ref) { return ref & ~(1u << kBufRefPoolShift); }
  void ArmAccept(std::uint32_t index);
  void MaybeFinishListener(std::uint32_t index);
  void ArmWake();
  void RingDoorbell(EventLoop* sender);
  void Shutdown();
  static std::int64_t NowNs();

  // Immutable after Create.
  const LoopOptions options_;
  bool use_multishot_recv_ = false;
  bool use_multishot_accept_ = false;
  bool use_send_zc_ = false;
  bool use_msg_ring_ = false;
  bool cqe_skip_ = false;  // IORING_FEAT_CQE_SKIP: successful MSG_RING doorbells post no CQE on the sender

  // Loop thread only.
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<BufferPool> recv_pool_;
  std::unique_ptr<BufferPool> plain_pool_;
  std::vector<Conn> conns_;
  std::vector<Listener> listeners_;
  struct ReadWatch {
    int fd = -1;
    ReadableHandler* handler = nullptr;
    std::uint32_t gen = 0;
    bool in_use = false;
    bool armed = false;  // a POLL_ADD of this slot is in flight (whatever its generation)
  };
  std::vector<ReadWatch> watches_;
  void ArmWatch(std::uint32_t slot);
  void OnWatchCqe(const io_uring_cqe* cqe, std::uint32_t slot, std::uint32_t aux);
  TimerHeap timers_;
  std::uint32_t free_conn_head_;
  std::uint32_t open_connections_ = 0;
  std::uint32_t starved_head_;  // connections whose recv stopped on ENOBUFS / empty plain pool
  std::uint32_t starved_tail_;
  MessageHandler* message_handler_ = nullptr;
  std::uint64_t wake_value_ = 0;  // eventfd read target
  bool wake_armed_ = false;
  bool stopping_ = false;
  bool ran_ = false;
  std::unique_ptr<iovec[]> send_iov_;   // send_max_iov per connection slot (coalesced sends)
  std::unique_ptr<msghdr[]> send_msg_;  // one per connection slot; valid until its send CQE
  std::vector<EventLoop*> peers_;  // MSG_RING targets; index is the slot in kMsgRingSent user_data
  std::vector<BatchHandler*> batch_handlers_;
  std::vector<ConnId> kicks_;  // connections with queued, unsent buffers; capacity max_connections (no allocation)
  WatchdogTimer watchdog_;
  LoopStats stats_;

  // Shared with other threads.
  int wake_fd_ = -1;                      // eventfd; immutable after Create
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> accepting_messages_{true};
  std::atomic<bool> doorbell_pending_{false};  // a doorbell is in flight; senders skip theirs
  std::atomic<std::uint64_t> post_failures_{0};  // Post/PostTo refused: mailbox full or loop stopping
  BoundedMpscQueue<Message> mailbox_;
};

}  // namespace strait::runtime
