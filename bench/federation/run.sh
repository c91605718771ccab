#!/usr/bin/env bash
# Federation gateways benchmark (accounts/products/reviews/inventory, 50 VUs, every request
# with its own Authorization header). See bench/federation/README.md.
#
#   bench/federation/run.sh                                   # subgraphs alone, then our router
#   bench/federation/run.sh --gateway "cosmo=ACCESS_LOGS_ENABLED=false /path/router --config cfg.yaml"
#   bench/federation/run.sh --no-ours --no-replay --gateway "name=command" ...
#   bench/federation/run.sh --profile                         # + 20 s CPU profile of our router under load
#
# Every gateway must serve GraphQL at --url (default http://127.0.0.1:4000/graphql) and a
# health check at --health (default http://127.0.0.1:4000/health), forward Authorization
# to the subgraphs, and use the routing URLs of bench/federation/supergraph.yaml.
# Rows are appended to bench/federation/results.md. Loopback only; every load is bounded
# by --warmup + --duration.
set -euo pipefail

cd "$(dirname "$0")/../.."
DIR=bench/federation
BIN=${BENCH_BIN:-/tmp/bench}
WARMUP=10s
DURATION=60s
VUS=50
GW_URL=http://127.0.0.1:4000/graphql
HEALTH_URL=http://127.0.0.1:4000/health
RESULTS=$DIR/results.md
OURS=1
REPLAY=1
PROFILE=0
GATEWAYS=()

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --gateway) GATEWAYS+=("$2"); shift 2 ;;
    --no-ours) OURS=0; shift ;;
    --no-replay) REPLAY=0; shift ;;
    --profile) PROFILE=1; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --url) GW_URL=$2; shift 2 ;;
    --health) HEALTH_URL=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done

mkdir -p "$BIN"
log() { echo "== $*" >&2; }

log "build (into $BIN)"
go build -o "$BIN/subgraphs" ./$DIR/cmd/subgraphs
go build -o "$BIN/load" ./$DIR/cmd/load
go build -o "$BIN/studio" ./cmd/studio
"$BIN/studio" compose --config $DIR/supergraph.yaml --out $DIR/supergraph.graphql --check
"$BIN/subgraphs" -expected $DIR/query.graphql > "$BIN/expected.json"
log "expected response: $(wc -c < "$BIN/expected.json") bytes"

OURS_CMD="$BIN/studio router --supergraph $DIR/supergraph.graphql --listen 127.0.0.1:4000"
[ "$OURS" = 1 ] && GATEWAYS=("studio=$OURS_CMD" "${GATEWAYS[@]}")

for port in 4000 4201 4202 4203 4204; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "port $port is already in use: stop what listens there first" >&2; exit 1
  fi
done

SUB_PID=""
GW_PID=""
stop_pid() { # pid: TERM, then KILL after 10 s
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() { stop_pid "$GW_PID"; stop_pid "$SUB_PID"; }
trap cleanup EXIT

wait_http() { # url pid seconds
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "process $2 exited" >&2; return 1; }
    sleep 0.2
  done
  echo "timed out waiting for $1" >&2; return 1
}

start_gateway() { # name command
  log "start $1: $2"
  bash -c "exec env $2" > "$BIN/gateway-$1.log" 2>&1 &
  GW_PID=$!
  wait_http "$HEALTH_URL" "$GW_PID" 60
}

log "start subgraphs"
rm -f "$BIN/record.jsonl"
"$BIN/subgraphs" -record "$BIN/record.jsonl" > "$BIN/subgraphs.log" 2>&1 &
SUB_PID=$!
for port in 4201 4202 4203 4204; do wait_http "http://127.0.0.1:$port/health" "$SUB_PID" 30; done

MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores, $MODEL, $MEM, $(uname -sr), $(go version | cut -d' ' -f3). Load: $VUS VUs constant, $WARMUP warm-up, $DURATION measured, unique Authorization per request; query.graphql ($(wc -c < "$BIN/expected.json") bytes per response). Load generator, subgraphs and gateway share the machine."
  echo
  echo "| gateway | VUs | duration | RPS | p50 ms | p95 ms | p99 ms | errors | peak RSS | gateway CPU (cores) | subgraphs CPU (cores) | load gen CPU | other processes' CPU | command |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >> "$RESULTS"
NOTES=()

