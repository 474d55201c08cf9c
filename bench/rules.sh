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
# the rule evaluations per 15 s (…_rule_evaluations_total), the missed
# group iterations (…_rule_group_iterations_missed_total), and the rule
# CPU per 1,000 rule evaluations (comparable even when a server falls
# behind and skips iterations). Sanity check:
# both servers' /api/v1/alerts are read at the end and the firing and
# pending alerts reported (these lag on a server that misses iterations,
# and alerts near a threshold differ because the servers evaluate at
# different instants); then the rules are unloaded, the feed stopped, and
# bench/compare_alerts.py runs every rule's expression as an instant query
# at one time on both servers and compares the number of alerts per rule.
# Target (issue 5): rule cost < 20% of one core for agentmon (reported,
# not an error). Exit status 1 when agentmon misses iterations or
# evaluations, or when any rule gives a different number of alerts on the
# two servers at that instant.
#
# Usage: bench/rules.sh
# Environment:
#   ALERT_RULES=1000 RULE_GROUPS=10 INSTANCES=200 BACKFILL=40 (steps)
#   BASE_WARMUP=30 WARMUP=45 MEASURE=60 (s; 60 s = 4 evaluations)
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   AGENTMON=PATH       another agentmon binary (implies nothing about SKIP_BUILD)
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
AGENTMON=${AGENTMON:-$REPO/target/release/agentmon}
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
    --duration "${total}s" --ready-file "$WORK/fed" --progress-file "$WORK/fed-until" \
    >"$WORK/feed.log" 2>&1 &
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

# From a server's /metrics: the sum and the max over rule groups of the
# last evaluation's duration, the rule evaluations and the missed group
# iterations so far. Prints "SUM MAX EVALS MISSED".
group_metrics() {
    local prefix=$1 url=$2
    curl -fsS "$url/metrics" | awk -v g="${prefix}_rule_group_last_duration_seconds" \
        -v e="${prefix}_rule_evaluations_total" -v m="${prefix}_rule_group_iterations_missed_total" '
        index($0, g "{") == 1 { s += $NF; if ($NF > x) x = $NF }
        index($0, e "{") == 1 || $1 == e { n += $NF }
        index($0, m "{") == 1 || $1 == m { k += $NF }
        END { printf "%.6f %.6f %d %d\n", s, x, n, k }'
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
declare -A EVALS0 MISSED0 MISSED EVAL_CPU
for name in "${SERVERS[@]}"; do
    read -r _ _ EVALS0[$name] MISSED0[$name] < <(group_metrics "$(prefix_of "$name")" "${URL[$name]}")
done
evals_t0=$(date +%s.%N)
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
    read -r _ _ evals1 missed1 < <(group_metrics "$(prefix_of "$name")" "${URL[$name]}")
    # Evaluations per 15 s over the time between the two readings.
    EVALS[$name]=$(awk -v n=$((evals1 - EVALS0[$name])) -v t0="$evals_t0" -v t1="$(date +%s.%N)" \
        'BEGIN { printf "%.0f", n * 15 / (t1 - t0) }')
    MISSED[$name]=$((missed1 - MISSED0[$name]))
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
# Sanity at one instant: the rules saved, then unloaded from both servers
# (no more evaluations), the feed stopped, and every rule's expression
# queried on both at the time of the last step both acknowledged plus 1 s.
SANITY='{}'
if [[ -n "${PID[prometheus]:-}" ]]; then
    curl -fsS "${URL[agentmon]}/api/v1/rules?type=alert" >"$WORK/rules.json"
    rm -f "$WORK/rules/bench.yml"
    for name in "${SERVERS[@]}"; do
        curl -fsS -X POST "${URL[$name]}/-/reload" >/dev/null || log "$name: reload without rules failed"
    done
    kill -TERM "$FEED_PID" 2>/dev/null || true
    wait "$FEED_PID" 2>/dev/null || true
    FEED_PID=""
    # The last step both servers acknowledged, plus 1 s (its jitter is
    # under 40 ms); a step cut short by the stop lies after it.
    at=$(( $(<"$WORK/fed-until") / 1000 + 1 ))
    log "sanity: querying every rule's expression on both servers at $at"
    SANITY=$(python3 "$REPO/bench/compare_alerts.py" "${URL[agentmon]}" "${URL[prometheus]}" \
        "$WORK/rules.json" "$at") || log "sanity: some queries failed"
    [[ -n "$SANITY" ]] || SANITY='{}'
fi
stop_all

echo
echo "$ALERT_RULES alerting rules in $RULE_GROUPS groups every 15s over $INSTANCES instances × 180 series (live remote write)"
echo "CPU as % of one core over ${MEASURE}s; load average ${LOAD_BASE} (baseline), ${LOAD_RULES} (rules)"
printf '%-11s %7s %7s %7s %11s %11s %9s %7s %8s %7s %7s %7s\n' server ingest% total% "rules%" \
    "eval sum s" "eval max s" "evals/15s" missed "CPU ms/1k" firing pending "RSS MB"
declare -A RULE_CPU
for name in "${SERVERS[@]}"; do
    RULE_CPU[$name]=$(awk -v a="${CPU_RULES[$name]}" -v b="${CPU_BASE[$name]}" 'BEGIN { printf "%.2f", a - b }')
    # CPU milliseconds per 1,000 rule evaluations: comparable even when a
    # server falls behind and skips iterations.
    EVAL_CPU[$name]=$(awk -v c="${RULE_CPU[$name]}" -v n="${EVALS[$name]}" \
        'BEGIN { printf "%.1f", (n > 0 ? c / 100 * 15 * 1000 / (n / 1000) : 0) }')
    printf '%-11s %7s %7s %7s %11.2f %11.2f %9s %7s %8s %7s %7s %7s\n' "$name" "${CPU_BASE[$name]}" \
        "${CPU_RULES[$name]}" "${RULE_CPU[$name]}" "${EVAL_SUM[$name]}" "${EVAL_MAX[$name]}" \
        "${EVALS[$name]}" "${MISSED[$name]}" "${EVAL_CPU[$name]}" "${FIRING[$name]}" "${PENDING[$name]}" "${RSS[$name]}"
done
status=0
if [[ -n "${CPU_RULES[prometheus]:-}" ]]; then
    awk -v a="${RULE_CPU[agentmon]}" -v b="${RULE_CPU[prometheus]}" -v x="${EVAL_SUM[agentmon]}" \
        -v y="${EVAL_SUM[prometheus]}" -v c="${CPU_RULES[agentmon]}" -v d="${CPU_RULES[prometheus]}" \
        -v p="${EVAL_CPU[agentmon]}" -v q="${EVAL_CPU[prometheus]}" \
        'BEGIN { printf "agentmon/Prometheus: rules CPU %s, total CPU %s, eval sum %s, CPU per evaluation %s\n",
                 (b > 0 ? sprintf("%.2f", a / b) : "n/a"), (d > 0 ? sprintf("%.2f", c / d) : "n/a"),
                 (y > 0 ? sprintf("%.2f", x / y) : "n/a"), (q > 0 ? sprintf("%.2f", p / q) : "n/a") }'
    echo "(firing/pending: the servers' own states at the end; a server that misses iterations lags)"
    python3 -c '
