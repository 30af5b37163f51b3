#include "control-plane/events/hub.h"

#include <algorithm>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunnel/control/control_wire.h"

namespace strait::control::events {

std::string EventLine(const store::EventRecord& e) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line[wire::kEventIdField] = std::to_string(e.id);
  line[wire::kEventAtField] = wire::FormatTime(static_cast<uint64_t>(e.at));
  nlohmann::ordered_json body = nlohmann::ordered_json::parse(e.body, nullptr, false);
  if (body.is_object()) {
    for (auto& [k, v] : body.items()) {
      if (k != wire::kEventIdField && k != wire::kEventAtField) line[k] = v;
    }
  }
  if (!line.contains(wire::kEventTypeField)) line[wire::kEventTypeField] = e.type;
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Stream::Stream(Hub* hub, std::string subject, Filter filter, store::EventId after)
    : hub_(hub), subject_(std::move(subject)), filter_(std::move(filter)), cursor_(after),
      last_sent_(std::chrono::steady_clock::now()) {}

void Stream::Next(std::function<void(std::optional<std::string>)> deliver) { hub_->Request(this, std::move(deliver)); }

void Stream::Cancel() { hub_->Remove(this); }

Hub::Hub(store::Store* store, HubOptions options) : store_(store), options_(options) {
  ring_last_ = store_->LastEventId();
  pump_ = std::thread([this] { Pump(); });
}

Hub::~Hub() {
  Shutdown();
  if (pump_.joinable()) pump_.join();
}

std::shared_ptr<Stream> Hub::Open(const std::string& subject, Filter filter, store::EventId after) {
  std::function<void(std::optional<std::string>)> end_oldest;
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return nullptr;
    streams_.remove_if([](const std::weak_ptr<Stream>& w) { return w.expired(); });
    size_t same = 0;
    for (const auto& w : streams_) {
      if (auto x = w.lock(); x && x->subject_ == subject) ++same;
    }
    if (same >= options_.max_per_subject) {
      for (auto it = streams_.begin(); it != streams_.end(); ++it) {
        auto x = it->lock();
        if (!x || x->subject_ != subject) continue;
        x->ended_ = true;
        end_oldest = std::move(x->deliver_);
        x->deliver_ = nullptr;
        streams_.erase(it);
        ++replaced_;
        break;
      }
    } else if (streams_.size() >= options_.max_streams) {
      return nullptr;
    }
    s = std::make_shared<Stream>(this, subject, std::move(filter), after);
    streams_.push_back(s);
  }
  if (end_oldest) end_oldest(std::nullopt);
  return s;
}

void Hub::Notify() {
  std::lock_guard lock(mu_);
  notified_ = true;
  wake_.notify_one();
}

void Hub::Shutdown() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  wake_.notify_one();
}

size_t Hub::streams() const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(streams_.begin(), streams_.end(),
                                           [](const std::weak_ptr<Stream>& w) { return !w.expired(); }));
}

uint64_t Hub::replaced() const {
  std::lock_guard lock(mu_);
  return replaced_;
}

void Hub::Request(Stream* s, std::function<void(std::optional<std::string>)> deliver) {
  {
    std::lock_guard lock(mu_);
    if (!s->ended_ && !stopping_) {
      s->deliver_ = std::move(deliver);
      wake_.notify_one();
      return;
    }
  }
  deliver(std::nullopt);
}

void Hub::Remove(Stream* s) {
  std::lock_guard lock(mu_);
  s->ended_ = true;
  s->deliver_ = nullptr;
  streams_.remove_if([s](const std::weak_ptr<Stream>& w) {
    auto x = w.lock();
    return !x || x.get() == s;
  });
}

std::optional<std::string> Hub::Serve(Stream& s, std::unique_lock<std::mutex>& lock) {
  std::string chunk;
  auto take = [&](const store::EventRecord& e) {
    s.cursor_ = e.id;
    if (s.filter_.Accepts(e)) chunk += EventLine(e);
  };
  while (chunk.size() < options_.max_chunk_bytes && s.cursor_ < ring_last_) {
    if (!ring_.empty() && s.cursor_ + 1 >= ring_.front().id) {
      // From the ring: the first event after the cursor.
      auto it = std::lower_bound(ring_.begin(), ring_.end(), s.cursor_ + 1,
                                 [](const store::EventRecord& e, store::EventId id) { return e.id < id; });
      for (; it != ring_.end() && chunk.size() < options_.max_chunk_bytes; ++it) take(*it);
      continue;
    }
    // Behind the ring: a page from the store, without the lock.
    const store::EventId after = s.cursor_;
    const store::EventId limit_id = ring_last_;
    lock.unlock();
    std::vector<store::EventRecord> page;
    if (auto tx = store_->Read()) {
      if (auto events = (*tx)->ReadEvents(after, options_.store_page)) page = std::move(*events);
    }
    lock.lock();
    if (page.empty() || s.ended_) break;  // a store error: try again at the next wake
    for (const auto& e : page) {
      if (e.id > limit_id || chunk.size() >= options_.max_chunk_bytes) break;
      take(e);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (!chunk.empty()) {
    s.last_sent_ = now;
    return chunk;
  }
  if (now - s.last_sent_ >= options_.heartbeat_interval) {
    s.last_sent_ = now;
    nlohmann::ordered_json hb = {{wire::kEventTypeField, wire::kEventHeartbeat},
                                 {wire::kEventIdField, std::to_string(s.cursor_)}};
    return hb.dump() + "\n";
  }
  return std::nullopt;
}

store::EventId Hub::RingFirstId() const {
  std::lock_guard lock(mu_);
  return ring_.empty() ? ring_last_ + 1 : ring_.front().id;
}

void Hub::Pump() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, std::min<std::chrono::milliseconds>(options_.heartbeat_interval, std::chrono::seconds(1)));
    if (stopping_) break;
    if (notified_ || store_->LastEventId() > ring_last_) {
      notified_ = false;
      // New events: read them into the ring (pages, without the lock).
      while (store_->LastEventId() > ring_last_) {
        const store::EventId after = ring_last_;
        lock.unlock();
        std::vector<store::EventRecord> page;
        if (auto tx = store_->Read()) {
          if (auto events = (*tx)->ReadEvents(after, options_.store_page)) page = std::move(*events);
        }
        lock.lock();
        if (page.empty()) break;
        for (auto& e : page) {
          ring_last_ = e.id;
          ring_.push_back(std::move(e));
        }
        while (ring_.size() > options_.ring_events) ring_.pop_front();
      }
    }
    std::vector<std::pair<std::function<void(std::optional<std::string>)>, std::string>> ready;
    for (const auto& w : streams_) {
      auto s = w.lock();
      if (!s || !s->deliver_ || s->ended_) continue;
      if (auto chunk = Serve(*s, lock); chunk && s->deliver_ && !s->ended_) {
        ready.emplace_back(std::move(s->deliver_), std::move(*chunk));
        s->deliver_ = nullptr;
      }
    }
    if (!ready.empty()) {
      lock.unlock();
      for (auto& [deliver, chunk] : ready) deliver(std::move(chunk));
      lock.lock();
    }
  }
  // Stopping: every waiting stream ends.
  std::vector<std::function<void(std::optional<std::string>)>> waiting;
  for (const auto& w : streams_) {
    if (auto s = w.lock(); s && s->deliver_) waiting.push_back(std::move(s->deliver_));
  }
  streams_.clear();
  lock.unlock();
  for (auto& d : waiting) d(std::nullopt);
}

}  // namespace strait::control::events
