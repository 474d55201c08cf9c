#!/usr/bin/env bash
# Live-stream latency benchmark: a release agentmon on a fresh data
# directory, SUBSCRIBERS WebSocket clients subscribed to "*", and
# `agentmon bench live` posting RATE log events per second in batches of
# BATCH for DURATION. Reports the delay from the start of each POST to the
# message being read by each subscriber (p50/p90/p99/p99.9/max), lost and
# out-of-order events, and the server's CPU share of one core and peak RSS.
# There is no peer: no other program here serves this stream.
#
# Usage: bench/live.sh
# Environment:
#   SUBSCRIBERS=100 RATE=10000 BATCH=100 DURATION=10s
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   AGENTMON=path       the agentmon binary to run (server and load generator)
#   OUT_DIR=target/bench-results   where the JSON report goes
#   KEEP_DATA=1         keep the data directory and log
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUBSCRIBERS=${SUBSCRIBERS:-100}
RATE=${RATE:-10000}
BATCH=${BATCH:-100}
DURATION=${DURATION:-10s}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON=${AGENTMON:-$REPO/target/release/agentmon}
CLK_TCK=$(getconf CLK_TCK)

BENCH_NAME=live
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
if ! "$AGENTMON" bench live --help >/dev/null 2>&1; then
    echo "$AGENTMON has no 'bench live' subcommand" >&2
    exit 1
fi
mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/live-$(date -u +%Y%m%dT%H%M%SZ).json"

start_server agentmon "$AGENTMON" /health/ready 19700 \
    serve --data-dir @DATA@ --listen 127.0.0.1:@PORT@
log "load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
cpu0=$(cpu_ticks "$SERVER_PID")
t0=$(date +%s.%N)
status=0
"$AGENTMON" bench live --url "$BASE" --subscribers "$SUBSCRIBERS" --rate "$RATE" \
    --batch-size "$BATCH" --duration "$DURATION" --json-out "$REPORT" || status=$?
t1=$(date +%s.%N)
cpu1=$(cpu_ticks "$SERVER_PID")
rss=$(awk -v kb="$(peak_rss_kb "$SERVER_PID")" 'BEGIN { printf "%.1f", kb / 1024 }')
awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" -v rss="$rss" \
    'BEGIN { printf "server: %.1f%% of one core over the run (subscribing and draining included), %.2f s of CPU, peak RSS %s MB\n", 100 * t / hz / (b - a), t / hz, rss }'
log "report in $REPORT"
exit "$status"
