# Shared by the benchmark scripts: start a fresh server on a store, stop it.
# Callers set ADDR, PGURL and bin (the built binary).

# start_server STORE PREFIX: starts `overture serve` on a new data directory
# (and, for postgres, a new schema named PREFIX_<pid>_<random>); sets
# server_pid, server_data and server_schema, and waits until it is ready.
# SERVE_FLAGS, if set, are added to the serve command (e.g. "--partitions 1").
start_server() {
  local store=$1 prefix=$2
  server_data=$(mktemp -d)
  server_schema=""
  local storeflag=(--store sqlite)
  if [ "$store" = postgres ]; then
    server_schema="${prefix}_$$_$RANDOM"
    psql "$PGURL" -qc "CREATE SCHEMA $server_schema" >/dev/null
    storeflag=(--store "$PGURL&search_path=$server_schema")
  fi
  OVERTURE_WRITE_KEYS=benchkey OVERTURE_ADMIN_TOKEN=benchadmin "$bin" serve --data "$server_data" --addr "$ADDR" "${storeflag[@]}" ${SERVE_FLAGS:-} >"$server_data/serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do curl -fs "http://$ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
}

# stop_server: stops the server and removes its data (and schema).
stop_server() {
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  if [ -n "$server_schema" ]; then psql "$PGURL" -qc "DROP SCHEMA $server_schema CASCADE" >/dev/null 2>&1; fi
  rm -rf "$server_data"
}

# stats: the server's /v1/stats.
stats() { curl -fs -H "Authorization: Bearer benchadmin" "http://$ADDR/v1/stats"; }

# median UNIT: reads run reports on stdin and prints the median of the
# figure written just before UNIT (e.g. "journeys/s").
median() {
  awk -v u="$1" '{for (i = 1; i < NF; i++) if ($(i+1) == u) print $i}' | sort -n |
    awk -v u="$1" '{a[NR]=$1} END {printf "  median %s %s over %d runs\n", a[int((NR+1)/2)], u, NR}'
}