import json, sys
r = json.loads(sys.argv[1])
if r:
    print("sanity at one instant: %d/%d rules give the same number of alerts (agentmon %d, Prometheus %d)"
          % (r["agreeing"], r["rules"], r["alerts"]["agentmon"], r["alerts"]["prometheus"]))
    for d in r["differing"][:5]:
        print("  differs: %s agentmon %s Prometheus %s: %s" % (d["rule"], d["agentmon"], d["prometheus"], d["expr"]))' "$SANITY"
fi
if awk -v a="${RULE_CPU[agentmon]}" 'BEGIN { exit !(a >= 20) }'; then
    echo "agentmon: rule evaluation uses ${RULE_CPU[agentmon]}% of one core, over the 20% target" >&2
fi
if python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if not r or r["agreeing"] == r["rules"] else 1)' "$SANITY"; then
    :
else
    echo "sanity: some rules give a different number of alerts on agentmon and Prometheus" >&2
    status=1
fi
if [[ "${EVALS[agentmon]}" -lt $((ALERT_RULES * 9 / 10)) || "${MISSED[agentmon]}" != 0 ]]; then
    echo "agentmon: ${EVALS[agentmon]} rule evaluations per 15 s (expected $ALERT_RULES), ${MISSED[agentmon]} iterations missed" >&2
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
        printf ' "rule_evaluations_per_15s": %s, "iterations_missed": %s, "rules_cpu_ms_per_1000_evaluations": %s,' \
            "${EVALS[$name]}" "${MISSED[$name]}" "${EVAL_CPU[$name]}"
        printf ' "alerts_firing": %s, "alerts_pending": %s, "peak_rss_mb": %s}' \
            "${FIRING[$name]}" "${PENDING[$name]}" "${RSS[$name]}"
        sep=","
    done
    printf '\n  },\n  "sanity_at_one_instant": %s\n}\n' "$SANITY"
} >"$RESULTS"
log "results written to $RESULTS"
exit "$status"