if [ "$REPLAY" = 1 ]; then
  log "record the subgraph requests of one query through our router"
  start_gateway record "$OURS_CMD"
  "$BIN/load" -check -auth "Bearer record" -url "$GW_URL" -query $DIR/query.graphql -expected "$BIN/expected.json" -name record >&2 || true
  stop_pid "$GW_PID"; GW_PID=""
  log "subgraphs alone: replay $(wc -l < "$BIN/record.jsonl") recorded requests per query"
  "$BIN/load" -replay "$BIN/record.jsonl" -vus "$VUS" -warmup "$WARMUP" -duration "$DURATION" \
    -pid "$SUB_PID" -subgraphs-pid "$SUB_PID" -name "subgraphs only (replay, queries/s)" \
    -cmd "load -replay record.jsonl ($(wc -l < "$BIN/record.jsonl") subgraph requests per query, recorded from our router)" -out "$RESULTS"
  NOTES+=("Subgraphs only: each 'query' replays the $(wc -l < "$BIN/record.jsonl") subgraph requests our router sends for query.graphql; peak RSS and CPU are the subgraphs process's.")
fi

for spec in "${GATEWAYS[@]}"; do
  name=${spec%%=*}
  cmd=${spec#*=}
  if ! start_gateway "$name" "$cmd"; then
    NOTES+=("$name: did not become healthy; see $BIN/gateway-$name.log")
    stop_pid "$GW_PID"; GW_PID=""
    continue
  fi
  if "$BIN/load" -check -url "$GW_URL" -query $DIR/query.graphql -expected "$BIN/expected.json" -name "$name" \
      -save-mismatch "$BIN/mismatch-$name.json" > "$BIN/check-$name.txt" 2>&1; then
    NOTES+=("$name: response identical to the expected response (semantic JSON comparison).")
  else
    NOTES+=("$name: CHECK FAILED: $(head -c 600 "$BIN/check-$name.txt" | tr '\n' ' ')")
  fi
  cat "$BIN/check-$name.txt" >&2
  log "load $name ($VUS VUs, $WARMUP warm-up, $DURATION)"
  "$BIN/load" -url "$GW_URL" -query $DIR/query.graphql -expected "$BIN/expected.json" -vus "$VUS" \
    -warmup "$WARMUP" -duration "$DURATION" -pid "$GW_PID" -subgraphs-pid "$SUB_PID" \
    -name "$name" -cmd "$cmd" -save-mismatch "$BIN/mismatch-$name.json" -out "$RESULTS"
  stop_pid "$GW_PID"; GW_PID=""
done

if [ "$PROFILE" = 1 ]; then
  log "CPU profile of our router under load (20 s)"
  mkdir -p "$BIN/pprof"
  # A copy of cmd/studio with net/http/pprof, built with -overlay: no router code is edited.
  cat > "$BIN/pprof/zz_bench_pprof.go" <<'EOF'
package main

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
)

func init() {
	if addr := os.Getenv("STUDIO_PPROF_ADDR"); addr != "" {
		go func() { log.Println(http.ListenAndServe(addr, nil)) }()
	}
}
EOF
  printf '{"Replace":{"%s":"%s"}}\n' "$PWD/cmd/studio/zz_bench_pprof.go" "$BIN/pprof/zz_bench_pprof.go" > "$BIN/pprof/overlay.json"
  go build -overlay "$BIN/pprof/overlay.json" -o "$BIN/studio-pprof" ./cmd/studio
  start_gateway studio-pprof "STUDIO_PPROF_ADDR=127.0.0.1:6060 $BIN/studio-pprof router --supergraph $DIR/supergraph.graphql --listen 127.0.0.1:4000"
  "$BIN/load" -url "$GW_URL" -query $DIR/query.graphql -expected "$BIN/expected.json" -vus "$VUS" \
    -warmup 5s -duration 30s -pid "$GW_PID" -subgraphs-pid "$SUB_PID" -name "studio (pprof build, profiled)" > "$BIN/profile-load.txt" &
  LOAD_PID=$!
  sleep 7
  curl -sf -o "$BIN/studio-cpu.pprof" "http://127.0.0.1:6060/debug/pprof/profile?seconds=20"
  wait "$LOAD_PID"
  stop_pid "$GW_PID"; GW_PID=""
  go tool pprof -top -nodecount=25 "$BIN/studio-pprof" "$BIN/studio-cpu.pprof" > "$BIN/profile-top.txt" 2>/dev/null
  go tool pprof -top -cum -nodecount=40 -focus=studio-platform "$BIN/studio-pprof" "$BIN/studio-cpu.pprof" > "$BIN/profile-cum.txt" 2>/dev/null
  cat "$BIN/profile-load.txt" "$BIN/profile-top.txt"
  NOTES+=("CPU profile of our router under the same load: $BIN/studio-cpu.pprof (top 25 in $BIN/profile-top.txt).")
fi

{
  echo
  for n in "${NOTES[@]}"; do echo "- $n"; done
} >> "$RESULTS"
log "results appended to $RESULTS"
