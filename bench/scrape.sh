#!/usr/bin/env bash
# Scraping benchmark: agentmon and Prometheus, one after the other, each
# scraping the same TARGETS loopback targets of 180 series each (served by
# `agentmon bench scrape-targets`: counters, gauges and histograms whose
# values change every scrape) every INTERVAL. After WARMUP (every target has
# been scraped at least once by then), the server's CPU time is read over
# MEASURE (several intervals) from /proc/PID/stat and reported as a share of
# one core, with peak RSS and the ratio agentmon/Prometheus. The script then
# checks through each server's query API that count(up == 1) equals TARGETS
# and reports the samples of the last scrapes.
#
# Usage: bench/scrape.sh
# Environment:
#   TARGETS=1000 INTERVAL=15s WARMUP=35 (s) MEASURE=60 (s)
#   PEERS="agentmon prometheus"   servers to run, in order
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   KEEP_DATA=1         keep the data directories, configs and logs
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGETS=${TARGETS:-1000}
INTERVAL=${INTERVAL:-15s}
WARMUP=${WARMUP:-35}
MEASURE=${MEASURE:-60}
PEERS=${PEERS:-agentmon prometheus}
AGENTMON="$REPO/target/release/agentmon"
CLK_TCK=$(getconf CLK_TCK)

BENCH_NAME=scrape
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

# The targets process is ours too; it is stopped by its PID on exit.
TARGETS_PID=""
stop_targets() {
    [[ -n "$TARGETS_PID" ]] || return 0
    kill -TERM "$TARGETS_PID" 2>/dev/null || true
    wait "$TARGETS_PID" 2>/dev/null || true
    TARGETS_PID=""
}
trap 'stop_targets; cleanup' EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
if ! "$AGENTMON" bench scrape-targets --help >/dev/null 2>&1; then
    echo "$AGENTMON has no 'bench scrape-targets' subcommand" >&2
    exit 1
fi

ADDRESSES="$WORK/targets.txt"
"$AGENTMON" bench scrape-targets --targets "$TARGETS" --addresses-out "$ADDRESSES" \
    >"$WORK/targets.log" 2>&1 &
TARGETS_PID=$!
for _ in $(seq 1 300); do
    [[ -s "$ADDRESSES" ]] && break
    kill -0 "$TARGETS_PID" 2>/dev/null || { cat "$WORK/targets.log" >&2; exit 1; }
    sleep 0.1
done
[[ $(wc -l <"$ADDRESSES") == "$TARGETS" ]] || { echo "targets did not start" >&2; exit 1; }
log "$TARGETS targets serving; scraping every $INTERVAL, warm-up ${WARMUP}s, measuring ${MEASURE}s"

# The same scrape configuration for both servers.
CONFIG="$WORK/scrape.yml"
{
    printf 'global:\n  scrape_interval: %s\n  scrape_timeout: 10s\n' "$INTERVAL"
    printf 'scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets:\n'
    sed 's/^/          - /' "$ADDRESSES"
} >"$CONFIG"

declare -A CPU RSS UP SAMPLES LOAD
RAN=()

# Instant query; prints the first result's value or "none".
query_value() {
    curl -fsS --get "$1/api/v1/query" --data-urlencode "query=$2" |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}

measure() {
    local name=$1 cpu0 cpu1
    log "$name: warming up for ${WARMUP}s"
    sleep "$WARMUP"
    LOAD[$name]=$(cut -d' ' -f1 /proc/loadavg)
    cpu0=$(cpu_ticks "$SERVER_PID")
    sleep "$MEASURE"
    cpu1=$(cpu_ticks "$SERVER_PID")
    CPU[$name]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v s="$MEASURE" \
        'BEGIN { printf "%.2f", 100 * t / hz / s }')
    RSS[$name]=$(awk -v kb="$(peak_rss_kb "$SERVER_PID")" 'BEGIN { printf "%.1f", kb / 1024 }')
    UP[$name]=$(query_value "$BASE" 'count(up{job="bench"} == 1)' || echo error)
    SAMPLES[$name]=$(query_value "$BASE" 'sum(scrape_samples_scraped{job="bench"})' || echo error)
    stop_server
    RAN+=("$name")
}

for peer in $PEERS; do
    case "$peer" in
    agentmon)
        start_server agentmon "$AGENTMON" /health/ready 19800 \
            serve --config "$CONFIG" --data-dir @DATA@ --listen 127.0.0.1:@PORT@ || continue
        measure agentmon
        ;;
    prometheus)
        if ! bin=$(command -v prometheus); then
            log "skipping Prometheus: no prometheus binary on PATH"
            continue
        fi
        start_server prometheus "$bin" /-/ready 19800 --config.file "$CONFIG" \
            --storage.tsdb.path @DATA@ --web.listen-address 127.0.0.1:@PORT@ || continue
        measure prometheus
        ;;
    *) log "unknown peer '$peer' ignored" ;;
    esac
done
stop_targets

[[ ${#RAN[@]} -gt 0 ]] || { echo "no server was measured" >&2; exit 1; }
echo
echo "scraping $TARGETS targets × 180 series every $INTERVAL; CPU over ${MEASURE}s after ${WARMUP}s warm-up"
printf '%-12s %18s %12s %10s %16s %8s\n' server "CPU % of one core" "peak RSS MB" "up == 1" "samples scraped" load
for name in "${RAN[@]}"; do
    printf '%-12s %18s %12s %10s %16s %8s\n' "$name" "${CPU[$name]}" "${RSS[$name]}" \
        "${UP[$name]}" "${SAMPLES[$name]}" "${LOAD[$name]}"
done
if [[ -n "${CPU[agentmon]:-}" && -n "${CPU[prometheus]:-}" ]]; then
    awk -v a="${CPU[agentmon]}" -v b="${CPU[prometheus]}" -v ra="${RSS[agentmon]}" -v rb="${RSS[prometheus]}" \
        'BEGIN { printf "%-12s %18.2f %12.2f\n", "agentmon/Prometheus", (b > 0 ? a / b : 0), (rb > 0 ? ra / rb : 0) }'
fi
status=0
if [[ -n "${UP[agentmon]:-}" && "${UP[agentmon]}" != "$TARGETS" ]]; then
    echo "agentmon: count(up == 1) is ${UP[agentmon]}, expected $TARGETS" >&2
    status=1
fi
exit "$status"
