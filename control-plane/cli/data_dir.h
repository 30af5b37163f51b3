// strait-control's data directory (docs/control-plane.md §2): where each file lives, the one-process lock, and the
// reads that check a secret file's mode first. Used by `init` and `serve` only.
//
//   DIR/.lock                      flock()ed by init and serve: one process per data directory
//   DIR/secretbox.key      0600    the store's master key (store/sealed.h)
//   DIR/root/root.key      0600    the operator root (Ed25519, PEM), as `strait keys init-root` writes it
//   DIR/root/root.pub
//   DIR/tls-ca/ca.pem, ca.key 0600 the operator TLS CA: signs the control plane's certificate and every relay's
//   DIR/tls/cert.pem (leaf + CA), key.pem 0600
//   DIR/control.db (+ -wal, -shm) 0600
#pragma once

#include <string>

#include "crypto/result.h"

namespace strait::control::cli {

struct DataDir {
  explicit DataDir(std::string dir);
  std::string dir;
  std::string lock, secretbox_key, root_key, root_pub, ca_pem, ca_key, tls_cert, tls_key, db;
  std::string root_dir, ca_dir, tls_dir;
};

// Holds DIR/.lock with flock(LOCK_EX | LOCK_NB) until destroyed. Refused: "DIR is in use by another strait-control".
class DirLock {
 public:
  static Result<DirLock, std::string> Take(const DataDir& d);
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The whole file; a secret file that group or others may read is refused first ("chmod 600 ...").
Result<std::string, std::string> ReadTextFile(const std::string& path, bool secret, size_t max_bytes = 1 << 20);

}  // namespace strait::control::cli
