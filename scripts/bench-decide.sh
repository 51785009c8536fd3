#!/usr/bin/env bash
# Touchpoint API benchmark (the issue 6 target: POST /v1/decide and GET
# /v1/profiles/{id}/context at p99 <= 5 ms and 5,000 requests/s, 100,000
# profiles, 50 offers). Starts a fresh server, stores PROFILES customers
# u-0.. (`overture bench ingest --profiles`: traits score = n mod 100,
# email, plan basic|plus|pro), applies OFFERS generated offers (varied
# eligibility over those traits and the request context, values,
# channels, some with a context bucket) and the example interaction policy
# (examples/journeys/interactions/routing.yaml, with the two example
# journeys its rules name), waits until the engine is idle, warms up for
# WARMUP, then runs `overture bench decide` (open loop:
# requests scheduled at RATE/s whatever the response times, latency from
# the scheduled time) RUNS times for DURATION each, waiting for the engine
# to be idle between runs (every decide call records a touchpoint_decision
# event). Prints every report and the median p99s.
#
# With PPROF=1, one more run (not in the medians) takes a 10 s CPU profile
# of the server (GET /debug/pprof/profile) and prints its top entries.
#
# Usage: scripts/bench-decide.sh [sqlite|postgres] (default $STORE, else
# sqlite). Env: RUNS (3), PROFILES (100000), OFFERS (50), RATE (5000),
# DURATION (20s), WARMUP (5s), CONNECTIONS (64), DECIDE_SHARE (0.5),
# PPROF (0), OUT (a new temporary directory for the JSON reports and
# profile), PGURL.
set -euo pipefail
export PGOPTIONS="--client-min-messages=warning"
cd "$(dirname "$0")/.."
store=${1:-${STORE:-sqlite}}
RUNS=${RUNS:-3}
PROFILES=${PROFILES:-100000}
OFFERS=${OFFERS:-50}
RATE=${RATE:-5000}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-5s}
CONNECTIONS=${CONNECTIONS:-64}
DECIDE_SHARE=${DECIDE_SHARE:-0.5}
PPROF=${PPROF:-0}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
OUT=${OUT:-$(mktemp -d)}
ADDR=127.0.0.1:8495
command -v jq >/dev/null || { echo "bench-decide.sh needs jq" >&2; exit 1; }
case $store in sqlite | postgres) ;; *) echo "usage: $0 [sqlite|postgres]" >&2; exit 2 ;; esac
bin=$(mktemp -d)/overture
. scripts/lib.sh
go build -o "$bin" ./cmd/overture
mkdir -p "$OUT"

# run CMD...: prints the command line (as `overture ...`, on stderr so that
# it shows when stdout is filtered) and runs it.
run() {
  echo "+ overture ${*:2}" >&2
  "$@"
}

# gen_offers DIR: writes OFFERS offers to DIR/offers and the example
# interaction policy to DIR/interactions.
gen_offers() {
  local dir=$1 i
  mkdir -p "$dir/offers" "$dir/interactions"
  cp examples/journeys/interactions/routing.yaml "$dir/interactions/"
  # The journeys the policy's rules name (no benchmark event enters them).
  cp examples/journeys/money-transfer.yaml examples/journeys/complaint-handling.yaml "$dir/"
  local cats=(retention upsell cross-sell marketing service)
  local plans=(basic plus pro)
  local chans=("[web, app]" "[ivr, chat, agent]" "[email, sms, app]" "[web, app, chat, agent, ivr]" "")
  local buckets=("profile.traits.plan" "has(context.placement) ? context.placement : \"\"" "context.touchpoint" "" "" "")
  for ((i = 0; i < OFFERS; i++)); do
    local id eligibility threshold plan
    id=$(printf "bench-offer-%02d" "$i")
    threshold=$(((i * 17) % 90)).0
    plan=${plans[$((i % 3))]}
    case $((i % 7)) in
      0) eligibility="profile.traits.score >= $threshold" ;;
      1) eligibility="profile.traits.plan == \"$plan\"" ;;
      2) eligibility="profile.traits.plan != \"basic\" && profile.traits.score < $threshold + 20.0" ;;
      3) eligibility="has(profile.traits.email) && profile.traits.email.endsWith(\"@example.com\") && profile.traits.score >= $threshold" ;;
      4) eligibility="has(context.placement) && context.placement in [\"usage\", \"billing\"] && profile.traits.plan == \"$plan\"" ;;
      5) eligibility="has(context.country) && context.country != \"GB\" && profile.traits.score < $threshold" ;;
      6) eligibility="" ;;
    esac
    {
      echo "id: $id"
      echo "name: Bench offer $i"
      echo "category: ${cats[$((i % 5))]}"
      [ -n "$eligibility" ] && echo "eligibility: '$eligibility'"
      echo "value: $((5 + (i * 37) % 200))"
      [ $((i % 4)) = 3 ] && echo "weight: 0.5"
      local ch=${chans[$((i % 5))]}
      [ -n "$ch" ] && echo "channels: $ch"
      [ $((i % 3)) = 0 ] && echo "cool_off: 1h"
      [ $((i % 5)) = 2 ] && echo "max_impressions: 5"
      [ $((i % 6)) = 5 ] && echo "explore: false"
      echo "prior: {alpha: $((1 + i % 3)), beta: $((9 + i % 11))}"
      local b=${buckets[$((i % 6))]}
      [ -n "$b" ] && echo "context: '$b'"
      echo "outcome: {events: [offer_accepted], within: 7d}"
    } >"$dir/offers/$id.yaml"
  done
}

