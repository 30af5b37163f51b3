#!/usr/bin/env bash
# The main job as a process: `strait demo` (relay, connector and device on loopback with throwaway keys) exits 0,
# every child exits 0, the bulk transfer's SHA-256 matches at both ends, and each daemon's metrics show the one
# session it carried (the relay's too: its shards publish once a second, and a demo that scraped sooner printed
# zeros). Usage: demo_cli_test.sh <path-to-strait>. Registered as ctest cli_demo.main_job. Bounded by `timeout`.
set -euo pipefail
strait=${1:?usage: demo_cli_test.sh <strait>}
out=$(mktemp "${TMPDIR:-/tmp}/strait-demo-cli-XXXXXX")
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out" >&2; exit 1; }

timeout 120 "$strait" demo --bulk-mib 4 --requests 40 >"$out" 2>&1 || fail "strait demo exited $?"
grep -q "SHA-256 [0-9a-f]* matches" "$out" || fail "no matching SHA-256 for the bulk transfer"
for who in relay connector device; do
  grep -Eq "^  $who exit +exit 0$" "$out" || fail "the $who did not exit 0"
done
grep -Eq "strait_relay_sessions_opened_total [1-9]" "$out" || fail "the relay's metrics show no session"
grep -Eq "strait_connector_sessions_opened_total [1-9]" "$out" || fail "the connector's metrics show no session"
grep -Eq "strait_device_sessions_up_total [1-9]" "$out" || fail "the device's metrics show no session"
echo "ok: $(grep -c . "$out") lines"
