#!/usr/bin/env bash
# Cost of computed traits: the same ingestion run (`overture bench ingest`,
# EVENTS events in 100-event batches over 10,000 customers, concurrency 16)
# on a fresh server without computed traits and with the ten traits of
# scripts/bench-traits/traits, alternating, RUNS times each. Reports the
# acknowledged events/s (the ingest figure) and the applied events/s
# (events / time from the first request until the engine is idle, which is
# where the traits are computed), and the medians of both per variant.
# Usage: scripts/bench-traits.sh [sqlite|postgres|all]. Env: RUNS (3),
# EVENTS (400000), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-400000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8496
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
plain=$(mktemp -d)
cp scripts/bench-traits/noop.yaml "$plain/"

run_one() { # store variant
  local store=$1 variant=$2 dir=$plain
  [ "$variant" = traits ] && dir=scripts/bench-traits
  start_server "$store" bencht
  "$bin" apply --server "http://$ADDR" --token benchadmin "$dir" >/dev/null
  local t0; t0=$(date +%s.%N)
  local acked
  acked=$("$bin" bench ingest --url "http://$ADDR" --write-key benchkey --events "$EVENTS" --batch 100 --concurrency 16 --json |
    grep -o '"eventsPerSec": *[0-9.]*' | cut -d: -f2 | tr -d ' ')
  for _ in $(seq 1 6000); do
    stats | grep -q '"idle":true' && break
    sleep 0.05
  done
  local t1; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v n="$EVENTS" -v k="$acked" -v v="$variant" 'BEGIN {
    printf "  %s: %.0f acked-events/s %.0f applied-events/s\n", v, k, n / (b - a) }'
  stop_server
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  echo "== $store: $EVENTS events, without and with 10 computed traits"
  out=$(for i in $(seq 1 "$RUNS"); do run_one "$store" plain; run_one "$store" traits; done)
  echo "$out"
  for v in plain traits; do
    echo "$out" | grep " $v:" | sed "s/applied-events/applied-$v/; s/acked-events/acked-$v/" > /tmp/bench-traits.$$
    echo "  $v: $(median acked-$v/s < /tmp/bench-traits.$$ | sed 's/^ *//'); $(median applied-$v/s < /tmp/bench-traits.$$ | sed 's/^ *//')"
  done
  rm -f /tmp/bench-traits.$$
done
