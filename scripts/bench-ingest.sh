#!/usr/bin/env bash
# Ingest benchmark: for each store and scenario, start a fresh server, run
# `overture bench ingest` against it RUNS times, and print every run and the
# median. Usage: scripts/bench-ingest.sh [sqlite|postgres|all] (default all)
# Env: RUNS (default 3), PGURL (default the local test database).
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8499
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture

scenarios=(
  "batch  --events 400000 --batch 100 --concurrency 16"
  "track  --events 100000 --batch 1 --concurrency 64"
)

run_one() { # store scenario-args...
  local store=$1; shift
  start_server "$store" bench
  "$bin" bench ingest --url "http://$ADDR" --write-key benchkey "$@"
  # How long the engine takes to apply everything after the last ack.
  local t0=$(date +%s.%N)
  for _ in $(seq 1 600); do
    stats | grep -q '"idle":true' && break
    sleep 0.1
  done
  awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "  engine idle %.1f s after the last ack\n", b - a }'
  stop_server
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  for sc in "${scenarios[@]}"; do
    name=${sc%% *}; args=${sc#* }
    echo "== $store $name: overture bench ingest $args"
    out=$(for i in $(seq 1 "$RUNS"); do run_one "$store" $args; done)
    echo "$out" | grep -E "elapsed|latency|engine idle"
    echo "$out" | awk '/elapsed/ {for (i=1;i<=NF;i++) if ($(i+1)=="events/s,") print $i}' | sort -n |
      awk '{a[NR]=$1} END {printf "  median %s events/s over %d runs\n", a[int((NR+1)/2)], NR}'
    echo "$out" | awk '/latency/ {for (i=1;i<=NF;i++) if ($i=="p99") print $(i+1)}' | sed 's/ms//' | sort -n |
      awk '{a[NR]=$1} END {printf "  median p99 %s ms\n", a[int((NR+1)/2)]}'
  done
done
