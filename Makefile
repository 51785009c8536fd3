# The README's commands.
.PHONY: demo test race build bench fuzz

build:
	go build -o bin/overture ./cmd/overture

# Start the server on the embedded store (SQLite + event log in ./overture-data).
demo:
	go run ./cmd/overture serve

# Every test, with the race detector off for speed; uses the local PostgreSQL.
test:
	go test -count=1 -timeout 20m ./...

# The concurrent packages again under the race detector (needs cgo and a C
# compiler, as Go's race detector does).
race:
	go test -race -count=1 -timeout 20m ./internal/engine ./internal/outbox ./internal/api ./internal/catalog ./internal/webhook ./internal/identity ./internal/ingest

fuzz:
	go test ./internal/ingest -run XXX -fuzz FuzzDecode -fuzztime 60s
