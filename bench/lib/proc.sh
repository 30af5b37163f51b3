# Shell helpers for the bench scripts: background processes that are stopped on exit, bounded waits on a
# process's output or port, fields of a "key=value" line, a process's CPU ticks and RSS. Source it after setting
# RUN (the directory that receives each process's .out/.err).
# shellcheck shell=bash

PIDS=()
cleanup() {
  local rc=$? p i alive
  trap - EXIT INT TERM HUP
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start_bg() { # NAME CMD... -> BG_PID; stdout/stderr to $RUN/NAME.{out,err}
  local name=$1; shift
  "$@" >"$RUN/$name.out" 2>"$RUN/$name.err" </dev/null &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
stop_bg() { # PID...: SIGTERM, then SIGKILL after 5 s
  local p i
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}
wait_line() { # FILE PREFIX PID [SECONDS] -> the line
  local i line
  for ((i = 0; i < ${4:-30} * 20; i++)); do
    line=$(grep -m1 "^$2" "$1" 2>/dev/null || true)
    if [[ -n $line ]]; then echo "$line"; return 0; fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; read -r -a f <<<"$s"; echo $((f[11] + f[12])); }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
