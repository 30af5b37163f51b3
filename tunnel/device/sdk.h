// The device SDK: the small C++ API an app links to reach internal hosts through Strait (the Dynamics-SDK role;
// docs/device.md). It runs one DeviceClient on its own loop thread.
//
//   auto c = sdk::Client::Create(options);                 // starts the loop thread; dials at once
//   sdk::Stream s = (*c)->OpenStream("intranet.local", 80, &callbacks);
//   s.Write(bytes); s.CloseWrite();                         // from any thread
//   callbacks: OnOpen, OnData, OnFin, OnWritable, then OnClose exactly once (loop thread)
//
// Thread-safety: every Client and Stream function may be called from any thread, including from callbacks; the
// call is queued (one short mutex section) and carried out on the loop thread in call order. Callbacks run on the
// loop thread, one at a time; do not block in them.
//
// Flow control, honestly:
//   - sending: Write copies the bytes and accepts at most max_unsent_bytes not yet taken by the stream; it returns
//     how many it accepted (possibly 0). When it returned less than asked, OnWritable follows once room is back.
//   - receiving: OnData's bytes are valid during the call and are counted as consumed when it returns (credit
//     goes back to the connector), so an app that needs back-pressure on receive must copy and bound that itself.
// Streams do not survive a lost session: OnClose(reset code) and open a new one. A stream opened while no session
// is up waits up to ClientOptions::open_wait_timeout.
#pragma once

#include <atomic>
#include <future>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/result.h"
#include "runtime/event_loop.h"
#include "tunnel/device/client.h"
#include "tunnel/frame.h"

namespace strait::device::sdk {

// Implemented by the app. Called on the client's loop thread.
class StreamCallbacks {
 public:
  virtual ~StreamCallbacks() = default;
  virtual void OnOpen() {}                                         // the connector reached the target
  virtual void OnData(std::span<const std::uint8_t> data) { (void)data; }  // consumed when this returns
  virtual void OnFin() {}                                          // the target closed its side
  virtual void OnWritable() {}                                     // room for Write again
  // Last call, exactly once: nullopt after a clean close (FIN both ways), else the reset code (refused_by_policy,
  // connect_failed, dns_failed, connector_gone when the session was lost, no_connector when none came up in time,
  // cancelled after Reset() or Client destruction, ...). The callbacks object may be freed from here on.
  virtual void OnClose(std::optional<tunnel::ErrorCode> reset) = 0;
};

class Client;

// A handle to one stream; cheap to copy. Valid while its Client exists; calls on a finished stream are ignored.
class Stream {
 public:
  Stream() = default;
  // Queues a copy of up to bytes.size() bytes; returns how many were accepted (see "Flow control").
  std::size_t Write(std::span<const std::uint8_t> bytes);
  std::size_t Write(std::string_view s) { return Write({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}); }
  // FIN once everything written so far has gone out.
  void CloseWrite();
  // Drops the stream now (RESET cancelled); OnClose(cancelled) follows.
  void Reset();
  bool valid() const { return client_ != nullptr && id_ != 0; }
  std::uint64_t id() const { return id_; }

 private:
  friend class Client;
  Stream(Client* c, std::uint64_t id) : client_(c), id_(id) {}
  Client* client_ = nullptr;
  std::uint64_t id_ = 0;
};

struct SdkOptions {
  ClientOptions client;
  std::size_t max_unsent_bytes = 256u << 10;  // per stream: bytes accepted by Write, not yet taken by the stream
  runtime::LoopOptions loop = SmallLoop();

