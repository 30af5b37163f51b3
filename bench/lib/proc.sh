# Shell helpers for the bench scripts (bench/*/run.sh): background processes that are stopped on exit, bounded
# waits on a process's output or port, fields of a "key=value" line, free loopback ports, a process tree's CPU
# ticks and a process's RSS. Source it after setting RUN (the directory that receives each process's .out/.err)
# and before starting anything: it installs the EXIT/INT/TERM/HUP traps that stop what start_bg started.
# shellcheck shell=bash

PIDS=()
# descendants PID: every process below PID (children first, then theirs), one a line.
descendants() { local c; for c in $(pgrep -P "$1" 2>/dev/null || true); do echo "$c"; descendants "$c"; done; }
# On exit: SIGTERM to every process start_bg started and to their descendants (nginx workers, should the master
# die first), up to 5 s for a graceful exit, then SIGKILL.
cleanup() {
  local rc=$? all=() p i alive
  trap - EXIT INT TERM HUP
  for p in "${PIDS[@]}"; do
    kill -0 "$p" 2>/dev/null || continue
    all+=("$p")
    mapfile -t -O "${#all[@]}" all < <(descendants "$p")
  done
  if ((${#all[@]})); then
    kill -TERM "${all[@]}" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive=0
      for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      ((alive)) || break
      sleep 0.1
    done
    kill -KILL "${all[@]}" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

start_bg() { # NAME CMD... -> BG_PID; stdout/stderr to $RUN/NAME.{out,err}. CMD may be a shell function that execs.
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
wait_line() { # FILE PREFIX PID [SECONDS] -> the first line of FILE that starts with PREFIX (30 s at most)
  local i line
  for ((i = 0; i < ${4:-30} * 20; i++)); do
    line=$(grep -m1 "^$2" "$1" 2>/dev/null || true)
    if [[ -n $line ]]; then echo "$line"; return 0; fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
wait_address() { # FILE PID [SECONDS] -> the port of the first IPv4:PORT a process prints (5 s at most)
  local i line
  for ((i = 0; i < ${3:-5} * 20; i++)); do
    line=$(grep -Eom1 '[0-9.]+:[0-9]+' "$1" 2>/dev/null || true)
    if [[ -n $line ]]; then echo "${line##*:}"; return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
wait_listen() { # PORT PID: until something listens on PORT (5 s at most) while PID lives
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
# A loopback port free at the time of asking, for servers that cannot report a port-0 bind (haproxy, nginx):
# another process may take it first, so callers retry.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; } # LINE KEY -> the value of " KEY=value" in LINE
CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: CPU time (clock ticks) of PID and its descendants, utime+stime of all their threads from
# /proc/PID/stat (fields 14 and 15; comm, field 2, may hold spaces).
cpu_ticks() {
  local total=0 p stat rest f
  for p in "$1" $(descendants "$1"); do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    read -r -a f <<<"$rest"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; } # PID -> resident set size in KiB
