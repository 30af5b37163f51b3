#include "tunnel/device/sdk.h"

#include <algorithm>
#include <utility>

namespace strait::device::sdk {

// ---- Stream (any thread) ----

std::size_t Stream::Write(std::span<const std::uint8_t> bytes) {
  return valid() ? client_->WriteFrom(id_, bytes) : 0;
}

void Stream::CloseWrite() {
  if (valid()) client_->Submit({Client::Op::kCloseWrite, id_, {}, {}, nullptr});
}

void Stream::Reset() {
  if (valid()) client_->Submit({Client::Op::kReset, id_, {}, {}, nullptr});
}

// ---- Client: any-thread side ----

Client::Client(SdkOptions options, ClientObserver* observer) : options_(std::move(options)), observer_(observer) {}

Result<std::unique_ptr<Client>, std::string> Client::Create(SdkOptions options, ClientObserver* observer) {
  std::unique_ptr<Client> c(new Client(std::move(options), observer));
  std::promise<std::string> ready;
  std::future<std::string> f = ready.get_future();
  c->thread_ = std::thread([p = c.get(), &ready] { p->ThreadMain(&ready); });
  std::string err = f.get();
  if (!err.empty()) {
    c->thread_.join();
    return Fail(std::move(err));
  }
  return c;
}

Client::~Client() {
  Submit({Op::kStop, 0, {}, {}, nullptr});
  if (thread_.joinable()) thread_.join();
}

void Client::ThreadMain(std::promise<std::string>* ready) {
  auto loop = runtime::EventLoop::Create(options_.loop);
  if (!loop) {
    ready->set_value("event loop: " + loop.error().reason);
    return;
  }
  loop_ = loop->get();
  auto core = DeviceClient::Create(*loop_, options_.client, static_cast<ClientObserver*>(this));
  if (!core) {
    loop_ = nullptr;  // the loop dies with this function; ~Client must not post to it
    ready->set_value(core.error().reason);
    return;
  }
  core_ = std::move(core).value();
  loop_->SetMessageHandler(static_cast<runtime::MessageHandler*>(this));
  core_->Start();
  ready->set_value("");  // `ready` is gone after this
  loop_->Run();
  // Run() closed every connection; what is left is freed on this thread, as the loop requires.
  std::vector<std::uint64_t> ids;
  for (auto& [id, s] : streams_) ids.push_back(id);
  for (std::uint64_t id : ids) Finish(id, tunnel::ErrorCode::kCancelled);
  core_.reset();
  loop_->SetMessageHandler(nullptr);
  loop->reset();
  loop_ = nullptr;
}

Stream Client::OpenStream(std::string_view host, std::uint16_t port, StreamCallbacks* callbacks) {
  if (callbacks == nullptr) return {};
  std::optional<Target> t = MakeTarget(host, port);
  if (!t) return {};
  std::uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return {};
    id = next_id_++;
    shared_[id] = Shared{};
  }
  Submit({Op::kOpen, id, {}, *t, callbacks});
  return Stream(this, id);
}

std::size_t Client::WriteFrom(std::uint64_t id, std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return 0;
  std::size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = shared_.find(id);
    if (it == shared_.end() || stopping_) return 0;
    Shared& s = it->second;
    const std::size_t room = options_.max_unsent_bytes > s.unsent ? options_.max_unsent_bytes - s.unsent : 0;
    n = std::min(room, bytes.size());
    if (n < bytes.size()) s.blocked = true;
    if (n == 0) return 0;
    s.unsent += n;
    queue_.push_back({Op::kWrite, id, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + n), {}, nullptr});
  }
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    if (!loop_->Post({1, -1, 0, 0})) wake_pending_.store(false, std::memory_order_release);
  }
  return n;
}

void Client::Submit(Command c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (c.op == Op::kStop) stopping_ = true;
    queue_.push_back(std::move(c));
  }
  if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
    if (loop_ == nullptr || !loop_->Post({1, -1, 0, 0})) wake_pending_.store(false, std::memory_order_release);
  }
}

// ---- Client: loop side ----

void Client::OnMessage(runtime::EventLoop& /*loop*/, const runtime::Message& /*msg*/) {
  wake_pending_.store(false, std::memory_order_release);  // before taking the queue: no command is stranded
  std::vector<Command> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(queue_);
  }
  for (Command& c : batch) Run(c);
}