  static runtime::LoopOptions SmallLoop() {
    runtime::LoopOptions o;
    o.max_connections = 64;
    o.recv_buffer_count = 256;
    o.plain_buffer_count = 512;
    o.max_timers = 1024;
    return o;
  }
};

class Client final : private runtime::MessageHandler, private ClientStreamHandler, private ClientObserver {
 public:
  // Starts the loop thread and the DeviceClient on it. `observer` (optional) is called on the loop thread.
  static Result<std::unique_ptr<Client>, std::string> Create(SdkOptions options, ClientObserver* observer = nullptr);
  // Stops the client: every stream still open gets OnClose(cancelled) (on the loop thread), then the thread ends.
  // Do not destroy a Client from one of its own callbacks.
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // [any] Opens a stream to host:port (an IP literal, or a name the connector resolves). An invalid Stream when
  // the host is not a valid name (empty or above 255 bytes) or `callbacks` is null; otherwise every failure comes
  // through OnClose.
  Stream OpenStream(std::string_view host, std::uint16_t port, StreamCallbacks* callbacks);

  // [any] Snapshots.
  bool session_up() const { return session_up_.load(std::memory_order_acquire); }
  std::uint64_t sessions_established() const { return sessions_.load(std::memory_order_acquire); }

 private:
  friend class Stream;
  enum class Op : std::uint8_t { kOpen, kWrite, kCloseWrite, kReset, kStop };
  struct Command {
    Op op;
    std::uint64_t id = 0;
    std::vector<std::uint8_t> bytes;
    Target target;
    StreamCallbacks* callbacks = nullptr;
  };
  struct Shared {              // guarded by mu_
    std::size_t unsent = 0;
    bool blocked = false;      // a Write was cut short: OnWritable owed
  };
  struct LoopStream {          // loop thread only
    StreamCallbacks* callbacks = nullptr;
    StreamToken token = 0;
    std::vector<std::vector<std::uint8_t>> unsent;  // chunks in order, from unsent_head
    std::size_t unsent_head = 0;
    std::size_t head_offset = 0;
    bool opened = false;
    bool fin_requested = false;
    bool fin_sent = false;
    bool fin_received = false;
    bool draining = false;     // inside Drain (it re-enters through Write -> OnStreamWritable)
    bool drain_again = false;
  };

  explicit Client(SdkOptions options, ClientObserver* observer);
  void ThreadMain(std::promise<std::string>* ready);
  void Submit(Command c);
  std::size_t WriteFrom(std::uint64_t id, std::span<const std::uint8_t> bytes);

  // Loop thread.
  void OnMessage(runtime::EventLoop& loop, const runtime::Message& msg) override;
  void Run(Command& c);
  void Drain(std::uint64_t id);
  void Finish(std::uint64_t id, std::optional<tunnel::ErrorCode> reset);
  std::uint64_t IdOf(StreamToken token) const;
  void OnStreamOpened(StreamToken token) override;
  void OnStreamData(StreamToken token, std::span<const std::uint8_t> data) override;
  void OnStreamFin(StreamToken token) override;
  void OnStreamWritable(StreamToken token) override;
  void OnStreamReset(StreamToken token, tunnel::ErrorCode code, bool session_lost) override;
  void OnLinkUp(Path path, const runtime::SocketAddress& addr) override;
  void OnLinkDown(Path path, const link::LinkDown& down) override;
  void OnSessionUp(std::string_view connector_id, Path path) override;
  void OnSessionDown(tunnel::ErrorCode code, std::string_view reason) override;

  // Immutable after Create.
  SdkOptions options_;
  ClientObserver* const observer_;

  // Loop thread only.
  runtime::EventLoop* loop_ = nullptr;
  std::unique_ptr<DeviceClient> core_;
  std::unordered_map<std::uint64_t, LoopStream> streams_;
  std::unordered_map<StreamToken, std::uint64_t> by_token_;

  // Shared.
  std::mutex mu_;
  std::vector<Command> queue_;                         // guarded by mu_
  std::unordered_map<std::uint64_t, Shared> shared_;   // guarded by mu_
  std::uint64_t next_id_ = 1;                          // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> session_up_{false};
  std::atomic<std::uint64_t> sessions_{0};
  std::thread thread_;
};

}  // namespace strait::device::sdk
