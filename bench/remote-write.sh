#!/usr/bin/env bash
# Side-by-side remote-write ingest benchmark: agentmon, VictoriaMetrics and
# Prometheus, one after another on loopback, each fed the same agent-fleet
# workload (bench/WORKLOAD.md) by `agentmon bench remote-write`.
#
# For each server it reports samples/s (as measured by the load generator),
# server CPU seconds per million samples (utime+stime from /proc/PID/stat,
# delta over the load run), peak RSS (VmHWM) at the end of the load run and
# again after the flush (which may add a transient peak), and bytes per
# sample on disk after a flush, then the ratio agentmon/peer for every figure.
#
# Usage: bench/remote-write.sh
# Environment:
#   WORKLOAD=small|large   200 instances × 240 steps (default) or 5600 × 20
#   INSTANCES, STEPS       override the workload size
#   SENDERS=4              parallel connections of the load generator
#   BATCH_INSTANCES=11     whole instances per request (≈ 2,000 series)
#   PEERS="agentmon victoria-metrics prometheus"   servers to run, in order
#   SKIP_BUILD=1           use an existing target/release/agentmon
#   OUT_DIR=target/bench-results   where the JSON results file goes
#   KEEP_DATA=1            keep the data directories and logs
# Servers whose binary is missing are skipped with a message. The script only
# ever stops processes it started itself, by PID.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORKLOAD=${WORKLOAD:-small}
case "$WORKLOAD" in
small) DEFAULT_INSTANCES=200 DEFAULT_STEPS=240 ;;
large) DEFAULT_INSTANCES=5600 DEFAULT_STEPS=20 ;;
*) echo "WORKLOAD must be small or large, not '$WORKLOAD'" >&2; exit 2 ;;
esac
INSTANCES=${INSTANCES:-$DEFAULT_INSTANCES}
STEPS=${STEPS:-$DEFAULT_STEPS}
SENDERS=${SENDERS:-4}
BATCH_INSTANCES=${BATCH_INSTANCES:-11}
PEERS=${PEERS:-agentmon victoria-metrics prometheus}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON="$REPO/target/release/agentmon"
CLK_TCK=$(getconf CLK_TCK)

BENCH_NAME=remote-write
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

# Size in bytes of a data directory once background merges have settled: the
# first reading that three readings a second apart agree on (at most 30 s).
settled_size() {
    local last=-1 same=0 size
    for _ in $(seq 1 30); do
        sleep 1
        size=$(du -sb "$1" | cut -f1)
        if [[ "$size" == "$last" ]]; then
            same=$((same + 1))
            [[ $same -lt 2 ]] || break
        else
            same=0
        fi
        last=$size
    done
    echo "$size"
}

# A number field of a flat JSON object written by the load generator.
json_number() {
    sed -n "s/^ *\"$2\": *\([-0-9.eE+]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
if ! "$AGENTMON" bench remote-write --help >/dev/null 2>&1; then
    echo "$AGENTMON has no 'bench remote-write' subcommand; cannot generate load" >&2
    exit 1
fi

# One start time for every server, so all of them receive identical bodies.
START_MS=$(( ($(date +%s) - STEPS * 15) / 15 * 15 * 1000 ))
SAMPLES_PLANNED=$((INSTANCES * 180 * STEPS))
mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/remote-write-$WORKLOAD-$(date -u +%Y%m%dT%H%M%SZ).json"
log "workload $WORKLOAD: $INSTANCES instances × 180 series × $STEPS steps = $SAMPLES_PLANNED samples, $SENDERS connections"

declare -A RATE CPU RSS RSS_INGEST BPS NOTE LOAD
RAN=()

# run_server NAME BINARY READY_PATH WRITE_PATH FLUSH_CMD ARGS...
# The string "@PORT@" and "@DATA@" in ARGS are replaced by the port and the
# data directory. FLUSH_CMD is run with the base URL appended.
run_server() {
    local name=$1 bin=$2 ready=$3 write=$4 flush=$5
    shift 5
    if ! start_server "$name" "$bin" "$ready" 19400 "$@"; then
        NOTE[$name]="failed to start"
        return 0
    fi
    local base=$BASE data=$DATA
    local report="$WORK/$name-load.json" cpu0 cpu1 status=0
    # Other work on the machine slows every server; the load average before
    # the run goes into the results so that figures can be judged.
    LOAD[$name]=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="${LOAD[$name]}" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
        log "warning: load average ${LOAD[$name]} on $(nproc) cores; samples/s will read low"
    fi
    cpu0=$(cpu_ticks "$SERVER_PID")
    "$AGENTMON" bench remote-write --url "$base$write" --instances "$INSTANCES" \
        --steps "$STEPS" --senders "$SENDERS" --batch-instances "$BATCH_INSTANCES" \
        --start-ms "$START_MS" --json-out "$report" >&2 || status=$?
    cpu1=$(cpu_ticks "$SERVER_PID")
    RSS_INGEST[$name]=$(awk -v kb="$(peak_rss_kb "$SERVER_PID")" 'BEGIN { printf "%.1f", kb / 1024 }')
    if [[ ! -s "$report" ]]; then
        log "$name: load generator failed (exit $status)"
        stop_server
        NOTE[$name]="load generator failed"
        return 0
    fi
    [[ $status == 0 ]] || NOTE[$name]="some requests failed (see report)"
    $flush "$base" >/dev/null 2>&1 || log "$name: flush request failed"
    local sent bytes
    sent=$(json_number "$report" samples_sent)
    bytes=$(settled_size "$data")
    RATE[$name]=$(json_number "$report" samples_per_second)
    CPU[$name]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$sent" \
        'BEGIN { printf "%.3f", (n > 0 ? t / hz / (n / 1e6) : 0) }')
    RSS[$name]=$(awk -v kb="$(peak_rss_kb "$SERVER_PID")" 'BEGIN { printf "%.1f", kb / 1024 }')
    BPS[$name]=$(awk -v b="$bytes" -v n="$sent" 'BEGIN { printf "%.3f", (n > 0 ? b / n : 0) }')
    stop_server
    cp "$report" "$WORK/$name-report.json"
    RAN+=("$name")
}

flush_agentmon() { curl -fsS -X POST "$1/api/v1/admin/tsdb/flush"; }
flush_vm() { curl -fsS "$1/internal/force_flush"; }
flush_none() { true; }

for peer in $PEERS; do
    case "$peer" in
    agentmon)
        if ! "$AGENTMON" serve --help >/dev/null 2>&1; then
            log "skipping agentmon: $AGENTMON has no 'serve' subcommand yet"
            continue
        fi
        run_server agentmon "$AGENTMON" /health/ready /api/v1/write flush_agentmon \
            serve --data-dir @DATA@ --listen 127.0.0.1:@PORT@
        ;;
    victoria-metrics)
        if ! bin=$(command -v victoria-metrics); then
            log "skipping VictoriaMetrics: no victoria-metrics binary on PATH"
            continue
        fi
        run_server victoria-metrics "$bin" /health /api/v1/write flush_vm \
            -storageDataPath @DATA@ -httpListenAddr 127.0.0.1:@PORT@
        ;;
    prometheus)
        if ! bin=$(command -v prometheus); then
            log "skipping Prometheus: no prometheus binary on PATH"
            continue
        fi
        printf 'global:\n  scrape_interval: 15s\n' >"$WORK/prometheus.yml"
        run_server prometheus "$bin" /-/ready /api/v1/write flush_none \
            --web.enable-remote-write-receiver --storage.tsdb.path @DATA@ \
            --config.file "$WORK/prometheus.yml" --web.listen-address 127.0.0.1:@PORT@
        [[ -z "${RATE[prometheus]:-}" ]] || NOTE[prometheus]="disk = head WAL + chunks, not compacted"
        ;;
    *) log "unknown peer '$peer' ignored" ;;
    esac
