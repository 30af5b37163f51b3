#include "tunnel/device/socks5_door.h"

#include <netinet/in.h>

#include <optional>
#include <utility>

#include "tunnel/device/socks5.h"
#include "tunnel/device/socks5_handshake.h"
#include "tunnel/link/stream_pump.h"

namespace strait::device {

// One SOCKS5 client connection: the SOCKS exchange, then a stream pump. It is the connection's handler for its
// whole life and forwards the runtime's callbacks to the pump once the stream is open.
class Socks5Conn final : public DoorConnection,
                         public runtime::ConnectionHandler,
                         public ClientStreamHandler,
                         public link::StreamPumpHost,
                         private runtime::TimerHandler {
 public:
  Socks5Conn(Socks5Door& door, runtime::EventLoop& loop, DeviceClient& client)
      : door_(door), loop_(loop), client_(client) {}
  ~Socks5Conn() override {
    if (timer_.valid()) loop_.CancelTimer(timer_);
    if (token_ != 0) client_.Forget(token_);
  }

  bool Start(int fd) override {
    // A client socket is a flow-controlled stream: it keeps no receive buffer while paused (docs/runtime.md,
    // "Who holds receive buffers"); what it cannot pass on yet is copied into the handshake's held bytes or the
    // pump's backlog.
    conn_ = loop_.Adopt(fd, this, 0, runtime::RecvMode::kNoHold);
    if (!conn_.valid()) return false;
    (void)runtime::SetTcpNoDelay(fd);
    timer_ = loop_.AddTimer(door_.options_.handshake_timeout, this);
    return true;
  }
  void Abort() override {
    if (pump_) {
      pump_->Abort(tunnel::ErrorCode::kCancelled);
    } else if (conn_.valid() && !closing_) {
      closing_ = true;
      loop_.Close(conn_, runtime::CloseMode::kAbort);
    }
  }

  // ---- runtime::ConnectionHandler ----
  void OnData(runtime::EventLoop& loop, runtime::ConnId id, runtime::Buffer data) override {
    if (pump_) {
      pump_->OnData(loop, id, std::move(data));
      return;
    }
    if (closing_) return;
    // In kOpening reads are paused; these are bytes the kernel had delivered before the pause took effect
    // (kNoHold): the handshake holds them.
    Apply(shake_.OnData(data.data()));
  }
  void OnReadClosed(runtime::EventLoop& loop, runtime::ConnId id) override {
    if (pump_) {
      pump_->OnReadClosed(loop, id);
      return;
    }
    Apply(shake_.OnReadClosed());
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
    door_.listener_->Retire(this);
  }

  // ---- ClientStreamHandler ----
  void OnStreamOpened(StreamToken /*token*/) override {
    ++door_.stats_.open_ok;
    Socks5Handshake::Opened opened = shake_.OnOpened();
    pump_ = std::make_unique<link::StreamPump>(loop_, *this, client_.MuxStreamId(token_));
    pump_->Attach(conn_);
    // Through the pump, so that the reply goes out before any stream byte even when the loop's send buffers are
    // all taken (the reply was once dropped then, and the client read stream bytes as the reply).
    pump_->SendControl(opened.reply.bytes());
    if (!opened.held.empty()) {
      pump_->TakeBytes(opened.held);  // may pause again if the stream cannot take it all
    } else if (!opened.eof) {
      loop_.ResumeRecv(conn_);
    }
    if (opened.eof && pump_) pump_->OnReadClosed(loop_, conn_);
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
  void OnTimer(runtime::EventLoop& /*loop*/, runtime::TimerId /*id*/, std::uint64_t /*arg*/) override {
    timer_ = {};
    ++door_.stats_.handshake_timeouts;
    Abort();
  }
  // Does what the handshake decided.
  void Apply(Socks5Handshake::Step step) {
    if (step.protocol_error) ++door_.stats_.protocol_errors;
    if (!step.send.empty()) (void)loop_.Send(conn_, step.send);
    switch (step.then) {
      case Socks5Handshake::Step::Then::kNone: return;
      case Socks5Handshake::Step::Then::kCloseGracefully: CloseGracefully(); return;
      case Socks5Handshake::Step::Then::kAbort: Abort(); return;
      case Socks5Handshake::Step::Then::kOpen:
        if (timer_.valid()) loop_.CancelTimer(timer_);
        timer_ = {};
        loop_.PauseRecv(conn_);
        ++door_.stats_.opens;
        token_ = client_.Open(shake_.target(), this);
        if (token_ == 0) Fail(tunnel::ErrorCode::kOverloaded);
        return;
    }
  }
  void Fail(tunnel::ErrorCode code) {
    ++door_.stats_.open_failed;
    Socks5Handshake::Step step = shake_.OnOpenFailed(code);
    if (!conn_.valid() || closing_) return;
    (void)loop_.Send(conn_, step.send);
    CloseGracefully();
  }
  void CloseGracefully() {
    if (!conn_.valid() || closing_) return;
    closing_ = true;
    loop_.Close(conn_, runtime::CloseMode::kGraceful);
  }

  Socks5Door& door_;
  runtime::EventLoop& loop_;
  DeviceClient& client_;
  runtime::ConnId conn_;
  runtime::TimerId timer_;
  bool closing_ = false;
  Socks5Handshake shake_;  // the SOCKS exchange and the open: what to send, hold and do
  StreamToken token_ = 0;
  std::unique_ptr<link::StreamPump> pump_;
};

// ---------------------------------------------------------------------------------------------------------------

Socks5Door::Socks5Door(runtime::EventLoop& loop, DeviceClient& client, const Socks5DoorOptions& options)
    : loop_(&loop), client_(&client), options_(options) {}

Result<std::unique_ptr<Socks5Door>, std::string> Socks5Door::Create(runtime::EventLoop& loop, DeviceClient& client,
                                                                   const Socks5DoorOptions& options) {
  std::unique_ptr<Socks5Door> d(new Socks5Door(loop, client, options));
  auto listener = DoorListener::Create(loop, *d, options.listen, options.max_connections, "socks");
  if (!listener) return Fail(listener.error());
  d->listener_ = std::move(*listener);
  return d;
}

Socks5Door::~Socks5Door() = default;

void Socks5Door::Close() { listener_->Close(); }

Socks5DoorStats Socks5Door::stats() const {
  Socks5DoorStats s = stats_;
  s.accepted = listener_->stats().accepted;
  s.refused_full = listener_->stats().refused_full;
  return s;
}

std::unique_ptr<DoorConnection> Socks5Door::NewConnection() {
  return std::make_unique<Socks5Conn>(*this, *loop_, *client_);
}

}  // namespace strait::device
