#!/usr/bin/env bash
# Rule-evaluation benchmark: agentmon and Prometheus side by side, each
# evaluating the same ALERT_RULES alerting rules every 15 s over the same
# live data, the small agent-fleet workload (INSTANCES × 180 series, as
# `agentmon bench remote-write` sends it).
#
# `agentmon bench alert-rules` writes the rules: a mix of per-instance
# thresholds, rate()/increase() thresholds, error ratios,
# histogram_quantile over the hermes_* buckets and aggregations by label,
# with `for`, labels and templated annotations, in RULE_GROUPS groups.
# Both servers run at once; `agentmon bench feed` remote-writes identical
# bodies to both (BACKFILL past steps at once, then one step every 15 s),
# Prometheus having --web.enable-remote-write-receiver.
#
# Phases, for both servers at the same time:
#   1. baseline: no rules (rule_files matches no file yet); after
#      BASE_WARMUP s, CPU is read over MEASURE s: the ingest cost;
#   2. rules: the rule file is copied in and both reload (POST /-/reload);
#      after WARMUP s, CPU is read over MEASURE s again.
# CPU is utime+stime from /proc/PID/stat as a share of one core; the rule
# cost is phase 2 − phase 1. During phase 2 each server's own metrics are
# read every 15 s: the sum over groups of the last evaluation's duration
# (agentmon_rule_group_last_duration_seconds,
# prometheus_rule_group_last_duration_seconds) and the largest group, and
# the rule evaluations counted (…_rule_evaluations_total). Sanity check:
# both servers' /api/v1/alerts are read at the end and the firing and
# pending alerts compared, in total and per rule (rules whose counts
# differ are listed; alerts near a threshold may differ because the two
# servers evaluate at different instants of each interval).
# Target (issue 5): rule cost < 20% of one core for agentmon.
#
# Usage: bench/rules.sh
# Environment:
#   ALERT_RULES=1000 RULE_GROUPS=10 INSTANCES=200 BACKFILL=40 (steps)
#   BASE_WARMUP=30 WARMUP=45 MEASURE=60 (s; 60 s = 4 evaluations)
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   OUT_DIR=target/bench-results   where the JSON results file goes
#   KEEP_DATA=1         keep the data directories, configs and logs
# Prometheus is found on PATH; without it only agentmon is measured. The
# script only stops processes it started, by PID.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALERT_RULES=${ALERT_RULES:-1000}
RULE_GROUPS=${RULE_GROUPS:-10}
INSTANCES=${INSTANCES:-200}
BACKFILL=${BACKFILL:-40}
BASE_WARMUP=${BASE_WARMUP:-30}
WARMUP=${WARMUP:-45}
MEASURE=${MEASURE:-60}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON="$REPO/target/release/agentmon"
CLK_TCK=$(getconf CLK_TCK)

BENCH_NAME=rules
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

# Both servers and the feeder are ours; each is stopped by its PID on exit.
declare -A PID URL
FEED_PID=""
stop_all() {
    if [[ -n "$FEED_PID" ]]; then
        kill -TERM "$FEED_PID" 2>/dev/null || true
        wait "$FEED_PID" 2>/dev/null || true
        FEED_PID=""
    fi
    local name
    for name in "${!PID[@]}"; do
        SERVER_PID=${PID[$name]}
        stop_server
        unset "PID[$name]"
    done
}
trap 'stop_all; cleanup' EXIT

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
for sub in feed alert-rules; do
    if ! "$AGENTMON" bench "$sub" --help >/dev/null 2>&1; then
        echo "$AGENTMON has no 'bench $sub' subcommand" >&2
        exit 1
    fi
done

mkdir -p "$WORK/rules" "$OUT_DIR"
RESULTS="$OUT_DIR/rules-$(date -u +%Y%m%dT%H%M%SZ).json"
"$AGENTMON" bench alert-rules --rules "$ALERT_RULES" --groups "$RULE_GROUPS" \
    --instances "$INSTANCES" --out "$WORK/bench-rules.yml"