done

[[ ${#RAN[@]} -gt 0 ]] || { echo "no server was measured" >&2; exit 1; }

# The table, then agentmon/peer ratios.
echo
echo "remote write, $WORKLOAD workload: $INSTANCES instances × $STEPS steps = $SAMPLES_PLANNED samples, $SENDERS connections, $BATCH_INSTANCES instances/request"
printf '%-18s %14s %16s %15s %17s %14s %8s  %s\n' server samples/s "CPU s/M samples" \
    "RSS ingest MB" "RSS w/ flush MB" bytes/sample load note
for name in "${RAN[@]}"; do
    printf '%-18s %14.0f %16s %15s %17s %14s %8s  %s\n' "$name" "${RATE[$name]}" "${CPU[$name]}" \
        "${RSS_INGEST[$name]}" "${RSS[$name]}" "${BPS[$name]}" "${LOAD[$name]}" "${NOTE[$name]:-}"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
if [[ -n "${RATE[agentmon]:-}" ]]; then
    for name in "${RAN[@]}"; do
        [[ "$name" != agentmon ]] || continue
        printf '%-18s %14s %16s %15s %17s %14s\n' "agentmon/$name" \
            "$(ratio "${RATE[agentmon]}" "${RATE[$name]}")" "$(ratio "${CPU[agentmon]}" "${CPU[$name]}")" \
            "$(ratio "${RSS_INGEST[agentmon]}" "${RSS_INGEST[$name]}")" \
            "$(ratio "${RSS[agentmon]}" "${RSS[$name]}")" "$(ratio "${BPS[agentmon]}" "${BPS[$name]}")"
    done
else
    echo "(no agentmon figures this run, so no ratios)"
fi

# The machine-readable results: one object per server, with its load report.
{
    printf '{\n  "workload": "%s", "instances": %d, "steps": %d, "samples": %d,\n' \
        "$WORKLOAD" "$INSTANCES" "$STEPS" "$SAMPLES_PLANNED"
    printf '  "connections": %d, "batch_instances": %d, "start_ms": %d,\n  "servers": {' \
        "$SENDERS" "$BATCH_INSTANCES" "$START_MS"
    sep=""
    for name in "${RAN[@]}"; do
        printf '%s\n    "%s": {"samples_per_second": %s, "cpu_seconds_per_million_samples": %s,' \
            "$sep" "$name" "${RATE[$name]}" "${CPU[$name]}"
        printf ' "peak_rss_ingest_mb": %s, "peak_rss_mb": %s, "disk_bytes_per_sample": %s, "loadavg_before": %s,' \
            "${RSS_INGEST[$name]}" "${RSS[$name]}" "${BPS[$name]}" "${LOAD[$name]}"
        printf ' "note": "%s",\n      "load_report": ' "${NOTE[$name]:-}"
        sed '2,$s/^/      /' "$WORK/$name-report.json"
        printf '}'
        sep=","
    done
    printf '\n  }\n}\n'
} >"$RESULTS"
log "results written to $RESULTS"
