#!/usr/bin/env bash
# docs/control-plane.md §12, runnable: an admin's walk through strait-control with curl, on loopback, in a temporary
# directory. init + serve; as the operator a tenant, a tenant admin key, a relay and its activation; as the tenant
# admin a default policy, a connector, a user and their activations; the three enrol commands; the three daemons
# from their identity directories; the devices listed; the device revoked, and its daemon reports its link cut
# ("device link down via=... error=revoked"); the audit log. Each step is printed, each answer's HTTP status checked;
# any failure exits 1 with one line. Every wait is bounded (30 s); every child is stopped and the directory removed
# on exit. Needs curl and python3 (scripts/setup.sh installs both).
# Usage: docs/examples/walkthrough.sh <strait-control> <strait>
# Registered as ctest control_walkthrough by tests/control-plane/CMakeLists.txt.
set -euo pipefail

control=$(realpath "${1:?usage: walkthrough.sh <strait-control> <strait>}")
strait=$(realpath "${2:?usage: walkthrough.sh <strait-control> <strait>}")
work=$(mktemp -d "${TMPDIR:-/tmp}/strait-walkthrough-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

step() { printf '\n== %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  local f
  for f in *.out *.err; do [[ -s $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}
# free_port: a loopback TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# field <python expression on d> < json: one value out of a JSON answer, e.g. field 'd["code"]'.
field() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# wait_line <file> <text>: waits up to 30 s for a line of a daemon's stdout holding <text>; prints that line.
wait_line() {
  for _ in $(seq 300); do
    if grep -qF -- "$2" "$1" 2>/dev/null; then grep -F -- "$2" "$1" | head -1; return 0; fi
    sleep 0.1
  done
  fail "no \"$2\" in $1 within 30 s"
}
# call <want-status> <key> <method> <path> [<json body>]: one curl call, as §12 shows it; prints the answer and
# fails unless the status is <want-status>. The answer is also left in ./answer.
call() {
  local want=$1 key=$2 method=$3 path=$4 status
  local args=(-sS --cacert "$CA" -H "Authorization: Bearer $key" -X "$method" -o answer -w '%{http_code}')
  [[ $# -ge 5 ]] && args+=(-H 'Content-Type: application/json' -d "$5")
  echo "\$ curl $method $path${5:+ $5}" >&2
  status=$(curl "${args[@]}" "$CP$path") || fail "curl $method $path: no answer"
  echo "  -> $status" >&2
  [[ $status == "$want" ]] || fail "$method $path: status $status, want $want: $(cat answer)"
  cat answer
  echo
}

command -v curl >/dev/null || fail "no curl"
command -v python3 >/dev/null || fail "no python3"
cp_port=$(free_port)
relay_device_port=$(free_port)
relay_connector_port=$(free_port)
CP=https://127.0.0.1:$cp_port
DATA=$work/cp
CA=$DATA/tls-ca/ca.pem

step "strait-control init"
"$control" init --data "$DATA" --name localhost --ip 127.0.0.1 --public-url "$CP" >init.out 2>init.err ||
  fail "init"
cat init.out
OP=$(sed -n 's/^operator_api_key=\([^ ]*\).*/\1/p' init.out)
[[ $OP == sk_* ]] || fail "init printed no operator_api_key"

step "strait-control serve"
"$control" serve --data "$DATA" --listen "127.0.0.1:$cp_port" >serve.out 2>serve.err &
pids+=($!)
wait_line serve.out "control ready listen=127.0.0.1:$cp_port"

step "operator: a tenant, its admin key, a relay and the relay's activation code"
call 201 "$OP" POST /v1/tenants '{"id":"acme","display_name":"Acme Corp","seats":50}'
AD=$(call 201 "$OP" POST /v1/tenants/acme/api-keys '{"name":"acme admin","role":"admin"}' | field 'd["key"]')
call 201 "$OP" POST /v1/relays "{\"id\":\"relay-1\",\"display_name\":\"Relay 1\",
  \"device_endpoint\":\"127.0.0.1:$relay_device_port\",\"connector_endpoint\":\"127.0.0.1:$relay_connector_port\",
  \"tls_names\":[\"localhost\"],\"tls_ips\":[\"127.0.0.1\"]}"
code=$(call 201 "$OP" POST /v1/relays/relay-1/activations '{}' | field 'd["code"]')

step "strait relay enroll, then strait relay"
"$strait" relay enroll --url "$CP" --code "$code" --ca "$CA" --out relay-1 >enroll.out 2>&1 || fail "relay enroll"
cat enroll.out
"$strait" relay --identity relay-1 --device-listen "127.0.0.1:$relay_device_port" \
  --connector-listen "127.0.0.1:$relay_connector_port" --metrics-listen 127.0.0.1:0 --threads 1 \
  >relay.out 2>relay.err &
pids+=($!)
wait_line relay.out "relay ready"
wait_line relay.out "relay control snapshot"

T=/v1/tenants/acme
step "tenant admin: a default policy, a connector and its activation code"
call 201 "$AD" POST $T/policies '{"name":"staff","default":true,
  "app":{"allow":[{"hosts":["intranet.corp.example"],"ports":["443"]}],"deny":[]}}'
call 201 "$AD" POST $T/connectors '{"id":"dc-east","display_name":"DC east"}'
code=$(call 201 "$AD" POST $T/activations '{"kind":"connector","connector":"dc-east"}' | field 'd["code"]')

step "strait connector enroll, then strait connector"
"$strait" connector enroll --url "$CP" --code "$code" --ca "$CA" --out dc-east >enroll.out 2>&1 ||
  fail "connector enroll"
cat enroll.out
"$strait" connector --identity dc-east >connector.out 2>connector.err &
pids+=($!)
wait_line connector.out "connector ready"
wait_line connector.out "connector control snapshot"
wait_line connector.out "connector link up"

step "tenant admin: a user and a device activation (QR payload)"
user=$(call 201 "$AD" POST $T/users '{"email":"ann@acme.example","display_name":"Ann"}' | field 'd["id"]')
qr=$(call 201 "$AD" POST $T/activations "{\"kind\":\"device\",\"user\":\"$user\",\"os\":\"linux\"}" | field 'd["qr"]')

step "strait device activate --qr, then strait device"
"$strait" device activate --qr "$qr" --os linux --out ann-laptop >enroll.out 2>&1 ||
  fail "device activate"
cat enroll.out
device=$(sed -n 's/^device activated id=\([^ ]*\) .*/\1/p' enroll.out)
[[ $device == d-* ]] || fail "device activate printed no id"
"$strait" device --identity ann-laptop --socks-listen 127.0.0.1:0 >device.out 2>device.err &
pids+=($!)
wait_line device.out "device ready"
wait_line device.out "device session up"

step "tenant admin: the user's devices"
call 200 "$AD" GET "$T/devices?user=$user" >devices.json
field '"\n".join(" ".join([x["id"], x["os"], x["state"], x["credential"]["serial"], x["credential"]["not_after"]])
                for x in d["items"])' <devices.json
[[ $(field '[x["id"] for x in d["items"]] == ["'"$device"'"] and d["items"][0]["state"]' <devices.json) == active ]] ||
  fail "the device list does not show $device active: $(cat devices.json)"

step "tenant admin: revoke the device; its daemon reports its link cut"
call 200 "$AD" POST "$T/devices/$device/revoke" '{"reason":"lost"}' | field 'd["state"]'
down=$(wait_line device.out "device link down")
echo "$down"
[[ $down == *" error=revoked"* ]] || fail "the device's link went down, but not for the revocation: $down"

step "tenant admin: the audit log"
call 200 "$AD" GET "$T/audit?limit=10" |
  field '"\n".join(" ".join([x["at"], x["actor"]["kind"], x["action"], x["resource"]["type"] + "/" + x["resource"]["id"]])
                  for x in d["items"])' >audit.txt
cat audit.txt
grep -qE "^[^ ]+ api_key device.revoke device/$device\$" audit.txt || fail "no device.revoke of $device in the audit log"

echo
echo "walkthrough ok"
