#!/usr/bin/env bash
# Delivery benchmark, end to end: ingestion with and without the dispatcher
# delivering. Each run starts a fresh server and `overture bench sink` (a
# webhook receiver on 127.0.0.1:8497) and sends EVENTS events of the
# reference load (`bench ingest --journeys`: 4 in 5 are Checkout Started).
#   baseline: no journey applied, so nothing is sent;
#   deliver:  scripts/bench-deliver/notify.yaml applied, so every checkout
#             sends a signed webhook through the dispatcher to the sink
#             (connectors: scripts/bench-deliver.connectors.yaml).
# Prints ingest events/s for both and, for deliver, messages/s at the sink
# (first to last message) and how long after the last ack the last one came.
# Usage: scripts/bench-deliver.sh [sqlite|postgres|all]. Env: RUNS (3),
# EVENTS (200000), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
which_store=${1:-all}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-200000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
ADDR=127.0.0.1:8496
SINK=127.0.0.1:8497
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
messages=$((EVENTS - EVENTS / 5))
export BENCH_WEBHOOK_SECRET=whsec_YmVuY2htYXJrLXNlY3JldC1iZW5jaG1hcmstc2VjcmV0

sink_stat() { curl -fs "http://$SINK/stats" | grep -o "\"$1\":[0-9.]*" | cut -d: -f2; }

run_one() { # store mode
  local store=$1 mode=$2
  "$bin" bench sink --addr "$SINK" >/dev/null 2>&1 &
  local sink_pid=$!
  for _ in $(seq 1 50); do curl -fs "http://$SINK/stats" >/dev/null 2>&1 && break; sleep 0.1; done
  SERVE_FLAGS="--connectors scripts/bench-deliver.connectors.yaml" start_server "$store" benchd
  if [ "$mode" = deliver ]; then
    "$bin" apply --server "http://$ADDR" --token benchadmin scripts/bench-deliver >/dev/null
  fi
  local out; out=$("$bin" bench ingest --url "http://$ADDR" --write-key benchkey --journeys --events "$EVENTS" --batch 100 --concurrency 16)
  local t_ack; t_ack=$(date +%s.%N)
  local rate; rate=$(echo "$out" | grep -o '[0-9.]* events/s' | head -1 | cut -d' ' -f1)
  if [ "$mode" = deliver ]; then
    local seen=-1 still=0
    while [ "$(sink_stat received)" -lt "$messages" ] && [ "$still" -lt 100 ]; do
      local now_seen; now_seen=$(sink_stat received)
      if [ "$now_seen" = "$seen" ]; then still=$((still + 1)); else still=0; seen=$now_seen; fi
      sleep 0.1
    done
    local t_done; t_done=$(date +%s.%N)
    local got; got=$(sink_stat received)
    local distinct; distinct=$(sink_stat distinct)
    local per; per=$(sink_stat perSecond)
    awk -v r="$rate" -v g="$got" -v d="$distinct" -v p="$per" -v a="$t_ack" -v b="$t_done" 'BEGIN {
      printf "  deliver: ingest %.0f events/s; %d messages at the sink (%d distinct) at %.0f msgs/s first to last; the last %.1f s after the last ack\n", r, g, d, p, b - a }'
  else
    echo "  baseline: ingest $rate events/s"
  fi
  stop_server
  kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true
}

for store in sqlite postgres; do
  [ "$which_store" = all ] || [ "$which_store" = "$store" ] || continue
  echo "== $store: $EVENTS events, $messages messages"
  for mode in baseline deliver; do
    out=$(for i in $(seq 1 "$RUNS"); do run_one "$store" "$mode"; done)
    echo "$out"
    echo "$out" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "events/s" || $(i+1) == "events/s;") print $i}' | sort -n |
      awk -v m="$mode" '{a[NR]=$1} END {printf "  %s median ingest %s events/s over %d runs\n", m, a[int((NR+1)/2)], NR}'
    [ "$mode" = deliver ] && echo "$out" | median msgs/s
  done
done