void Client::Run(Command& c) {
  switch (c.op) {
    case Op::kOpen: {
      LoopStream& s = streams_[c.id];
      s.callbacks = c.callbacks;
      s.token = core_->Open(c.target, static_cast<ClientStreamHandler*>(this));
      if (s.token == 0) {
        Finish(c.id, tunnel::ErrorCode::kOverloaded);
        return;
      }
      by_token_[s.token] = c.id;
      return;
    }
    case Op::kWrite: {
      auto it = streams_.find(c.id);
      if (it == streams_.end()) return;
      it->second.unsent.push_back(std::move(c.bytes));
      Drain(c.id);
      return;
    }
    case Op::kCloseWrite: {
      auto it = streams_.find(c.id);
      if (it == streams_.end()) return;
      it->second.fin_requested = true;
      Drain(c.id);
      return;
    }
    case Op::kReset: {
      auto it = streams_.find(c.id);
      if (it == streams_.end()) return;
      core_->Reset(it->second.token, tunnel::ErrorCode::kCancelled);
      Finish(c.id, tunnel::ErrorCode::kCancelled);
      return;
    }
    case Op::kStop:
      core_->Stop();  // fails every stream (OnClose) and the link
      loop_->RequestStop();
      return;
  }
}

void Client::Drain(std::uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  LoopStream& s = it->second;
  if (!s.opened) return;
  if (s.draining) {
    // Write -> FlushOutput -> OnStreamWritable -> here: the outer Drain goes round again.
    s.drain_again = true;
    return;
  }
  s.draining = true;
  std::size_t taken = 0;
  do {
    s.drain_again = false;
    while (s.unsent_head < s.unsent.size()) {
      const std::span<const std::uint8_t> chunk(s.unsent[s.unsent_head]);
      const std::size_t n = core_->Write(s.token, chunk.subspan(s.head_offset));
      if (streams_.find(id) == streams_.end()) return;  // a callback inside Write finished the stream
      taken += n;
      s.head_offset += n;
      if (s.head_offset < chunk.size()) break;  // no credit / outbox room: OnStreamWritable resumes
      s.head_offset = 0;
      ++s.unsent_head;
    }
  } while (s.drain_again);
  s.draining = false;
  if (s.unsent_head == s.unsent.size()) {
    s.unsent.clear();
    s.unsent_head = 0;
  }
  bool notify = false;
  if (taken > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    auto sh = shared_.find(id);
    if (sh != shared_.end()) {
      sh->second.unsent -= std::min(sh->second.unsent, taken);
      if (sh->second.blocked && sh->second.unsent < options_.max_unsent_bytes) {
        sh->second.blocked = false;
        notify = true;
      }
    }
  }
  if (s.fin_requested && !s.fin_sent && s.unsent.empty()) {
    if (core_->CloseWrite(s.token)) s.fin_sent = true;
  }
  StreamCallbacks* cb = s.callbacks;
  const bool done = s.fin_sent && s.fin_received;
  if (notify) cb->OnWritable();
  if (done) {
    core_->Forget(s.token);
    Finish(id, std::nullopt);
  }
}

void Client::Finish(std::uint64_t id, std::optional<tunnel::ErrorCode> reset) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  StreamCallbacks* cb = it->second.callbacks;
  by_token_.erase(it->second.token);
  streams_.erase(it);
  {
    std::lock_guard<std::mutex> lock(mu_);
    shared_.erase(id);
  }
  cb->OnClose(reset);
}

std::uint64_t Client::IdOf(StreamToken token) const {
  auto it = by_token_.find(token);
  return it == by_token_.end() ? 0 : it->second;
}

void Client::OnStreamOpened(StreamToken token) {
  const std::uint64_t id = IdOf(token);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.opened = true;
  it->second.callbacks->OnOpen();
  Drain(id);
}

void Client::OnStreamData(StreamToken token, std::span<const std::uint8_t> data) {
  const std::uint64_t id = IdOf(token);
  auto it = streams_.find(id);
  if (it != streams_.end()) it->second.callbacks->OnData(data);
  core_->Consume(token, data.size());
}

void Client::OnStreamFin(StreamToken token) {
  const std::uint64_t id = IdOf(token);
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  it->second.fin_received = true;
  it->second.callbacks->OnFin();
  Drain(id);
}

void Client::OnStreamWritable(StreamToken token) { Drain(IdOf(token)); }

void Client::OnStreamReset(StreamToken token, tunnel::ErrorCode code, bool /*session_lost*/) {
  const std::uint64_t id = IdOf(token);
  if (id == 0) return;
  by_token_.erase(token);
  Finish(id, code);
}

void Client::OnLinkUp(Path path, const runtime::SocketAddress& addr) {
  if (observer_) observer_->OnLinkUp(path, addr);
}
void Client::OnLinkDown(Path path, const link::LinkDown& down) {
  if (observer_) observer_->OnLinkDown(path, down);
}
void Client::OnSessionUp(std::string_view connector_id, Path path) {
  session_up_.store(true, std::memory_order_release);
  sessions_.fetch_add(1, std::memory_order_acq_rel);
  if (observer_) observer_->OnSessionUp(connector_id, path);
}
void Client::OnSessionDown(tunnel::ErrorCode code, std::string_view reason) {
  session_up_.store(false, std::memory_order_release);
  if (observer_) observer_->OnSessionDown(code, reason);
}

}  // namespace strait::device::sdk
