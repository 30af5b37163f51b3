#include "tunnel/device/client_streams.h"

#include <algorithm>

namespace strait::device {

StreamToken ClientStreams::Add(const Target& target, ClientStreamHandler* handler, std::int64_t deadline_ns) {
  if (waiting_.size() >= max_waiting_) return 0;
  const StreamToken token = next_token_++;
  Entry& e = streams_[token];
  e.handler = handler;
  e.target = target;
  e.deadline_ns = deadline_ns;
  waiting_.push_back(token);
  return token;
}

ClientStreams::Entry* ClientStreams::Find(StreamToken token) {
  auto it = streams_.find(token);
  return it == streams_.end() ? nullptr : &it->second;
}

const ClientStreams::Entry* ClientStreams::Find(StreamToken token) const {
  auto it = streams_.find(token);
  return it == streams_.end() ? nullptr : &it->second;
}

StreamToken ClientStreams::TokenOf(tunnel::StreamId id) const {
  auto it = by_mux_.find(id);
  return it == by_mux_.end() ? 0 : it->second;
}

void ClientStreams::Bind(StreamToken token, tunnel::StreamId id) {
  Entry* e = Find(token);
  if (e == nullptr || id == 0) return;
  e->mux_id = id;
  by_mux_[id] = token;
}

std::optional<ClientStreams::Entry> ClientStreams::Erase(StreamToken token) {
  auto it = streams_.find(token);
  if (it == streams_.end()) return std::nullopt;
  Entry e = it->second;
  if (e.mux_id != 0) by_mux_.erase(e.mux_id);
  streams_.erase(it);
  return e;  // a waiting one leaves its queue place lazily
}

std::vector<StreamToken> ClientStreams::Unbind() {
  std::vector<StreamToken> bound;
  for (auto& [token, e] : streams_) {
    if (e.mux_id != 0) bound.push_back(token);
  }
  std::sort(bound.begin(), bound.end());
  by_mux_.clear();
  return bound;
}

StreamToken ClientStreams::FrontWaiting() {
  while (!waiting_.empty()) {
    const Entry* e = Find(waiting_.front());
    if (e != nullptr && e->mux_id == 0) return waiting_.front();
    waiting_.pop_front();
  }
  return 0;
}

std::vector<StreamToken> ClientStreams::TakeExpired(std::int64_t now_ns) {
  std::vector<StreamToken> expired;
  for (;;) {
    const StreamToken t = FrontWaiting();
    const Entry* e = t == 0 ? nullptr : Find(t);
    if (e == nullptr || e->deadline_ns > now_ns) break;
    expired.push_back(t);
    waiting_.pop_front();
  }
  return expired;
}

}  // namespace strait::device
