#include "runtime/ring.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace strait::runtime {
namespace {

// Tries one flag set; returns 0 or -errno.
int TryInit(io_uring* ring, const RingOptions& options, unsigned flags) {
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_CQSIZE;
  params.cq_entries = options.cq_entries;
  return io_uring_queue_init_params(options.sq_entries, ring, &params);
}

// Registers and unregisters a one-entry buffer ring: the only reliable test for provided buffer rings, which
// io_uring_get_probe cannot report (they are a register opcode, not an SQE opcode).
bool ProbeBufRing(io_uring* ring) {
  const std::size_t size = 4096;
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return false;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = 1;
  reg.bgid = 0xfff0;
  const bool ok = io_uring_register_buf_ring(ring, &reg, 0) == 0;
  if (ok) io_uring_unregister_buf_ring(ring, reg.bgid);
  munmap(mem, size);
  return ok;
}

}  // namespace

std::string Features::Describe() const {
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "single_issuer=%s defer_taskrun=%s coop_taskrun=%s ext_arg=%s nodrop=%s fast_poll=%s "
                "multishot_accept=%s multishot_recv=%s buf_ring=%s send_zc=%s msg_ring=%s cancel_fd=%s "
                "shutdown=%s close=%s registered_ring_fd=%s",
                yn(single_issuer), yn(defer_taskrun), yn(coop_taskrun), yn(ext_arg), yn(nodrop), yn(fast_poll),
                yn(multishot_accept), yn(multishot_recv), yn(buf_ring), yn(send_zc), yn(msg_ring), yn(cancel_fd),
                yn(shutdown), yn(close), yn(registered_ring_fd));
  return buf;
}

SetupResult<std::unique_ptr<Ring>> Ring::Create(const RingOptions& options) {
  std::unique_ptr<Ring> r(new Ring());
  const FeatureMask& allow = options.allow;

  // Most capable first; each step drops the flag most likely to be refused by an older kernel.
  unsigned want = IORING_SETUP_SUBMIT_ALL;
  if (allow.coop_taskrun) want |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  if (allow.single_issuer) want |= IORING_SETUP_SINGLE_ISSUER;
  if (allow.single_issuer && allow.defer_taskrun) want |= IORING_SETUP_DEFER_TASKRUN;
  const unsigned attempts[] = {
      want,
      want & ~IORING_SETUP_DEFER_TASKRUN,
      want & ~(IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER),
      want & ~(IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
               IORING_SETUP_TASKRUN_FLAG),
      0u,
  };
  int rc = -EINVAL;
  unsigned used = 0;
  for (unsigned flags : attempts) {
    rc = TryInit(&r->ring_, options, flags);
    if (rc == 0) {
      used = flags;
      break;
    }
    if (rc != -EINVAL) break;  // ENOMEM, EPERM (io_uring disabled), ...: more attempts will not help
  }
  if (rc != 0) return SetupError{-rc, "io_uring_queue_init_params failed"};

  Features& f = r->features_;
  f.setup_flags = used;
  f.single_issuer = (used & IORING_SETUP_SINGLE_ISSUER) != 0;
  f.defer_taskrun = (used & IORING_SETUP_DEFER_TASKRUN) != 0;
  f.coop_taskrun = (used & IORING_SETUP_COOP_TASKRUN) != 0;
  f.ext_arg = (r->ring_.features & IORING_FEAT_EXT_ARG) != 0;
  f.nodrop = (r->ring_.features & IORING_FEAT_NODROP) != 0;
  f.fast_poll = (r->ring_.features & IORING_FEAT_FAST_POLL) != 0;

  io_uring_probe* probe = io_uring_get_probe_ring(&r->ring_);
  if (probe == nullptr) return SetupError{ENOSYS, "io_uring_get_probe failed (kernel older than 5.6)"};
  auto has = [&](int op) { return io_uring_opcode_supported(probe, op) != 0; };
  const bool required = has(IORING_OP_ACCEPT) && has(IORING_OP_RECV) && has(IORING_OP_SEND) &&
                        has(IORING_OP_CONNECT) && has(IORING_OP_READ) && has(IORING_OP_ASYNC_CANCEL);
  f.connect = has(IORING_OP_CONNECT);
  f.shutdown = has(IORING_OP_SHUTDOWN);
  f.close = has(IORING_OP_CLOSE);
  f.msg_ring = allow.msg_ring && has(IORING_OP_MSG_RING);
  f.send_zc = allow.send_zc && has(IORING_OP_SEND_ZC);
  // Flags are not in the opcode probe. Multishot accept and ASYNC_CANCEL_FD|ALL came in 5.19 with
  // IORING_OP_SOCKET; multishot recv came in 6.0 with IORING_OP_SEND_ZC: the opcodes stand in for the flags.
  f.multishot_accept = allow.multishot_accept && has(IORING_OP_SOCKET);
  f.cancel_fd = has(IORING_OP_SOCKET);
  f.buf_ring = allow.buf_ring && ProbeBufRing(&r->ring_);
  f.multishot_recv = allow.multishot_recv && f.buf_ring && has(IORING_OP_SEND_ZC);
  io_uring_free_probe(probe);
  if (!required) return SetupError{ENOSYS, "kernel lacks a required io_uring op (accept/recv/send/connect/read)"};

  f.registered_ring_fd = io_uring_register_ring_fd(&r->ring_) == 1;
  return r;
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* Ring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  // SQ full: hand the batch to the kernel and take a fresh entry. With SUBMIT_ALL the whole batch is consumed.
  for (int i = 0; i < 8 && sqe == nullptr; ++i) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr) {
    std::fprintf(stderr, "strait runtime: io_uring SQ stuck full\n");
    std::abort();
  }
  return sqe;
}

}  // namespace strait::runtime
