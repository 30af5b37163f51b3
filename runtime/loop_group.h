// LoopGroup: N threads, one EventLoop each (shard per core), created, run and destroyed on their own threads as
// SINGLE_ISSUER requires.
//
// Lifecycle: Start() returns once every loop exists and every `init` has run (or one failed). Stop() asks every
// loop to stop, waits until all Run()s have returned, and only then lets the threads destroy their loops, so a
// loop that posts to another during shutdown never targets a destroyed loop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"

namespace strait::runtime {

class LoopGroup {
 public:
  // Called on loop i's thread before its Run(), after all loops exist (group.loop(j) is valid for every j): wire
  // handlers, Listen, etc.
  using InitFn = std::function<void(LoopGroup& group, EventLoop& loop, std::size_t index)>;

  // [any] Starts `count` loops with `options`. Fails if any loop fails to create.
  static SetupResult<std::unique_ptr<LoopGroup>> Start(std::size_t count, const LoopOptions& options, InitFn init);
  ~LoopGroup();  // Stop()

  // [any] Valid until Stop() returns. Only loop(i)'s own thread may call its [loop] functions.
  EventLoop& loop(std::size_t i) { return *loops_[i]; }
  std::size_t size() const { return loops_.size(); }

  // [any, not from a loop thread] Stops and joins every loop. Idempotent.
  void Stop();

 private:
  LoopGroup() = default;
  void ThreadMain(std::size_t index, const LoopOptions& options);

  InitFn init_;
  std::vector<std::unique_ptr<EventLoop>> loops_;  // written by each thread before the ready barrier
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::size_t created_ = 0;
  std::size_t initialized_ = 0;
  std::size_t finished_running_ = 0;
  bool failed_ = false;
  bool go_ = false;
  bool may_destroy_ = false;
  SetupError error_;
};

}  // namespace strait::runtime
