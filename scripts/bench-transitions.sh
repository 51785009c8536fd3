#!/usr/bin/env bash
# Step transitions benchmark, end to end: start a fresh server with 20 live
# journeys, all triggered by Checkout Started, each running a branch, a
# send, a profile update and a split before it waits an hour (5 transitions
# per journey, 100 per event), send EVENTS events with
# `overture bench ingest --journeys`, and report transitions/s from the
# first request until the engine is idle.
# Usage: scripts/bench-transitions.sh [sqlite|postgres|all]. Env: RUNS (3),
# EVENTS (20000), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-20000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8496
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
defs=$(mktemp -d)
for i in $(seq -w 1 20); do
  cat >"$defs/j$i.yaml" <<YAML
id: j$i
name: Transitions $i
category: marketing
entry: {trigger: {event: Checkout Started}, reentry: always, max_concurrent: 1000}
variables: {order: event.properties.order_id}
start: check
steps:
  check: {type: branch, cases: [{when: 'event.properties.revenue > 100.0', next: big}], default: small}
  big: {type: send, channel: email, template: big, next: mark}
  small: {type: send, channel: push, template: small, next: mark}
  mark: {type: update_profile, set: {last_order_j$i: journey.order}, next: ab}
  ab: {type: split, branches: [{weight: 50, next: wait}, {weight: 50, next: wait}]}
  wait: {type: wait, duration: 1h, next: done}
  done: {type: exit}
YAML
done

run_one() { # store
  local store=$1
  start_server "$store" bencht
  "$bin" apply --server "http://$ADDR" --token benchadmin "$defs" >/dev/null
  local t0; t0=$(date +%s.%N)
  "$bin" bench ingest --url "http://$ADDR" --write-key benchkey --journeys --events "$EVENTS" --batch 100 --concurrency 16 >/dev/null
  for _ in $(seq 1 3000); do stats | grep -q '"idle":true' && break; sleep 0.1; done
  local t1; t1=$(date +%s.%N)
  local tr; tr=$(stats | grep -o '"transitions":[0-9]*' | head -1 | cut -d: -f2)
  awk -v a="$t0" -v b="$t1" -v n="$tr" 'BEGIN { printf "  %d transitions in %.1f s: %.0f transitions/s\n", n, b - a, n / (b - a) }'
  stop_server
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  echo "== $store: $EVENTS events, 20 journeys"
  out=$(for i in $(seq 1 "$RUNS"); do run_one "$store"; done)
  echo "$out"
  echo "$out" | median transitions/s
done