# The same evaluation settings for both; the glob matches nothing yet.
cat >"$WORK/agentmon.yml" <<EOF
global:
  evaluation_interval: 15s
rule_files:
  - $WORK/rules/*.yml
EOF
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 15s
  evaluation_interval: 15s
rule_files:
  - $WORK/rules/*.yml
EOF

start_server agentmon "$AGENTMON" /health/ready 19700 \
    serve --config "$WORK/agentmon.yml" --data-dir @DATA@ --listen 127.0.0.1:@PORT@
PID[agentmon]=$SERVER_PID URL[agentmon]=$BASE
SERVERS=(agentmon)
if bin=$(command -v prometheus); then
    SERVER_PID=""
    if start_server prometheus "$bin" /-/ready 19750 --config.file "$WORK/prometheus.yml" \
        --storage.tsdb.path @DATA@ --web.listen-address 127.0.0.1:@PORT@ \
        --web.enable-remote-write-receiver --web.enable-lifecycle; then
        PID[prometheus]=$SERVER_PID URL[prometheus]=$BASE
        SERVERS+=(prometheus)
    fi
else
    log "skipping Prometheus: no prometheus binary on PATH"
fi
SERVER_PID=""

feed_urls=()
for name in "${SERVERS[@]}"; do feed_urls+=(--url "${URL[$name]}/api/v1/write"); done
total=$((BASE_WARMUP + 2 * MEASURE + WARMUP + 120))
"$AGENTMON" bench feed "${feed_urls[@]}" --instances "$INSTANCES" --backfill-steps "$BACKFILL" \
    --duration "${total}s" --ready-file "$WORK/fed" >"$WORK/feed.log" 2>&1 &
FEED_PID=$!
for _ in $(seq 1 1200); do
    [[ -e "$WORK/fed" ]] && break
    kill -0 "$FEED_PID" 2>/dev/null || { cat "$WORK/feed.log" >&2; exit 1; }
    sleep 0.1
done
[[ -e "$WORK/fed" ]] || { echo "the backfill did not finish in 120 s" >&2; exit 1; }
log "fed $BACKFILL steps of $INSTANCES instances × 180 series to ${SERVERS[*]}; feeding live"

declare -A CPU_BASE CPU_RULES RSS EVAL_SUM EVAL_MAX EVALS FIRING PENDING
LOAD_BASE=""
LOAD_RULES=""

# cpu_share VAR: reads every server's CPU over MEASURE into VAR[name].
cpu_share() {
    local -n into=$1
    local name
    declare -A t0
    for name in "${SERVERS[@]}"; do t0[$name]=$(cpu_ticks "${PID[$name]}"); done
    sleep "$MEASURE"
    for name in "${SERVERS[@]}"; do
        into[$name]=$(awk -v t=$(($(cpu_ticks "${PID[$name]}") - t0[$name])) -v hz="$CLK_TCK" \
            -v s="$MEASURE" 'BEGIN { printf "%.2f", 100 * t / hz / s }')
    done
}

# Sum and max over rule groups of a gauge, and the sum of a counter, from
# a server's /metrics: prints "SUM MAX EVALS".
group_metrics() {
    local prefix=$1 url=$2
    curl -fsS "$url/metrics" | awk -v g="${prefix}_rule_group_last_duration_seconds" \
        -v e="${prefix}_rule_evaluations_total" '
        index($0, g "{") == 1 { s += $NF; if ($NF > m) m = $NF }
        index($0, e "{") == 1 || $1 == e { n += $NF }
        END { printf "%.6f %.6f %d\n", s, m, n }'
}
prefix_of() { [[ $1 == agentmon ]] && echo agentmon || echo prometheus; }

log "phase 1 (no rules): settling ${BASE_WARMUP}s, measuring ${MEASURE}s"
sleep "$BASE_WARMUP"
LOAD_BASE=$(cut -d' ' -f1 /proc/loadavg)
cpu_share CPU_BASE

cp "$WORK/bench-rules.yml" "$WORK/rules/bench.yml"
for name in "${SERVERS[@]}"; do
    curl -fsS -X POST "${URL[$name]}/-/reload" >/dev/null || { log "$name: reload failed"; exit 1; }
    loaded=$(curl -fsS "${URL[$name]}/api/v1/rules?type=alert" |
        python3 -c 'import json,sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
    log "$name: $loaded alerting rules loaded"
    [[ "$loaded" == "$ALERT_RULES" ]] || { log "$name: expected $ALERT_RULES rules"; exit 1; }
done

log "phase 2 ($ALERT_RULES rules): warming up ${WARMUP}s, measuring ${MEASURE}s"
sleep "$WARMUP"
LOAD_RULES=$(cut -d' ' -f1 /proc/loadavg)
declare -A EVALS0
for name in "${SERVERS[@]}"; do
    read -r _ _ EVALS0[$name] < <(group_metrics "$(prefix_of "$name")" "${URL[$name]}")
done
# Group durations are sampled every 15 s in the background of the CPU window.
(
    for _ in $(seq 1 $((MEASURE / 15))); do
        sleep 15
        for name in "${SERVERS[@]}"; do
            echo "$name $(group_metrics "$(prefix_of "$name")" "${URL[$name]}")"
        done
    done
) >"$WORK/durations.txt" &
sampler=$!
cpu_share CPU_RULES
wait "$sampler" || true
for name in "${SERVERS[@]}"; do
    read -r EVAL_SUM[$name] EVAL_MAX[$name] < <(awk -v n="$name" \
        '$1 == n { s += $2; if ($3 > m) m = $3; c++ } END { printf "%.4f %.4f\n", (c ? s / c : 0), m }' \
        "$WORK/durations.txt")
    read -r _ _ evals1 < <(group_metrics "$(prefix_of "$name")" "${URL[$name]}")
    EVALS[$name]=$((evals1 - EVALS0[$name]))
    RSS[$name]=$(awk -v kb="$(peak_rss_kb "${PID[$name]}")" 'BEGIN { printf "%.1f", kb / 1024 }')
done

# Alerts of both servers, read back to back: per rule, firing and pending.
for name in "${SERVERS[@]}"; do
    curl -fsS "${URL[$name]}/api/v1/alerts" >"$WORK/$name-alerts.json"
done
for name in "${SERVERS[@]}"; do
    read -r FIRING[$name] PENDING[$name] < <(python3 -c '
import json, sys
alerts = json.load(open(sys.argv[1]))["data"]["alerts"]
print(sum(a["state"] == "firing" for a in alerts), sum(a["state"] == "pending" for a in alerts))' \
        "$WORK/$name-alerts.json")
done
DIFFERING="[]"
if [[ -n "${PID[prometheus]:-}" ]]; then
    DIFFERING=$(python3 -c '
import collections, json, sys
def per_rule(path):
    c = collections.Counter()
    for a in json.load(open(path))["data"]["alerts"]:
        c[(a["labels"]["alertname"], a["state"])] += 1
    return c
a, p = per_rule(sys.argv[1]), per_rule(sys.argv[2])
diff = sorted({k[0] for k in set(a) | set(p) if a[k] != p[k]})
print(json.dumps(diff))' "$WORK/agentmon-alerts.json" "$WORK/prometheus-alerts.json")
fi
stop_all

echo
echo "$ALERT_RULES alerting rules in $RULE_GROUPS groups every 15s over $INSTANCES instances × 180 series (live remote write)"
echo "CPU as % of one core over ${MEASURE}s; load average ${LOAD_BASE} (baseline), ${LOAD_RULES} (rules)"
printf '%-12s %9s %9s %10s %14s %13s %11s %8s %8s %8s\n' server ingest% total% "rules%" \
    "eval sum ms" "eval max ms" evaluations firing pending "RSS MB"
declare -A RULE_CPU
for name in "${SERVERS[@]}"; do
    RULE_CPU[$name]=$(awk -v a="${CPU_RULES[$name]}" -v b="${CPU_BASE[$name]}" 'BEGIN { printf "%.2f", a - b }')
    printf '%-12s %9s %9s %10s %14.1f %13.1f %11s %8s %8s %8s\n' "$name" "${CPU_BASE[$name]}" \
        "${CPU_RULES[$name]}" "${RULE_CPU[$name]}" "$(awk -v v="${EVAL_SUM[$name]}" 'BEGIN { print v * 1000 }')" \
        "$(awk -v v="${EVAL_MAX[$name]}" 'BEGIN { print v * 1000 }')" "${EVALS[$name]}" \
        "${FIRING[$name]}" "${PENDING[$name]}" "${RSS[$name]}"
done
status=0
if [[ -n "${CPU_RULES[prometheus]:-}" ]]; then
    awk -v a="${RULE_CPU[agentmon]}" -v b="${RULE_CPU[prometheus]}" -v x="${EVAL_SUM[agentmon]}" \
        -v y="${EVAL_SUM[prometheus]}" -v c="${CPU_RULES[agentmon]}" -v d="${CPU_RULES[prometheus]}" \
        'BEGIN { printf "agentmon/Prometheus: rules CPU %s, total CPU %s, eval sum %s\n",
                 (b > 0 ? sprintf("%.2f", a / b) : "n/a"), (d > 0 ? sprintf("%.2f", c / d) : "n/a"),
                 (y > 0 ? sprintf("%.2f", x / y) : "n/a") }'
    echo "rules whose firing/pending counts differ: $DIFFERING"
    if [[ "${FIRING[agentmon]}" != "${FIRING[prometheus]}" ]]; then
        echo "note: firing alerts differ: agentmon ${FIRING[agentmon]}, Prometheus ${FIRING[prometheus]}" >&2
    fi
fi
if awk -v a="${RULE_CPU[agentmon]}" 'BEGIN { exit !(a >= 20) }'; then
    echo "agentmon: rule evaluation uses ${RULE_CPU[agentmon]}% of one core, over the 20% target" >&2
fi
expected=$((ALERT_RULES * MEASURE / 15))
if [[ "${EVALS[agentmon]}" -lt $((expected * 9 / 10)) ]]; then
    echo "agentmon: ${EVALS[agentmon]} rule evaluations in ${MEASURE}s, expected about $expected" >&2
    status=1
fi

{
    printf '{\n  "rules": %d, "groups": %d, "instances": %d, "measure_seconds": %d,\n' \
        "$ALERT_RULES" "$RULE_GROUPS" "$INSTANCES" "$MEASURE"
    printf '  "loadavg_baseline": %s, "loadavg_rules": %s,\n  "servers": {' "$LOAD_BASE" "$LOAD_RULES"
    sep=""
    for name in "${SERVERS[@]}"; do
        printf '%s\n    "%s": {"cpu_percent_ingest": %s, "cpu_percent_with_rules": %s, "cpu_percent_rules": %s,' \
            "$sep" "$name" "${CPU_BASE[$name]}" "${CPU_RULES[$name]}" "${RULE_CPU[$name]}"
        printf ' "eval_seconds_sum_of_groups_mean": %s, "eval_seconds_largest_group": %s,' \
            "${EVAL_SUM[$name]}" "${EVAL_MAX[$name]}"
        printf ' "rule_evaluations": %s, "alerts_firing": %s, "alerts_pending": %s, "peak_rss_mb": %s}' \
            "${EVALS[$name]}" "${FIRING[$name]}" "${PENDING[$name]}" "${RSS[$name]}"
        sep=","
    done
    printf '\n  },\n  "rules_with_differing_alert_counts": %s\n}\n' "$DIFFERING"
} >"$RESULTS"
log "results written to $RESULTS"
exit "$status"
