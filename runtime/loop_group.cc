#include "runtime/loop_group.h"

namespace strait::runtime {

SetupResult<std::unique_ptr<LoopGroup>> LoopGroup::Start(std::size_t count, const LoopOptions& options,
                                                         InitFn init) {
  std::unique_ptr<LoopGroup> g(new LoopGroup());
  g->init_ = std::move(init);
  g->loops_.resize(count);
  g->threads_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    g->threads_.emplace_back([raw = g.get(), i, options] { raw->ThreadMain(i, options); });
  }
  std::unique_lock lock(g->mu_);
  g->cv_.wait(lock, [&] { return g->created_ == count; });
  if (g->failed_) {
    SetupError e = g->error_;
    lock.unlock();
    g->Stop();
    return e;
  }
  g->go_ = true;
  g->cv_.notify_all();
  g->cv_.wait(lock, [&] { return g->initialized_ == count; });
  return g;
}

void LoopGroup::ThreadMain(std::size_t index, const LoopOptions& options) {
  auto created = EventLoop::Create(options);
  bool run = false;
  {
    std::unique_lock lock(mu_);
    if (created) {
      loops_[index] = std::move(created.value());
    } else if (!failed_) {
      failed_ = true;
      error_ = created.error();
    }
    ++created_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return go_ || may_destroy_; });
    run = go_;
  }
  EventLoop* loop = loops_[index].get();
  if (run && loop != nullptr) {
    if (init_) init_(*this, *loop, index);
    {
      std::lock_guard guard(mu_);
      ++initialized_;
      cv_.notify_all();
    }
    loop->Run();
  }
  std::unique_lock lock(mu_);
  ++finished_running_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return may_destroy_; });
  lock.unlock();
  loops_[index].reset();  // destroyed on its own thread
}

void LoopGroup::Stop() {
  {
    std::unique_lock lock(mu_);
    if (threads_.empty()) return;
    if (!go_) {
      may_destroy_ = true;  // failed start: nothing ran
      cv_.notify_all();
    }
  }
  for (auto& l : loops_) {
    if (l) l->RequestStop();
  }
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_running_ == threads_.size(); });
    may_destroy_ = true;
    cv_.notify_all();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

LoopGroup::~LoopGroup() { Stop(); }

}  // namespace strait::runtime
