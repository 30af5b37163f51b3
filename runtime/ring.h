// Ring: one io_uring instance, set up once with the best flags the kernel accepts, and the feature probe.
//
// Setup tries IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN (+ SUBMIT_ALL, CQSIZE) and degrades step by
// step when the kernel refuses (EINVAL): first without DEFER_TASKRUN, then without SINGLE_ISSUER, then without
// COOP_TASKRUN. The flags that stuck are in Features::setup_flags.
//
// Threading: a Ring belongs to the thread that created it. With SINGLE_ISSUER the kernel enforces this (submissions
// from another task fail with EEXIST), so every Ring method must be called on the creating thread.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/setup_error.h"

namespace strait::runtime {

// What this kernel (and this liburing) can do. Probed once per ring; every field has a fallback in the loop.
struct Features {
  unsigned setup_flags = 0;       // IORING_SETUP_* flags the ring was created with
  bool single_issuer = false;
  bool defer_taskrun = false;
  bool coop_taskrun = false;
  bool ext_arg = false;           // IORING_FEAT_EXT_ARG: wait with a timeout without a timeout SQE
  bool nodrop = false;            // IORING_FEAT_NODROP: CQ overflow is kept, not dropped
  bool fast_poll = false;
  bool multishot_accept = false;  // IORING_ACCEPT_MULTISHOT (5.19); else single-shot accept re-armed
  bool multishot_recv = false;    // IORING_RECV_MULTISHOT (6.0); else single-shot recv re-armed
  bool buf_ring = false;          // provided buffer rings (5.19); else recv into a pooled buffer
  bool send_zc = false;           // IORING_OP_SEND_ZC (6.0); else plain send
  bool msg_ring = false;          // IORING_OP_MSG_RING (5.18); else eventfd doorbell
  bool cancel_fd = false;         // IORING_ASYNC_CANCEL_FD|ALL (5.19); else cancel by user_data
  bool shutdown = false;          // IORING_OP_SHUTDOWN; else shutdown(2)
  bool close = false;             // IORING_OP_CLOSE; else close(2)
  bool connect = false;           // IORING_OP_CONNECT (required)
  bool registered_ring_fd = false;

  std::string Describe() const;   // one line, "name=yes/no ..." for logs and test output
};

// Which features the caller allows. Turning one off forces the fallback path (tests use this to cover fallbacks;
// operators can use it to work around a kernel bug). Defaults allow everything the kernel has.
struct FeatureMask {
  bool single_issuer = true;
  bool defer_taskrun = true;
  bool coop_taskrun = true;
  bool multishot_accept = true;
  bool multishot_recv = true;
  bool buf_ring = true;
  bool send_zc = true;
  bool msg_ring = true;
};

struct RingOptions {
  unsigned sq_entries = 1024;   // power of two; submissions are flushed when the SQ fills
  unsigned cq_entries = 16384;  // CQ holds completions of many multishot ops between two batches
  FeatureMask allow;
};

class Ring {
 public:
  // Creates and probes a ring on the calling thread. Fails with the errno of io_uring_queue_init_params when no
  // combination of flags is accepted, or when a required op (connect, accept, send, recv) is missing.
  static SetupResult<std::unique_ptr<Ring>> Create(const RingOptions& options);

  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* raw() { return &ring_; }
  int fd() const { return ring_.ring_fd; }
  const Features& features() const { return features_; }

  // Returns a free SQE, flushing the SQ with io_uring_submit when it is full. Never returns null: if the kernel
  // cannot take any SQE (only under memory exhaustion) it aborts, since every caller would otherwise leak state.
  io_uring_sqe* GetSqe();

 private:
  Ring() = default;
  io_uring ring_{};
  Features features_;
};

}  // namespace strait::runtime
