// Files that hold secrets, and the public files written beside them: the atomic writer and the mode check that
// every secret read goes through. Part of strait_crypto_core (libsodium + fmt, no TLS library), so `strait keys`
// (crypto/keystore.h, BoringSSL process) and strait-control (OpenSSL 3 process) write and refuse key files by the
// same rules (docs/control-plane.md §1).
//
// Writing. The file is created next to its destination under a random temporary name (O_CREAT|O_EXCL|O_NOFOLLOW)
// with its final mode from the first byte: a secret (FileAccess::kSecret, 0600) is never readable by others, not
// even briefly. Then write, fsync, close, rename onto `path`, fsync of the directory. Nothing is overwritten unless
// the caller passes Overwrite::kReplace; the refusal is atomic (renameat2 RENAME_NOREPLACE, or link() where the
// filesystem lacks it), not check-then-write. On failure no temporary file is left behind and an existing file at
// `path` is untouched.
//
// Reading. A secret file that group or others may access in any way is refused (CheckSecretFileMode), with a
// reason that says `chmod 600 <path>`; the readers (crypto/keystore.h) call it after fstat.
//
// Thread-safety: free functions; no shared state. Errors carry the path and what was wrong, never file contents.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/result.h"

namespace strait::crypto {

enum class FileError : uint8_t {
  kNotFound,             // the directory to write into does not exist
  kIo,                   // a system call failed (reason carries strerror)
  kExists,               // refusing to overwrite an existing file
  kInsecurePermissions,  // a secret file that group or others may access
};
using FileResultError = Error<FileError>;

enum class Overwrite : uint8_t {
  kRefuse,   // fail with kExists if the path exists (the default everywhere)
  kReplace,  // atomically replace an existing file (`--force`)
};

enum class FileAccess : uint8_t {
  kSecret,  // 0600: keys, TLS private keys, sealing keys
  kPublic,  // 0644 less the umask: public keys, certificates, credentials
};

// Writes `contents` to `path` atomically as described at the top. The directory must exist (kNotFound if not).
Result<void, FileResultError> WriteFileAtomic(const std::string& path, std::string_view contents, FileAccess access,
                                              Overwrite overwrite);

// Ok unless `st_mode` (from stat/fstat of the secret file at `path`) grants group or others any access:
// kInsecurePermissions then, its reason naming the mode and the chmod that fixes it.
Result<void, FileResultError> CheckSecretFileMode(const std::string& path, mode_t st_mode);

// Creates the directory `path` and any missing parents with mode 0700 (less the umask). Ok if it already exists as
// a directory (its mode is left as it is); kIo if it exists as anything else or cannot be made.
Result<void, FileResultError> EnsurePrivateDirectory(const std::string& path);

// True if anything (a file, a directory, a dangling symlink) exists at `path` (lstat).
bool PathExists(const std::string& path);

}  // namespace strait::crypto
