#!/usr/bin/env bash
# Audience refresh benchmark: start a fresh server, store PROFILES
# customers (one identify each, `overture bench ingest --profiles`), apply
# scripts/bench-audiences (an audience of one customer in ten, not
# realtime, and a journey entered on joining it), then refresh the audience
# (POST /v1/audiences/low-score/refresh) and wait until every new member
# has entered the journey and sent its message. Reports the refresh's own
# time (scan, evaluation, memberships committed) and the time until the
# last member's journey ran.
# Usage: scripts/bench-audiences.sh [sqlite|postgres|all]. Env: RUNS (3),
# PROFILES (1000000), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
PROFILES=${PROFILES:-1000000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8497
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
members=$((PROFILES / 10))

run_one() { # store
  local store=$1
  start_server "$store" bencha
  local pid=$server_pid
  "$bin" bench ingest --url "http://$ADDR" --write-key benchkey --profiles --events "$PROFILES" --batch 500 --concurrency 8 >/dev/null
  for _ in $(seq 1 6000); do
    stats | grep -q '"idle":true' && break
    sleep 0.1
  done
  "$bin" apply --server "http://$ADDR" --token benchadmin scripts/bench-audiences >/dev/null
  local t0; t0=$(date +%s.%N)
  local r; r=$(curl -fs -X POST -H "Authorization: Bearer benchadmin" "http://$ADDR/v1/audiences/low-score/refresh")
  local t1; t1=$(date +%s.%N)
  local entered=0
  for _ in $(seq 1 6000); do
    entered=$(stats | grep -o '"entered":[0-9]*' | head -1 | cut -d: -f2)
    [ "${entered:-0}" -ge "$members" ] && stats | grep -q '"idle":true' && break
    sleep 0.05
  done
  local t2; t2=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$PROFILES" -v e="$entered" 'BEGIN {
    printf "  refresh over %d profiles: %.1f s; %d members entered the journey in %.1f s end to end: %.1f s/refresh\n", n, b - a, e, c - a, c - a }'
  echo "  $(echo "$r" | grep -o '"scanned":[0-9]*') $(echo "$r" | grep -o '"size":[0-9]*') $(stats | grep -o '"messages":[0-9]*' | head -1)"
  grep -E "VmHWM" /proc/$pid/status | sed 's/^/  server /'
  stop_server
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  echo "== $store: $PROFILES profiles, $members members"
  out=$(for i in $(seq 1 "$RUNS"); do run_one "$store"; done)
  echo "$out"
  echo "$out" | median s/refresh
done
