#!/usr/bin/env bash
# Installs every Debian 12 package that Strait's build, tests, fuzzers and benchmarks need.
# Idempotent: packages already present are skipped by apt. Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  clang-19 libclang-rt-19-dev llvm-19
  # data plane
  liburing-dev android-libboringssl-dev libsodium-dev libboost-dev libfmt-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev
  # control plane (strait-control: OpenSSL 3, JSON, SQLite; control-plane/CMakeLists.txt)
  nlohmann-json3-dev libsqlite3-dev libssl-dev openssl
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  iproute2 iperf3 curl haproxy nginx-light libnginx-mod-stream python3
  # the IP tunnel's end-to-end test (tests/e2e/ip_tunnel_test.sh): a corp resolver (dnsmasq-base: the binary, without
  # the dnsmasq package's system service), ping -M do, dig
  dnsmasq-base iputils-ping bind9-dnsutils
  # the IP tunnel's benchmark baselines (bench/ip/run.sh): user-space WireGuard, OpenVPN, loss without sch_netem
  wireguard-go wireguard-tools openvpn nftables
  # the `strait bench` HTML report's test (tests/bench/report_chromium_test.sh): headless Chromium loads the page
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# haproxy and nginx are benchmark baselines only; never leave them running as services.
for svc in haproxy nginx; do
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
  $SUDO pkill -x "$svc" >/dev/null 2>&1 || true
done
echo "setup: done"
