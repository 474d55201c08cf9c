#!/usr/bin/env bash
# Side-by-side PromQL query benchmark: agentmon, VictoriaMetrics and
# Prometheus, one after another on loopback. Each server is loaded with the
# same agent-fleet workload (bench/WORKLOAD.md) by `agentmon bench
# remote-write`, then `agentmon bench query` times range queries over the
# loaded hour (the standard dashboard queries and heavier ones, step 15 s)
# against it: median, p90 and fastest of ITERATIONS runs per query, plus the
# series/points returned and the sum of values, so answers can be compared.
# Finally it prints each query's median per server and agentmon/peer ratios.
#
# Usage: bench/query.sh
# Environment:
#   INSTANCES=200 STEPS=240  workload size (the "small" workload by default)
#   ITERATIONS=15            timed runs per query (after 2 untimed ones)
#   PEERS="agentmon agentmon-nocache victoria-metrics victoria-metrics-nocache prometheus"
#                            servers to run, in order
#   SKIP_BUILD=1             use an existing target/release/agentmon
#   AGENTMON=PATH            another agentmon binary (with SKIP_BUILD=1)
#   OUT_DIR=target/bench-results   where the JSON results go
#   KEEP_DATA=1              keep the data directories and logs
# agentmon runs twice: as installed ("agentmon", with its rollup cache, which
# keeps aggregations' per-step values across queries) and with that cache
# off ("agentmon-nocache"). VictoriaMetrics runs twice too: as installed ("victoria-metrics": its rollup
# result cache answers repeated queries from earlier runs' work, as it does
# for a dashboard refreshing) and with that cache disabled
# ("victoria-metrics-nocache": every run computes its answer, as agentmon and
# Prometheus do). Both run without a latency offset so the last 30 s of the
# data are visible.
# Servers whose binary is missing are skipped with a message.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
INSTANCES=${INSTANCES:-200}
STEPS=${STEPS:-240}
ITERATIONS=${ITERATIONS:-15}
PEERS=${PEERS:-agentmon agentmon-nocache victoria-metrics victoria-metrics-nocache prometheus}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON=${AGENTMON:-$REPO/target/release/agentmon}

BENCH_NAME=query
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
for sub in "bench remote-write" "bench query"; do
    # shellcheck disable=SC2086
    if ! "$AGENTMON" $sub --help >/dev/null 2>&1; then
        echo "$AGENTMON has no '$sub' subcommand" >&2
        exit 1
    fi
done

# One data set for every server; the queries cover exactly its hour.
START_MS=$(( ($(date +%s) - STEPS * 15) / 15 * 15 * 1000 ))
END_MS=$((START_MS + (STEPS - 1) * 15000))
mkdir -p "$OUT_DIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
log "workload: $INSTANCES instances × 180 series × $STEPS steps; queries over [$START_MS, $END_MS] ms, step 15 s, $ITERATIONS runs each"

RAN=()

# run_server NAME BINARY READY_PATH ARGS... ("@PORT@"/"@DATA@" substituted)
run_server() {
    local name=$1 bin=$2 ready=$3
    shift 3
    start_server "$name" "$bin" "$ready" 19500 "$@" || return 0
    local base=$BASE
    if ! "$AGENTMON" bench remote-write --url "$base/api/v1/write" --instances "$INSTANCES" \
        --steps "$STEPS" --start-ms "$START_MS" >"$WORK/$name-load.txt" 2>&1; then
        log "$name: loading failed; skipping its queries"
        tail -n 5 "$WORK/$name-load.txt" >&2
        stop_server
        return 0
    fi
    [[ "$name" != victoria-metrics* ]] || curl -fsS "$base/internal/force_flush" >/dev/null || true
    log "$name: loaded; load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"
    local out="$OUT_DIR/query-$name-$STAMP.json" status=0
    "$AGENTMON" bench query --url "$base" --start-ms "$START_MS" --end-ms "$END_MS" \
        --iterations "$ITERATIONS" --json-out "$out" || status=$?
    [[ $status == 0 ]] || log "$name: some queries failed (exit $status)"
    stop_server
    [[ -s "$out" ]] && RAN+=("$name:$out")
}

for peer in $PEERS; do
    case "$peer" in
    agentmon)
        run_server agentmon "$AGENTMON" /health/ready \
            serve --data-dir @DATA@ --listen 127.0.0.1:@PORT@
        ;;
    agentmon-nocache)
        run_server agentmon-nocache "$AGENTMON" /health/ready \
            serve --data-dir @DATA@ --listen 127.0.0.1:@PORT@ --query.rollup-cache-values 0
        ;;
    victoria-metrics | victoria-metrics-nocache)
        if ! bin=$(command -v victoria-metrics); then
            log "skipping $peer: no victoria-metrics binary on PATH"
            continue
        fi
        cache=()
        [[ "$peer" == victoria-metrics ]] || cache=(-search.disableCache)
        run_server "$peer" "$bin" /health -storageDataPath @DATA@ \
            -httpListenAddr 127.0.0.1:@PORT@ -search.latencyOffset 0s "${cache[@]}"
        ;;
    prometheus)
        if ! bin=$(command -v prometheus); then
            log "skipping Prometheus: no prometheus binary on PATH"
            continue
        fi
        printf 'global:\n  scrape_interval: 15s\n' >"$WORK/prometheus.yml"
        run_server prometheus "$bin" /-/ready --web.enable-remote-write-receiver \
            --storage.tsdb.path @DATA@ --config.file "$WORK/prometheus.yml" \
            --web.listen-address 127.0.0.1:@PORT@
        ;;
    *) log "unknown peer '$peer' ignored" ;;
    esac
done

[[ ${#RAN[@]} -gt 0 ]] || { echo "no server was measured" >&2; exit 1; }

# Median per query and server, then agentmon/peer ratios of the medians.
python3 - "${RAN[@]}" <<'PY'
import json, sys
runs = []
for arg in sys.argv[1:]:
    name, path = arg.split(":", 1)
    with open(path) as f:
        runs.append((name, json.load(f)))
queries = [q["query"] for q in runs[0][1]["queries"]]
names = [n for n, _ in runs]
def median(report, i):
    q = report["queries"][i]
    return q["median_ms"] if q.get("error") is None else None
print()
print("median latency (ms) of range queries, 1 h at 15 s steps")
peers = [n for n in names if n != "agentmon" and "agentmon" in names]
print("latency: " + ", ".join("%s = %s" % (chr(65 + i), n) for i, n in enumerate(names)))
print("%-4s " % "" + "".join("%10s" % chr(65 + i) for i in range(len(names))) + "".join(
    "%12s" % ("A/" + chr(65 + names.index(n))) for n in peers))
for i, query in enumerate(queries):
    row = "q%-3d " % (i + 1)
    meds = {n: median(r, i) for n, r in runs}
    row += "".join("%10s" % ("error" if meds[n] is None else "%.1f" % meds[n]) for n in names)
    if "agentmon" in meds:
        for n in names:
            if n == "agentmon":
                continue
            a, b = meds["agentmon"], meds[n]
            row += "%12s" % ("n/a" if a is None or b is None or b == 0 else "%.2f" % (a / b))
    print(row)
for i, query in enumerate(queries):
    print("q%d: %s" % (i + 1, query))
PY