wait_idle() {
  for _ in $(seq 1 6000); do
    stats | grep -q '"idle":true' && return
    sleep 0.1
  done
  echo "engine not idle after 10 minutes" >&2
}

defs=$(mktemp -d)
gen_offers "$defs"
echo "== $store: $PROFILES profiles, $OFFERS offers, $RATE requests/s for $DURATION, $RUNS runs; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_server "$store" benchd
trap stop_server EXIT
t0=$(date +%s.%N)
run "$bin" bench ingest --url "http://$ADDR" --write-key benchkey --profiles --events "$PROFILES" --batch 500 --concurrency 8 | grep -E "acked|elapsed"
wait_idle
awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "  profiles stored in %.1f s\n", b - a }'
run "$bin" apply --server "http://$ADDR" --token benchadmin "$defs" | awk '{print "  " $1, $2}' | sort | uniq -c
n_offers=$(curl -fs -H "Authorization: Bearer benchadmin" "http://$ADDR/v1/offers" | jq 'if type == "array" then length else (.offers // .items // []) | length end')
echo "  $n_offers offers in force"
wait_idle

decide_args=(--url "http://$ADDR" --token benchadmin --rate "$RATE" --users "$PROFILES" --decide-share "$DECIDE_SHARE" --connections "$CONNECTIONS")
echo "-- warm-up"
run "$bin" bench decide "${decide_args[@]}" --duration "$WARMUP" --seed 99 | grep -E "sent|rate "
wait_idle

for i in $(seq 1 "$RUNS"); do
  echo "-- run $i (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  run "$bin" bench decide "${decide_args[@]}" --duration "$DURATION" --seed "$i" --json-file "$OUT/decide-$i.json"
  grep -E "VmRSS|VmHWM" /proc/"$server_pid"/status | tr -s ' \t' ' ' | sed 's/^/  server /'
  wait_idle
done

# median JQ: the median over the runs of a figure in nanoseconds, in ms.
median() {
  for f in "$OUT"/decide-[0-9]*.json; do jq "$1" "$f"; done | sort -n |
    awk '{a[NR]=$1} END {printf "%.2f ms", a[int((NR+1)/2)] / 1e6}'
}
echo "== median over $RUNS runs: p99 all $(median .latency.p99Ns), POST /v1/decide $(median .decide.latency.p99Ns), GET context $(median .context.latency.p99Ns); p50 decide $(median .decide.latency.p50Ns), context $(median .context.latency.p50Ns)"
echo "   achieved rate $(for f in "$OUT"/decide-[0-9]*.json; do jq .achievedRate "$f"; done | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}') requests/s; target met in $(cat "$OUT"/decide-[0-9]*.json | jq -s '[.[] | select(.targetMet)] | length') of $RUNS runs"

if [ "$PPROF" = 1 ]; then
  echo "-- profiled run (not in the medians)"
  ( sleep 5; curl -fs -H "Authorization: Bearer benchadmin" "http://$ADDR/debug/pprof/profile?seconds=10" -o "$OUT/cpu.pprof" ) &
  prof=$!
  run "$bin" bench decide "${decide_args[@]}" --duration "$DURATION" --seed 100 --json-file "$OUT/profiled.json"
  wait "$prof"
  echo "+ go tool pprof -top -nodecount=35 overture cpu.pprof"
  go tool pprof -top -nodecount=35 "$bin" "$OUT/cpu.pprof" 2>/dev/null | sed 's/^/  /'
  echo "+ go tool pprof -top -cum -nodecount=40 overture cpu.pprof"
  go tool pprof -top -cum -nodecount=40 "$bin" "$OUT/cpu.pprof" 2>/dev/null | sed 's/^/  /'
fi
echo "reports in $OUT"
