#!/usr/bin/env bash
# The main job as a process: `strait demo` (strait-control, relay, connector and device on loopback, enrolled through
# activation codes) exits 0, every child exits 0, the bulk transfer's SHA-256 matches at both ends, each daemon's
# metrics show the one session it carried (the relay's too: its shards publish once a second, and a demo that scraped
# sooner printed zeros), and the device's revocation cut its link within 5 s (issue 10's bound; the goal is < 1 s).
# Usage: demo_cli_test.sh <strait> <strait-control>. Registered as ctest cli_demo.main_job. Bounded by `timeout`.
set -euo pipefail
strait=${1:?usage: demo_cli_test.sh <strait> <strait-control>}
control=${2:?usage: demo_cli_test.sh <strait> <strait-control>}
out=$(mktemp "${TMPDIR:-/tmp}/strait-demo-cli-XXXXXX")
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out" >&2; exit 1; }

timeout 120 "$strait" demo --bulk-mib 4 --requests 40 --control-bin "$control" >"$out" 2>&1 ||
  fail "strait demo exited $?"
grep -q "SHA-256 [0-9a-f]* matches" "$out" || fail "no matching SHA-256 for the bulk transfer"
for who in control relay connector device; do
  grep -Eq "^  $who exit +exit 0$" "$out" || fail "the $who did not exit 0"
done
grep -Eq "strait_relay_sessions_opened_total [1-9]" "$out" || fail "the relay's metrics show no session"
grep -Eq "strait_connector_sessions_opened_total [1-9]" "$out" || fail "the connector's metrics show no session"
grep -Eq "strait_device_sessions_up_total [1-9]" "$out" || fail "the device's metrics show no session"
cut=$(sed -n 's/.*revocation  *device [^ ]* cut \([0-9.]*\) ms after the REST call.*/\1/p' "$out")
[[ -n $cut ]] || fail "no revocation line"
awk -v c="$cut" 'BEGIN { exit !(c < 5000) }' || fail "the revocation took $cut ms (bound 5000)"
echo "ok: $(grep -c . "$out") lines; revocation cut in $cut ms"
