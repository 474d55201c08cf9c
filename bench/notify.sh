#!/usr/bin/env bash
# Notification latency benchmark: agentmon and Alertmanager, one after the
# other on loopback, with the same routing configuration (one webhook
# receiver, group_by [alertname, bench_group], group_wait GROUP_WAIT,
# group_interval 5m, repeat_interval 4h).
#
# bench/notify_latency.py serves the webhook and posts ALERT_GROUPS alerts, each
# starting its own group, to POST /api/v2/alerts at RATE groups per second;
# for every group, latency = arrival of its webhook request − (the time its
# alert was posted + group_wait), i.e. how late after the end of group_wait
# the receiver hears of the group. The post time is taken before the
# request is sent, so ingestion is included. Reported: p50/p90/p99/max per
# server, groups notified and duplicates, and the ratio agentmon/Alertmanager.
# Target (issue 5): p99 < 100 ms for agentmon (a miss is reported, not an
# error). Exit status 1 when agentmon never notifies some group.
#
# Usage: bench/notify.sh
# Environment:
#   ALERT_GROUPS=500 RATE=50 (groups/s) GROUP_WAIT=1 (s) TIMEOUT=30 (s after the last post)
#   PEERS="agentmon alertmanager"   servers to run, in order
#   SKIP_BUILD=1        use an existing target/release/agentmon
#   AGENTMON=PATH       another agentmon binary (implies nothing about SKIP_BUILD)
#   OUT_DIR=target/bench-results   where the JSON results file goes
#   KEEP_DATA=1         keep the data directories, configs and logs
# Alertmanager is prometheus-alertmanager (Debian) or alertmanager on PATH,
# run without clustering; it is skipped with a message when absent. The
# script only stops processes it started, by PID.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALERT_GROUPS=${ALERT_GROUPS:-500}
RATE=${RATE:-50}
GROUP_WAIT=${GROUP_WAIT:-1}
TIMEOUT=${TIMEOUT:-30}
PEERS=${PEERS:-agentmon alertmanager}
OUT_DIR=${OUT_DIR:-$REPO/target/bench-results}
AGENTMON=${AGENTMON:-$REPO/target/release/agentmon}

BENCH_NAME=notify
# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building agentmon (release)"
    (cd "$REPO" && cargo build --release -p agentmon)
fi
command -v python3 >/dev/null || { echo "python3 is needed for the webhook receiver" >&2; exit 1; }

# The routing both servers get, for a webhook on port $1.
routing() {
    cat <<EOF
route:
  receiver: hook
  group_by: [alertname, bench_group]
  group_wait: ${GROUP_WAIT}s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$1/hook
        send_resolved: false
EOF
}

mkdir -p "$OUT_DIR"
RESULTS="$OUT_DIR/notify-$(date -u +%Y%m%dT%H%M%SZ).json"
declare -A LOAD
RAN=()

# probe NAME: runs the latency probe against the running server.
probe() {
    local name=$1 hook=$2
    LOAD[$name]=$(cut -d' ' -f1 /proc/loadavg)
    log "$name: posting $ALERT_GROUPS groups at $RATE/s, group_wait ${GROUP_WAIT}s (load ${LOAD[$name]})"
    if python3 "$REPO/bench/notify_latency.py" --url "$BASE" --hook-port "$hook" \
        --groups "$ALERT_GROUPS" --rate "$RATE" --group-wait "$GROUP_WAIT" --timeout "$TIMEOUT" \
        >"$WORK/$name-report.json"; then
        RAN+=("$name")
    else
        log "$name: the probe failed (no alert accepted?):"
        head -c 600 "$WORK/$name-report.json" >&2 || true
    fi
    stop_server
}

for peer in $PEERS; do
    hook=$(free_port 19950)
    case "$peer" in
    agentmon)
        { echo "alertmanager:"; routing "$hook" | sed 's/^/  /'; } >"$WORK/agentmon.yml"
        start_server agentmon "$AGENTMON" /health/ready 19900 \
            serve --config "$WORK/agentmon.yml" --data-dir @DATA@ --listen 127.0.0.1:@PORT@ || continue
        probe agentmon "$hook"
        ;;
    alertmanager)
        if ! bin=$(command -v prometheus-alertmanager || command -v alertmanager); then
            log "skipping Alertmanager: neither prometheus-alertmanager nor alertmanager on PATH"
            continue
        fi
        routing "$hook" >"$WORK/alertmanager.yml"
        start_server alertmanager "$bin" /-/ready 19900 --config.file "$WORK/alertmanager.yml" \
            --storage.path @DATA@ --web.listen-address 127.0.0.1:@PORT@ --cluster.listen-address= || continue
        probe alertmanager "$hook"
        ;;
    *) log "unknown peer '$peer' ignored" ;;
    esac
done

[[ ${#RAN[@]} -gt 0 ]] || { echo "no server was measured" >&2; exit 1; }

field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); v=r
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }

echo
echo "notification latency after group_wait ${GROUP_WAIT}s: $ALERT_GROUPS groups at $RATE/s, webhook on loopback"
printf '%-14s %9s %9s %9s %9s %9s %9s %6s %6s\n' server notified p50_ms p90_ms p99_ms max_ms dupl. post99 load
for name in "${RAN[@]}"; do
    r="$WORK/$name-report.json"
    printf '%-14s %9s %9s %9s %9s %9s %9s %6s %6s\n' "$name" \
        "$(field "$r" notified)/$(field "$r" posted)" "$(field "$r" latency_ms.p50)" \
        "$(field "$r" latency_ms.p90)" "$(field "$r" latency_ms.p99)" "$(field "$r" latency_ms.max)" \
        "$(field "$r" duplicates)" "$(field "$r" post_round_trip_ms.p99)" "${LOAD[$name]}"
done
status=0
if [[ -f "$WORK/agentmon-report.json" && -f "$WORK/alertmanager-report.json" ]]; then
    for q in p50 p90 p99 max; do
        printf '%s ' "$q agentmon/alertmanager $(awk -v a="$(field "$WORK/agentmon-report.json" "latency_ms.$q")" \
            -v b="$(field "$WORK/alertmanager-report.json" "latency_ms.$q")" \
            'BEGIN { if (b != 0) printf "%.2f", a / b; else print "n/a" }')"
    done
    echo
fi
if [[ -f "$WORK/agentmon-report.json" ]]; then
    p99=$(field "$WORK/agentmon-report.json" latency_ms.p99)
    missing=$(field "$WORK/agentmon-report.json" missing)
    if [[ "$missing" != 0 ]]; then
        echo "agentmon: $missing groups never notified" >&2
        status=1
    elif awk -v p="$p99" 'BEGIN { exit !(p >= 100) }'; then
        echo "agentmon: p99 ${p99} ms misses the 100 ms target" >&2
    fi
fi

{
    printf '{\n  "groups": %d, "rate": %s, "group_wait_seconds": %s, "servers": {' \
        "$ALERT_GROUPS" "$RATE" "$GROUP_WAIT"
    sep=""
    for name in "${RAN[@]}"; do
        printf '%s\n    "%s": {"loadavg_before": %s, "report": ' "$sep" "$name" "${LOAD[$name]}"
        sed '2,$s/^/      /' "$WORK/$name-report.json"
        printf '}'
        sep=","
    done
    printf '\n  }\n}\n'
} >"$RESULTS"
log "results written to $RESULTS"
exit "$status"
