#!/usr/bin/env bash
# Reference journey benchmark, end to end: start a fresh server, apply
# scripts/bench-journeys/reference.yaml (enter on Checkout Started, wait 5 s, send
# unless Order Completed came first), send EVENTS events with
# `overture bench ingest --journeys` (4 in 5 start a journey, 1 in 5 is the
# previous customer's goal), and wait until every journey has ended (sent
# or goal). journeys/s = journeys / (time from the first request to the
# last instance's end - the 5 s wait every journey spends waiting).
# Usage: scripts/bench-journeys.sh [sqlite|postgres|all]. Env: RUNS (3),
# EVENTS (200000), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-200000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8498
WAIT=5
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
journeys=$((EVENTS - EVENTS / 5))

run_one() { # store
  local store=$1
  start_server "$store" benchj
  local pid=$server_pid
  "$bin" apply --server "http://$ADDR" --token benchadmin scripts/bench-journeys >/dev/null
  local t0; t0=$(date +%s.%N)
  "$bin" bench ingest --url "http://$ADDR" --write-key benchkey --journeys --events "$EVENTS" --batch 100 --concurrency 16 | grep elapsed
  local ended=0
  for _ in $(seq 1 3000); do
    ended=$(stats | grep -o '"ended":[0-9]*' | head -1 | cut -d: -f2)
    [ "${ended:-0}" -ge "$journeys" ] && break
    sleep 0.1
  done
  local t1; t1=$(date +%s.%N)
  local s; s=$(stats)
  awk -v a="$t0" -v b="$t1" -v j="$journeys" -v w="$WAIT" -v e="$ended" 'BEGIN {
    printf "  %d journeys ended in %.1f s: %.0f journeys/s end to end (excluding the %d s wait)\n", e, b - a, j / (b - a - w), w }'
  echo "  $(echo "$s" | grep -o '"messages":[0-9]*' | head -1) $(echo "$s" | grep -o '"timersFired":[0-9]*' | head -1)"
  grep -E "VmHWM" /proc/$pid/status | sed 's/^/  server /'
  stop_server
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  echo "== $store: $EVENTS events, $journeys journeys"
  out=$(for i in $(seq 1 "$RUNS"); do run_one "$store"; done)
  echo "$out"
  echo "$out" | median journeys/s
done
