#!/usr/bin/env bash
# Memory of one query that touches ~10 M samples, against the compressed
# size of those samples (the issue's target: at most 2 × compressed size
# plus the result).
#
# Loads the agent-fleet workload (200 instances × 280 steps = 10.08 M
# samples) into agentmon, flushes it into blocks, restarts agentmon so the
# head is empty, then for each query: resets the process's peak RSS
# (/proc/PID/clear_refs), runs the query once, and reports the peak RSS
# growth over the RSS before the query, the compressed size of the data
# (the blocks' chunk files) and their ratio. Each query selects every series
# of the workload over the whole loaded range.
#
# Usage: bench/query-memory.sh
# Environment: INSTANCES=200 STEPS=280 SKIP_BUILD=1 KEEP_DATA=1 OUT_DIR=...
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTANCES=${INSTANCES:-200}
STEPS=${STEPS:-280}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON="$REPO/target/release/agentmon"

BENCH_NAME=query-memory
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi

START_MS=$(( ($(date +%s) - STEPS * 15) / 15 * 15 * 1000 ))
END_MS=$((START_MS + (STEPS - 1) * 15000))
DATA="$WORK/data"
PORT=$(free_port 19700)
BASE="http://127.0.0.1:$PORT"

start_agentmon() {
    "$AGENTMON" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" >>"$WORK/agentmon.log" 2>&1 &
    SERVER_PID=$!
    wait_ready "$BASE/health/ready" agentmon
}

log "loading $INSTANCES instances × 180 series × $STEPS steps"
start_agentmon
"$AGENTMON" bench remote-write --url "$BASE/api/v1/write" --instances "$INSTANCES" \
    --steps "$STEPS" --start-ms "$START_MS" >"$WORK/load.txt"
curl -fsS -X POST "$BASE/api/v1/admin/tsdb/flush" >/dev/null
stop_server
start_agentmon

COMPRESSED=$(find "$DATA" -name chunks -path '*/blocks/*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
SAMPLES=$((INSTANCES * 180 * STEPS))
log "data: $SAMPLES samples, block chunk files $COMPRESSED bytes"

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

RANGE_S=$(( (END_MS - START_MS) / 1000 + 60 ))
QUERIES=(
    "instant|sum(count_over_time({job=\"hermes-agent\"}[${RANGE_S}s]))"
    "instant|sum by (instance) (sum_over_time({job=\"hermes-agent\"}[${RANGE_S}s]))"
    "range|sum by (instance) (max_over_time({job=\"hermes-agent\"}[5m]))"
)
printf '\n%-8s %18s %14s %12s %10s  %s\n' kind answer "peak +RSS MB" "data MB" "ratio" query
for entry in "${QUERIES[@]}"; do
    kind=${entry%%|*}
    query=${entry#*|}
    before=$(rss_kb "$SERVER_PID" VmRSS)
    echo 5 >"/proc/$SERVER_PID/clear_refs"
    if [[ "$kind" == instant ]]; then
        answer=$(curl -fsS "$BASE/api/v1/query" --data-urlencode "query=$query" \
            --data-urlencode "time=$(awk -v t="$END_MS" 'BEGIN { printf "%.3f", t / 1000 }')")
    else
        answer=$(curl -fsS "$BASE/api/v1/query_range" --data-urlencode "query=$query" \
            --data-urlencode "start=$(awk -v t="$START_MS" 'BEGIN { printf "%.3f", t / 1000 }')" \
            --data-urlencode "end=$(awk -v t="$END_MS" 'BEGIN { printf "%.3f", t / 1000 }')" \
            --data-urlencode "step=15")
    fi
    peak=$(rss_kb "$SERVER_PID" VmHWM)
    # The first query's answer is the number of samples it read; for the
    # others, the number of series returned.
    touched=$(printf '%s' "$answer" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]["result"]
counted = sys.argv[1].startswith("sum(count_over_time")
print("%d samples" % sum(float(s["value"][1]) for s in d) if counted else "%d series" % len(d))' "$query")
    printf '%-8s %18s %14.1f %12.1f %10.2f  %s\n' "$kind" "$touched" \
        "$(awk -v a="$peak" -v b="$before" 'BEGIN { print (a - b) / 1024 }')" \
        "$(awk -v c="$COMPRESSED" 'BEGIN { print c / 1048576 }')" \
        "$(awk -v a="$peak" -v b="$before" -v c="$COMPRESSED" 'BEGIN { print (a - b) * 1024 / c }')" \
        "$query"
done
echo "ratio = peak RSS growth during the query / compressed size of the data it read"
