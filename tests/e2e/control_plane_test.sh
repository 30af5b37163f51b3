#!/usr/bin/env bash
# NOT REGISTERED WITH CTEST YET: it ends before the event subscriber (docs/control-plane.md §11 step 7), which the
# connector needs for its policy and the relay for revocations. Run by hand: control_plane_test.sh <strait> <strait-control>.
#
# The control plane end to end, as processes (docs/control-plane.md §12): strait-control init + serve, a tenant, a
# relay enrolled with `strait relay enroll`, a connector with `strait connector enroll`, a device with
# `strait device activate --qr`, then the three daemons from their identity directories alone (control.json gives
# the relays and the pinned connectors), and a SOCKS5 request through them.
# Usage: control_plane_test.sh <strait> <strait-control>
set -euo pipefail

strait=${1:?usage: control_plane_test.sh <strait> <strait-control>}
control=${2:?usage: control_plane_test.sh <strait> <strait-control>}
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-cp-e2e-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
command -v curl >/dev/null || skip "no curl"

# 1. init and serve on a free loopback port.
"$control" init --data cp --name localhost --ip 127.0.0.1 >init.out || fail "init"
op_key=$(sed -n 's/^operator_api_key=\([^ ]*\).*/\1/p' init.out)
[[ -n $op_key ]] || fail "no operator key"
"$control" serve --data cp --listen 127.0.0.1:0 >serve.out 2>serve.err &
pids+=($!)
for _ in $(seq 100); do grep -q "listen=" serve.out 2>/dev/null && break; sleep 0.1; done
cp_addr=$(sed -n 's/.*listen=\([^ ]*\).*/\1/p' serve.out | head -1)
[[ -n $cp_addr ]] || fail "serve did not say where it listens"
CP=https://$cp_addr
ca=cp/tls-ca/ca.pem
api() { curl -sS --cacert "$ca" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' "${@:2}"; }

# 2. The routes this test needs exist? (404 = not built yet: skip.)
status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -X POST "$CP/v1/activate" -d '{}' \
         -H 'Content-Type: application/json')
[[ $status != 404 ]] || skip "POST /v1/activate is not built yet"

# 3. Tenant, relay, activation codes (field names: docs/control-plane.md §4.9).
api "$op_key" "$CP/v1/tenants" -d '{"id":"acme","display_name":"Acme","seats":5}' >/dev/null
api "$op_key" "$CP/v1/relays" -d '{"id":"relay-1","display_name":"Relay 1","device_endpoint":"127.0.0.1:14443",
  "connector_endpoint":"127.0.0.1:13101","tls_names":["localhost"],"tls_ips":["127.0.0.1"]}' >/dev/null
relay_code=$(api "$op_key" "$CP/v1/relays/relay-1/activations" -d '{}' | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
[[ -n $relay_code ]] || fail "no relay activation code"

# 4. Enrol the relay and start it from its directory alone.
"$strait" relay enroll --url "$CP" --code "$relay_code" --ca "$ca" --out relay >relay-enroll.out ||
  fail "relay enroll: $(cat relay-enroll.out)"
grep -q "^relay activated id=relay-1 " relay-enroll.out || fail "relay enroll stdout: $(cat relay-enroll.out)"
for f in credential signing.key tls.key tls.crt root.pub control.json; do [[ -f relay/$f ]] || fail "relay/$f"; done
[[ ! -e relay/.pending ]] || fail "relay/.pending left behind"
"$strait" relay --identity relay --device-listen 127.0.0.1:14443 --connector-listen 127.0.0.1:13101 \
  --metrics-listen 127.0.0.1:0 --threads 1 >relay.out 2>relay.err &
pids+=($!)

# 5. A tenant admin, a default policy, a connector enrolled and started from its directory alone.
admin=$(api "$op_key" "$CP/v1/tenants/acme/api-keys" -d '{"name":"admin","role":"admin"}' |
        sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[[ -n $admin ]] || fail "no admin key"
api "$admin" "$CP/v1/tenants/acme/policies" -d '{"name":"staff","default":true,
  "app":{"allow":[{"cidrs":["127.0.0.1/32"],"ports":["18080"]}],"deny":[]}}' >/dev/null
api "$admin" "$CP/v1/tenants/acme/connectors" -d '{"id":"dc-east","display_name":"DC east"}' >/dev/null
conn_code=$(api "$admin" "$CP/v1/tenants/acme/activations" -d '{"kind":"connector","connector":"dc-east"}' |
            sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
"$strait" connector enroll --url "$CP" --code "$conn_code" --ca "$ca" --out conn >conn-enroll.out ||
  fail "connector enroll: $(cat conn-enroll.out)"
"$strait" connector --identity conn >conn.out 2>conn.err &
pids+=($!)

# 6. A user and a device activated with --url/--code (the QR payload names the public URL init was given), started
# from its directory alone: its session comes up through the relay to the connector.
user=$(api "$admin" "$CP/v1/tenants/acme/users" -d '{"email":"ann@acme.example","display_name":"Ann"}' |
       sed -n 's/.*"id":"\(u-[a-z2-7]*\)".*/\1/p')
dev_code=$(api "$admin" "$CP/v1/tenants/acme/activations" -d "{\"kind\":\"device\",\"user\":\"$user\",\"os\":\"linux\"}" |
           sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
"$strait" device activate --url "$CP" --code "$dev_code" --os linux --ca "$ca" --out dev >dev-enroll.out ||
  fail "device activate: $(cat dev-enroll.out)"
"$strait" device --identity dev --socks-listen 127.0.0.1:11080 >dev.out 2>dev.err &
pids+=($!)
for _ in $(seq 100); do grep -q "session_up" relay.err && break; sleep 0.1; done
grep -q "session_up .*connector=dc-east" relay.err || fail "no session through the relay: $(tail relay.err)"

# TODO (issue 10 step 7): the connector takes its policy from the snapshot, so a SOCKS5 request to 127.0.0.1:18080
# succeeds (today it is refused: `policy_pending`); revocation cuts the session within the bound; a relay that was
# offline catches up; a second redeem of a code -> "refused (activation-used)". Then register this test.
echo "ok (enrolment and session; policy and revocation pending)"
