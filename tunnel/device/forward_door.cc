#include "tunnel/device/forward_door.h"

#include <numeric>
#include <utility>
#include <vector>

#include "tunnel/link/stream_pump.h"

namespace strait::device {

std::uint64_t ForwardDoorStats::open_failed_total() const {
  return std::accumulate(open_failed.begin(), open_failed.end(), std::uint64_t{0});
}

// One client connection of a forward: the open, then a stream pump. It is the connection's handler for its whole
// life and forwards the runtime's callbacks to the pump once the stream is open.
class ForwardConn final : public DoorConnection,
                          public runtime::ConnectionHandler,
                          public ClientStreamHandler,
                          public link::StreamPumpHost {
 public:
  ForwardConn(ForwardDoor& door, runtime::EventLoop& loop, DeviceClient& client)
      : door_(door), loop_(loop), client_(client) {}
  ~ForwardConn() override {
    if (token_ != 0) client_.Forget(token_);
  }

  bool Start(int fd) override {
    // A client socket is a flow-controlled stream (docs/runtime.md, "Who holds receive buffers"); reads stay paused
    // until the stream is open, so nothing is read that the stream could refuse.
    conn_ = loop_.Adopt(fd, this, 0, runtime::RecvMode::kNoHold);
    if (!conn_.valid()) return false;
    loop_.PauseRecv(conn_);
    (void)runtime::SetTcpNoDelay(fd);
    ++door_.stats_.opens;
    // Open never calls back from inside: a failure comes later, from the client's loop turn.
    token_ = client_.Open(door_.options_.target, this);
    if (token_ == 0) Fail(tunnel::ErrorCode::kOverloaded);  // stopped, or max_pending_opens waiting
    return true;
  }
  void Abort() override {
    if (pump_) {
      pump_->Abort(tunnel::ErrorCode::kCancelled);
    } else {
      Close();
    }
  }

  // ---- runtime::ConnectionHandler ----
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override {
    if (pump_) {
      pump_->OnData(loop, id, std::move(data));
      return;
    }
    // Reads are paused while the stream opens; these are bytes the kernel had delivered before the pause took
    // effect (kNoHold): at most one loop buffer, sent first once the stream is open.
    if (!closing_) held_.insert(held_.end(), data.data().begin(), data.data().end());
  }
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override {
    if (pump_) {
      pump_->OnReadClosed(loop, id);
      return;
    }
    eof_ = true;  // a half-closed client still gets its stream: FIN after the held bytes
  }
  void OnSendQueueLow(runtime::EventLoop& loop, runtime::ConnId id) override {
    if (pump_) pump_->OnSendQueueLow(loop, id);
  }
  void OnClose(runtime::EventLoop& loop, runtime::ConnId id, runtime::CloseReason reason, int err) override {
    conn_ = {};
    if (pump_) {
      pump_->OnClose(loop, id, reason, err);  // PumpDone follows from inside
      return;
    }
    if (token_ != 0) {
      ++door_.stats_.closed_while_opening;  // the destructor cancels the open (Forget)
    }
    door_.listener_->Retire(this);
  }

  // ---- ClientStreamHandler ----
  void OnStreamOpened(StreamToken /*token*/) override {
    if (!conn_.valid() || closing_) return;  // OnClose is on its way; the destructor resets the stream
    ++door_.stats_.open_ok;
    pump_ = std::make_unique<link::StreamPump>(loop_, *this, client_.MuxStreamId(token_));
    pump_->Attach(conn_);
    if (!held_.empty()) {
      pump_->TakeBytes(held_);  // may pause again if the stream cannot take it all
      std::vector<std::uint8_t>().swap(held_);
    } else if (!eof_) {
      loop_.ResumeRecv(conn_);
    }
    if (eof_ && pump_) pump_->OnReadClosed(loop_, conn_);
  }
  void OnStreamData(StreamToken /*token*/, std::span<const std::uint8_t> data) override {
    if (pump_) pump_->OnStreamData(data);
  }
  void OnStreamFin(StreamToken /*token*/) override {
    if (pump_) pump_->OnStreamFin();
  }
  void OnStreamWritable(StreamToken /*token*/) override {
    if (pump_) pump_->OnStreamWritable();
  }
  void OnStreamReset(StreamToken /*token*/, tunnel::ErrorCode code, bool session_lost) override {
    token_ = 0;  // dead
    if (pump_) {
      if (session_lost) {
        pump_->OnSessionGone();
      } else {
        pump_->OnStreamReset(code);
      }
      return;
    }
    Fail(code);
  }

  // ---- link::StreamPumpHost ----
  tunnel::StreamMux* PumpMux(link::StreamPump& /*pump*/) override {
    return token_ == 0 ? nullptr : client_.MuxOf(token_);
  }
  void PumpOutput(link::StreamPump& /*pump*/) override { client_.FlushOutput(); }
  void PumpDone(link::StreamPump& /*pump*/, bool /*connected*/, runtime::CloseReason /*reason*/,
                int /*err*/) override {
    door_.listener_->Retire(this);
  }

 private:
  // The open failed: the client learns it the only way a plain TCP connection can, by being closed at once.
  void Fail(tunnel::ErrorCode code) {
    const auto i = static_cast<std::size_t>(code);
    ++door_.stats_.open_failed[i < door_.stats_.open_failed.size() ? i : 0];
    std::vector<std::uint8_t>().swap(held_);
    Close();
  }
  void Close() {
    if (!conn_.valid() || closing_) return;
    closing_ = true;
    loop_.Close(conn_, runtime::CloseMode::kAbort);
  }

  ForwardDoor& door_;
  runtime::EventLoop& loop_;
  DeviceClient& client_;
  runtime::ConnId conn_;
  bool closing_ = false;
  bool eof_ = false;                  // kOpening: the client half-closed
  std::vector<std::uint8_t> held_;    // kOpening: bytes read before the pause took effect
  StreamToken token_ = 0;
  std::unique_ptr<link::StreamPump> pump_;
};

// ---------------------------------------------------------------------------------------------------------------

ForwardDoor::ForwardDoor(runtime::EventLoop& loop, DeviceClient& client, const ForwardDoorOptions& options)
    : loop_(&loop), client_(&client), options_(options) {}

Result<std::unique_ptr<ForwardDoor>, std::string> ForwardDoor::Create(runtime::EventLoop& loop, DeviceClient& client,
                                                                     const ForwardDoorOptions& options) {
  std::unique_ptr<ForwardDoor> d(new ForwardDoor(loop, client, options));
  auto listener = DoorListener::Create(loop, *d, options.listen, options.max_connections, "forward");
  if (!listener) return Fail(listener.error());
  d->listener_ = std::move(*listener);
  return d;
}

ForwardDoor::~ForwardDoor() = default;

void ForwardDoor::Close() { listener_->Close(); }

ForwardDoorStats ForwardDoor::stats() const {
  ForwardDoorStats s = stats_;
  s.accepted = listener_->stats().accepted;
  s.refused_full = listener_->stats().refused_full;
  return s;
}

std::unique_ptr<DoorConnection> ForwardDoor::NewConnection() {
  return std::make_unique<ForwardConn>(*this, *loop_, *client_);
}

}  // namespace strait::device
