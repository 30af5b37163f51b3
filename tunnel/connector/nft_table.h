// The connector's masquerade table (docs/ip-tunnel.md §6, docs/connector.md "Running the IP tunnel"): an nftables
// table of its own, `ip strait`, whose one chain rewrites the source of packets from the tunnel pool that leave by any
// interface but the connector's TUN, so corp hosts answer the connector's address and need no route to the pool.
//
//   table ip strait {
//     chain postrouting {
//       type nat hook postrouting priority srcnat; policy accept;
//       ip saddr 100.96.0.0/16 oifname != "strait-c0" masquerade
//     }
//   }
//
// Two layers: MasqueradeRuleset / RemoveRuleset build the text `nft -f -` reads (no I/O; tests check it), and
// RunNft / MasqueradeTable run the `nft` binary (posix_spawn, the ruleset on its stdin, no shell). Every ruleset is
// one nft transaction: installing declares the table, deletes it and declares it anew, so a table left by a
// connector that crashed is replaced atomically and a missing one is no error (nft 1.0.6, Debian 12, has no
// `destroy`). The kernel's conntrack keeps the replies flowing back to the right device.
//
// The table's name is fixed, so one masquerading connector per network namespace. Setup and exit only (blocking:
// each run waits for `nft`, at most NftOptions::timeout). Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "crypto/result.h"

namespace strait::connector {

inline constexpr std::string_view kNftFamily = "ip";
inline constexpr std::string_view kNftTable = "strait";

struct MasqueradeSpec {
  std::uint32_t pool_network = 0;  // host order
  int pool_prefix = 16;
  std::string tun_name;            // the connector's TUN: packets leaving by it are the tunnel's own, never rewritten
};

// The ruleset that (re)installs the table for `spec`. Fails on a prefix outside 0..32, host bits set, or an interface
// name nft cannot quote (empty, longer than 15 bytes, or with a quote, backslash, space or control byte).
Result<std::string, std::string> MasqueradeRuleset(const MasqueradeSpec& spec);
// The ruleset that removes the table, whether or not it exists.
std::string RemoveRuleset();

struct NftOptions {
  std::string binary;  // empty: `nft` from PATH, else /usr/sbin/nft, /sbin/nft
  std::chrono::milliseconds timeout{10000};  // for one run; then the process is killed and the run fails
};

struct NftRun {
  int status = -1;     // exit status (-1: killed or not run)
  std::string output;  // stdout and stderr together, at most 8 KiB kept
};

// Where the nft binary is, or an error that names the package to install.
Result<std::string, std::string> FindNft(const NftOptions& options);
// Runs `nft <args...>` (argv without the program) with `input` on its stdin and waits for it. Fails only when it
// cannot be started or does not finish in time; a non-zero exit is in NftRun::status.
Result<NftRun, std::string> RunNft(const std::string& binary, std::initializer_list<std::string_view> args,
                                   std::string_view input, std::chrono::milliseconds timeout);

// The installed table; the destructor removes it (errors then are returned by Remove() only). Own one per process.
class MasqueradeTable {
 public:
  // Installs the table (replacing a stale one). `replaced_stale` (optional) says whether one was there before. Errors
  // name the step: nft missing (with the package), a refused ruleset (nft's own message).
  static Result<std::unique_ptr<MasqueradeTable>, std::string> Install(const MasqueradeSpec& spec,
                                                                      const NftOptions& options,
                                                                      bool* replaced_stale = nullptr);
  ~MasqueradeTable();
  MasqueradeTable(const MasqueradeTable&) = delete;
  MasqueradeTable& operator=(const MasqueradeTable&) = delete;

  // Removes the table now (later calls and the destructor do nothing). Empty on success, else why.
  std::string Remove();

 private:
  MasqueradeTable(std::string binary, const NftOptions& options) : binary_(std::move(binary)), options_(options) {}
  std::string binary_;
  NftOptions options_;
  bool installed_ = true;
};

}  // namespace strait::connector
