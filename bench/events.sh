#!/usr/bin/env bash
# Agent-events ingest benchmark: agentmon's POST /api/v1/events against
# VictoriaMetrics' /api/v1/import in the same run, one after the other on
# loopback, each on a fresh data directory.
#
# `agentmon bench events` sends a realistic mix of agent events
# (session_start, steps, tool calls, LLM errors, logs, session_end over
# many sessions, agents and instances) as NDJSON batches for DURATION, over
# CONCURRENCY connections; against agentmon it then checks that the derived
# counters (tokens, tool calls, LLM errors) rose by exactly what the
# acknowledged events carry. VictoriaMetrics gets the same events as import
# JSON lines (one row per event, same batch size, same connections).
#
# For each server it reports events (rows) per second, server CPU as a
# share of one core over the run (utime+stime from /proc/PID/stat), server
# CPU microseconds per event, and peak RSS (VmHWM), then the ratios
# agentmon/VictoriaMetrics.
#
# Usage: bench/events.sh
# Environment:
#   DURATION=20s        how long each server is fed
#   CONCURRENCY=1       connections of the load generator
#   BATCH=1000          events (lines) per request
#   PEERS="agentmon victoria-metrics"   servers to run, in order
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   AGENTMON=PATH       another agentmon binary (implies nothing about SKIP_BUILD)
#   OUT_DIR=target/bench-results   where the JSON reports go
#   KEEP_DATA=1         keep the data directories and logs
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-20s}
CONCURRENCY=${CONCURRENCY:-1}
BATCH=${BATCH:-1000}
PEERS=${PEERS:-agentmon victoria-metrics}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON=${AGENTMON:-$REPO/target/release/agentmon}
CLK_TCK=$(getconf CLK_TCK)

BENCH_NAME=events
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

json_number() {
    sed -n "s/^ *\"$2\": *\([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
if ! "$AGENTMON" bench events --help >/dev/null 2>&1; then
    echo "$AGENTMON has no 'bench events' subcommand" >&2
    exit 1
fi
mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log "$DURATION per server, batches of $BATCH, $CONCURRENCY connections"

declare -A RATE CPU_SHARE CPU_US RSS LOAD NOTE
RAN=()

# run_server NAME BINARY READY_PATH PATH FORMAT EXTRA_BENCH_ARGS ARGS...
run_server() {
    local name=$1 bin=$2 ready=$3 path=$4 format=$5 extra=$6
    shift 6
    if ! start_server "$name" "$bin" "$ready" 19600 "$@"; then
        NOTE[$name]="failed to start"
        return 0
    fi
    local report="$OUT_DIR/events-$name-$STAMP.json" cpu0 cpu1 t0 t1 status=0
    LOAD[$name]=$(cut -d' ' -f1 /proc/loadavg)
    cpu0=$(cpu_ticks "$SERVER_PID")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$AGENTMON" bench events --url "$BASE$path" --format "$format" \
        --concurrency "$CONCURRENCY" --batch-size "$BATCH" --duration "$DURATION" \
        --json-out "$report" ${extra//@BASE@/$BASE} >&2 || status=$?
    t1=$(date +%s.%N)
    cpu1=$(cpu_ticks "$SERVER_PID")
    RSS[$name]=$(awk -v kb="$(peak_rss_kb "$SERVER_PID")" 'BEGIN { printf "%.1f", kb / 1024 }')
    stop_server
    if [[ ! -s "$report" ]]; then
        NOTE[$name]="load generator failed (exit $status)"
        return 0
    fi
    [[ $status == 0 ]] || NOTE[$name]="failed requests or inexact counters (see $report)"
    local sent
    sent=$(json_number "$report" events_sent)
    RATE[$name]=$(json_number "$report" events_per_second)
    CPU_SHARE[$name]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v a="$t0" -v b="$t1" \
        'BEGIN { printf "%.1f", 100 * t / hz / (b - a) }')
    CPU_US[$name]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$sent" \
        'BEGIN { printf "%.2f", (n > 0 ? 1e6 * t / hz / n : 0) }')
    RAN+=("$name")
}

for peer in $PEERS; do
    case "$peer" in
    agentmon)
        run_server agentmon "$AGENTMON" /health/ready /api/v1/events agentmon \
            "--verify-metrics @BASE@/metrics/agents" \
            serve --data-dir @DATA@ --listen 127.0.0.1:@PORT@
        ;;
    victoria-metrics)
        if ! bin=$(command -v victoria-metrics); then
            log "skipping VictoriaMetrics: no victoria-metrics binary on PATH"
            continue
        fi
        run_server victoria-metrics "$bin" /health /api/v1/import vm-import "" \
            -storageDataPath @DATA@ -httpListenAddr 127.0.0.1:@PORT@
        ;;
    *) log "unknown peer '$peer' ignored" ;;
    esac
done

[[ ${#RAN[@]} -gt 0 ]] || { echo "no server was measured" >&2; exit 1; }

echo
echo "agent events, $DURATION per server, batches of $BATCH, $CONCURRENCY connections (load generator on the same machine)"
printf '%-18s %14s %16s %14s %12s %8s  %s\n' server "events/s" "server CPU %" "CPU µs/event" "peak RSS MB" load note
for name in "${RAN[@]}"; do
    printf '%-18s %14.0f %16s %14s %12s %8s  %s\n' "$name" "${RATE[$name]}" "${CPU_SHARE[$name]}" \
        "${CPU_US[$name]}" "${RSS[$name]}" "${LOAD[$name]}" "${NOTE[$name]:-}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
if [[ -n "${RATE[agentmon]:-}" && -n "${RATE[victoria-metrics]:-}" ]]; then
    printf '%-18s %14s %16s %14s %12s\n' "agentmon/VM" \
        "$(ratio "${RATE[agentmon]}" "${RATE[victoria-metrics]}")" \
        "$(ratio "${CPU_SHARE[agentmon]}" "${CPU_SHARE[victoria-metrics]}")" \
        "$(ratio "${CPU_US[agentmon]}" "${CPU_US[victoria-metrics]}")" \
        "$(ratio "${RSS[agentmon]}" "${RSS[victoria-metrics]}")"
fi
log "reports in $OUT_DIR/events-*-$STAMP.json"
