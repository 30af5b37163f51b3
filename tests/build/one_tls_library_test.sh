#!/usr/bin/env bash
# One TLS library per process (docs/control-plane.md §1, design.md "Dependencies"): the data plane links BoringSSL
# (Debian's android-libboringssl: libssl.so.0 / libcrypto.so.0 under /usr/lib/<arch>/android), strait-control links
# OpenSSL 3 (libssl.so.3 / libcrypto.so.3), and no executable links both. A carve-out that drags the wrong library in
# fails here, not at a customer's.
#
# Usage (tests/build/CMakeLists.txt passes every path from generator expressions):
#   one_tls_library_test.sh --strait BIN --control=BIN|--control= --tls-free BIN [--bench BIN]...
#                           [--control-tool BIN]...
#     --strait    must link BoringSSL and no OpenSSL 3.
#     --bench     may link BoringSSL (the linker drops it from tools that use none of it), never OpenSSL 3.
#     --control-tool  a bench tool of the control plane (bench/control/): like strait-control, OpenSSL 3 and no
#                 BoringSSL.
#     --control   strait-control: must link OpenSSL 3 and no BoringSSL. Empty while the target does not exist: that
#                 half is skipped, with a line saying so.
#     --tls-free  the executable linking only strait_crypto_core + strait_policy: no libssl, no libcrypto at all.
set -euo pipefail

strait="" control="" tls_free="" benches=() control_tools=()
while (($#)); do
  case "$1" in
    --strait) strait=$2; shift 2 ;;
    --control=*) control=${1#--control=}; shift ;;  # one argument even when empty (CMake drops empty ones)
    --tls-free) tls_free=$2; shift 2 ;;
    --bench) benches+=("$2"); shift 2 ;;
    --control-tool) control_tools+=("$2"); shift 2 ;;
    *) echo "usage: $0 --strait BIN --control=[BIN] --tls-free BIN [--bench BIN]... [--control-tool BIN]..." >&2
       exit 2 ;;
  esac
done
[[ -n $strait && -n $tls_free ]] || { echo "--strait and --tls-free are required" >&2; exit 2; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Prints one line per TLS library the binary loads: "<kind> <soname> <resolved path>", kind boringssl, openssl or
# unresolved. ldd, not only readelf -d's NEEDED entries: a shared library that pulls OpenSSL in (libcurl, say)
# puts it in the process just as surely, and ldd shows which file the loader picks (the RUNPATH decides).
tls_libraries() {
  local bin=$1 name path
  while read -r name path; do
    if [[ -z $path || $path == not ]]; then echo "unresolved $name -"; continue; fi
    path=$(readlink -f "$path")
    if [[ $path == */android/* ]]; then echo "boringssl $name $path"; else echo "openssl $name $path"; fi
  done < <(ldd "$bin" | awk '$1 ~ /^lib(ssl|crypto)\.so/ { print $1, $3 }')
}

# check BIN EXPECT: EXPECT is boringssl (required, nothing else), boringssl-or-none, openssl (required, nothing
# else) or none.
check() {
  local bin=$1 expect=$2 libs
  if [[ ! -x $bin ]]; then fail "$bin: not built"; return; fi
  libs=$(tls_libraries "$bin")
  local has_boring=0 has_openssl=0
  grep -q '^boringssl ' <<<"$libs" && has_boring=1
  grep -q '^openssl ' <<<"$libs" && has_openssl=1
  if grep -q '^unresolved ' <<<"$libs"; then fail "$bin: unresolved TLS library: $(grep '^unresolved ' <<<"$libs")"; fi
  case $expect in
    boringssl)
      ((has_boring)) || fail "$bin: does not link BoringSSL"
      ((has_openssl)) && fail "$bin: links OpenSSL: $(grep '^openssl ' <<<"$libs" | tr '\n' ' ')" ;;
    boringssl-or-none)
      ((has_openssl)) && fail "$bin: links OpenSSL: $(grep '^openssl ' <<<"$libs" | tr '\n' ' ')" ;;
    openssl)
      grep -q '^openssl libssl\.so\.3 ' <<<"$libs" || fail "$bin: does not link libssl.so.3"
      ((has_boring)) && fail "$bin: links BoringSSL: $(grep '^boringssl ' <<<"$libs" | tr '\n' ' ')" ;;
    none)
      [[ -z $libs ]] || fail "$bin: links a TLS library: $(tr '\n' ' ' <<<"$libs")" ;;
  esac
  echo "$(basename "$bin"): ${libs:-no TLS library}" | tr '\n' ' '
  echo
}

check "$strait" boringssl
for b in "${benches[@]}"; do check "$b" boringssl-or-none; done
for b in "${control_tools[@]}"; do check "$b" openssl; done
check "$tls_free" none
if [[ -n $control ]]; then
  check "$control" openssl
else
  echo "skip: strait-control is not a target of this build yet, so its half (OpenSSL 3, no BoringSSL) is not checked"
fi

if ((failures)); then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: one TLS library per executable"
